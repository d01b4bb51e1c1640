// The real kubectl (v1.32, on PATH) against the control plane, with no extra flags.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kubectl, spec, startTestPlane, type TestPlane } from './helpers.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

const service = (targetPort: number, extraLabel = ''): string => `apiVersion: v1
kind: Service
metadata:
  name: my-service
  labels:
    app: demo${extraLabel ? `\n    extra: ${extraLabel}` : ''}
spec:
  selector:
    app.kubernetes.io/name: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: ${String(targetPort)}
`;

describe('kubectl', () => {
  let t: TestPlane;
  let home: string;
  const k = (args: readonly string[], env: Record<string, string> = {}): ReturnType<typeof kubectl> => kubectl(t.cp, home, args, env);

  before(async () => {
    t = await startTestPlane();
    home = join(t.dir, 'home');
  });
  after(async () => { await t.stop(); });

  it('apply creates, re-apply with a change configures, get -o yaml shows the defaulted object', async () => {
    const file = join(t.dir, 'svc.yaml');
    await writeFile(file, service(9376));
    const created = await k(['apply', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'service/my-service created');
    const same = await k(['apply', '-f', file]);
    assert.equal(same.stdout.trim(), 'service/my-service unchanged');
    await writeFile(file, service(9377, 'two'));
    const configured = await k(['apply', '-f', file]);
    assert.equal(configured.code, 0, configured.stderr);
    assert.equal(configured.stdout.trim(), 'service/my-service configured');
    const y = await k(['get', 'service', 'my-service', '-o', 'yaml']);
    assert.equal(y.code, 0, y.stderr);
    const obj = parse(y.stdout) as Record<string, unknown>;
    const s = spec(obj);
    assert.deepEqual(s['ports'], [{ port: 80, protocol: 'TCP', targetPort: 9377 }]);
    assert.match(String(s['clusterIP']), /^10\.(9[6-9]|1[01]\d)\./);
    assert.equal(s['type'], 'ClusterIP');
    assert.equal(s['sessionAffinity'], 'None');
    const m = obj['metadata'] as Record<string, unknown>;
    assert.deepEqual(m['labels'], { app: 'demo', extra: 'two' });
    assert.equal(m['generation'], 2);
    const table = await k(['get', 'services']);
    assert.match(table.stdout, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\n/);
    assert.match(table.stdout, /my-service\s+ClusterIP\s+10\.\S+\s+<none>\s+80\/TCP\s+\d+s/);
    const wide = await k(['get', 'svc', '-o', 'wide']);
    assert.match(wide.stdout, /SELECTOR[\s\S]*app\.kubernetes\.io\/name=MyApp/);
  });

  it('get -w prints ADDED then MODIFIED as things change', async () => {
    const child = spawn('kubectl', ['--kubeconfig', t.cp.kubeconfigPath, 'get', 'service', 'my-service', '-w', '--output-watch-events'], { env: { PATH: process.env['PATH'] ?? '', HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => { out += c; });
    const waitFor = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`kubectl get -w output: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(/ADDED\s+my-service/);
      const labeled = await k(['label', 'service', 'my-service', 'watched=true']);
      assert.equal(labeled.code, 0, labeled.stderr);
      await waitFor(/MODIFIED\s+my-service/);
      const lines = out.trim().split('\n');
      assert.match(lines[0] ?? '', /^EVENT\s+NAME\s+TYPE\s+CLUSTER-IP/);
      assert.match(lines[1] ?? '', /^ADDED\s+my-service\s+ClusterIP/);
      assert.match(lines[2] ?? '', /^MODIFIED\s+my-service\s+ClusterIP/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('patch: strategic (default), merge and json', async () => {
    const smp = await k(['patch', 'service', 'my-service', '-p', '{"spec":{"ports":[{"port":80,"targetPort":8080}]}}']);
    assert.equal(smp.code, 0, smp.stderr);
    assert.equal(smp.stdout.trim(), 'service/my-service patched');
    const merge = await k(['patch', 'service', 'my-service', '--type', 'merge', '-p', '{"spec":{"sessionAffinity":"ClientIP"}}']);
    assert.equal(merge.code, 0, merge.stderr);
    const json = await k(['patch', 'service', 'my-service', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/ports/0/targetPort","value":8081}]']);
    assert.equal(json.code, 0, json.stderr);
    const noop = await k(['patch', 'service', 'my-service', '--type', 'merge', '-p', '{"spec":{"sessionAffinity":"ClientIP"}}']);
    assert.equal(noop.stdout.trim(), 'service/my-service patched (no change)');
    const got = (await t.client.get('/api/v1/namespaces/default/services/my-service')).json();
    assert.deepEqual(spec(got)['ports'], [{ port: 80, protocol: 'TCP', targetPort: 8081 }]);
    assert.deepEqual(spec(got)['sessionAffinityConfig'], { clientIP: { timeoutSeconds: 10800 } });
  });

  it('edit with EDITOR set to a script', async () => {
    const editor = join(t.dir, 'editor.sh');
    await writeFile(editor, '#!/bin/sh\nsed -i "s/targetPort: 8081/targetPort: 9999/" "$1"\n');
    await chmod(editor, 0o755);
    const r = await k(['edit', 'service', 'my-service'], { EDITOR: editor });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'service/my-service edited');
    const got = (await t.client.get('/api/v1/namespaces/default/services/my-service')).json();
    assert.deepEqual(spec(got)['ports'], [{ port: 80, protocol: 'TCP', targetPort: 9999 }]);
  });

  it('shows a useful error for an invalid Service, naming the field', async () => {
    const file = join(t.dir, 'bad.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n    - port: 0\n      targetPort: 80\n');
    const r = await k(['apply', '-f', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The Service "bad" is invalid: spec\.ports\[0\]\.port: Invalid value: 0: must be between 1 and 65535, inclusive/);
    await writeFile(file, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n    - port: 80\n      protocl: TCP\n');
    const typo = await k(['apply', '-f', file]);
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /strict decoding error: unknown field "spec\.ports\[0\]\.protocl"/);
  });

  it('delete', async () => {
    const r = await k(['delete', 'service', 'my-service']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'service "my-service" deleted');
    const g = await k(['get', 'service', 'my-service']);
    assert.notEqual(g.code, 0);
    assert.match(g.stderr, /services "my-service" not found/);
  });

  it('applies the examples cleanly and prints them', async () => {
    for (const f of ['my-service.yaml', 'selectorless-service.yaml']) {
      const r = await k(['apply', '-f', join(EXAMPLES, f)]);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /service\/\S+ created\nendpointslice\.discovery\.k8s\.io\/\S+ created/);
      assert.equal(r.stderr, '');
      const again = await k(['apply', '-f', join(EXAMPLES, f)]);
      assert.match(again.stdout, /unchanged\n.*unchanged/);
    }
    const es = await k(['get', 'endpointslices']);
    assert.match(es.stdout, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/);
    assert.match(es.stdout, /my-backend-1\s+IPv4\s+8080,9090\s+10\.244\.0\.10,10\.244\.1\.11,10\.244\.2\.12/);
    assert.match(es.stdout, /my-service-abc12\s+IPv4\s+9376\s+10\.244\.1\.5,10\.244\.2\.7/);
    const ns = await k(['get', 'namespaces']);
    assert.match(ns.stdout, /default\s+Active/);
    const byLabel = await k(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=my-backend', '-o', 'name']);
    assert.equal(byLabel.stdout.trim(), 'endpointslice.discovery.k8s.io/my-backend-1');
    const del = await k(['delete', '-f', join(EXAMPLES, 'selectorless-service.yaml')]);
    assert.equal(del.code, 0, del.stderr);
  });

  it('create namespace / service (protobuf request bodies)', async () => {
    const ns = await k(['create', 'namespace', 'proto']);
    assert.equal(ns.code, 0, ns.stderr);
    assert.equal(ns.stdout.trim(), 'namespace/proto created');
    const s = await k(['create', 'service', 'nodeport', 'np', '-n', 'proto', '--tcp=5678:8080']);
    assert.equal(s.code, 0, s.stderr);
    const got = await k(['get', 'service', 'np', '-n', 'proto', '-o', 'jsonpath={.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app}']);
    assert.equal(got.stdout, 'NodePort 5678 8080 np');
  });

  it('reports 401 for a wrong token', async () => {
    const r = await k(['--token', 'nope', 'get', 'services']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized/);
  });
});
