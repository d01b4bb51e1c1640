import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane } from '../../src/controlplane/index.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { Client, meta, removeDir, spec, tempDir } from './helpers.ts';

const SERVICE = (port: number): string => `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team
spec:
  selector: {app: web}
  ports: [{name: http, port: ${String(port)}, targetPort: 8080}]
`;

const MANY = `# several documents, the namespace after its contents on purpose
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: team
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: [10.244.0.5]
    conditions: {ready: true}
    nodeName: node-1
---
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {topology.kubernetes.io/zone: z1}
spec:
  podCIDR: 10.244.0.0/24
status:
  addresses: [{type: InternalIP, address: 192.0.2.10}]
`;

const BAD = `apiVersion: v1
kind: Service
metadata:
  name: broken
spec:
  ports: [{port: 99999, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: nope
---
: not: [valid yaml
`;

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('manifests directory', () => {
  it('applies, re-applies on change and reports bad documents without stopping', async () => {
    const dir = await tempDir('manifests');
    const mdir = join(dir, 'manifests');
    await mkdir(mdir);
    await writeFile(join(mdir, 'a-service.yaml'), SERVICE(80));
    await writeFile(join(mdir, 'b-many.yml'), MANY);
    await writeFile(join(mdir, 'c-bad.yaml'), BAD);
    await writeFile(join(mdir, 'README.txt'), 'ignored');
    const { logger, records } = memoryLogger(0);
    const cp = await startControlPlane({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger, manifestsDir: mdir, manifestRescanMs: 60_000 });
    const client = new Client(cp);
    try {
      const web = (await client.get('/api/v1/namespaces/team/services/web')).json();
      assert.deepEqual(spec(web)['ports'], [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }]);
      const ip = spec(web)['clusterIP'];
      assert.ok((meta(web)['annotations'] as Record<string, string>)['kubectl.kubernetes.io/last-applied-configuration']);
      assert.equal((await client.get('/apis/discovery.k8s.io/v1/namespaces/team/endpointslices/web-1')).status, 200);
      const node = (await client.get('/api/v1/nodes/node-1')).json();
      assert.deepEqual((node['status'] as Record<string, unknown>)['addresses'], [{ type: 'InternalIP', address: '192.0.2.10' }]);

      const errors = records.filter((r) => r['level'] === 50);
      const byMsg = (s: string): Record<string, unknown> | undefined => errors.find((r) => String(r['msg']).includes(s));
      const invalid = byMsg('spec.ports[0].port: Invalid value: 99999');
      assert.ok(invalid, JSON.stringify(errors));
      assert.equal(invalid['file'], join(mdir, 'c-bad.yaml'));
      assert.equal(invalid['document'], 0);
      assert.deepEqual(invalid['fields'], ['spec.ports[0].port']);
      const unsupported = byMsg('unsupported kind "ConfigMap"');
      assert.equal(unsupported?.['document'], 1);
      assert.ok(byMsg('YAML error'));

      // Rescans do not log the same problem again, and do not rewrite unchanged objects.
      const rv = cp.resourceVersion();
      const count = errors.length;
      await cp.rescanManifests();
      assert.equal(cp.resourceVersion(), rv);
      assert.equal(records.filter((r) => r['level'] === 50).length, count);

      // A change on disk is picked up (fs.watch), keeping the allocated ClusterIP.
      await writeFile(join(mdir, 'a-service.yaml'), SERVICE(8000));
      await until(async () => {
        const s = (await client.get('/api/v1/namespaces/team/services/web')).json();
        return (spec(s)['ports'] as { port: number }[] | undefined)?.[0]?.port === 8000;
      });
      assert.equal(spec((await client.get('/api/v1/namespaces/team/services/web')).json())['clusterIP'], ip);

      // An object deleted by hand comes back on the next scan.
      await client.delete('/apis/discovery.k8s.io/v1/namespaces/team/endpointslices/web-1');
      await cp.rescanManifests();
      assert.equal((await client.get('/apis/discovery.k8s.io/v1/namespaces/team/endpointslices/web-1')).status, 200);

      // Fixing the bad file applies it.
      await rm(join(mdir, 'c-bad.yaml'));
      await writeFile(join(mdir, 'c-fixed.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: fixed}\nspec: {ports: [{port: 9999}]}\n');
      await cp.rescanManifests();
      assert.equal((await client.get('/api/v1/namespaces/default/services/fixed')).status, 200);
    } finally {
      client.close();
      await cp.close();
      await removeDir(dir);
    }
  });
});
