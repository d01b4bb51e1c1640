// The real kube-proxy-ts process, as a user runs it: flags, config errors, --write-config-to,
// and the daemon on the embedded control plane inside a network namespace.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.ts';
import { until } from '../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');

function cli(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kube-proxy-ts command line', () => {
  it('--help lists every flag with its default and exits 0', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--proxy-mode', '--config', '--kubeconfig', '--healthz-bind-address', '--metrics-bind-address', '--cleanup', '--write-config-to']) {
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
    }
    assert.match(r.stdout, /0\.0\.0\.0:10256/);
  });

  it('an invalid mode exits non-zero naming the field and the value', () => {
    const r = cli(['--proxy-mode=bogus']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /mode/);
    assert.match(r.stderr, /bogus/);
  });

  it('an unknown flag exits non-zero naming it', () => {
    const r = cli(['--no-such-flag']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no-such-flag/);
  });

  it('a config file with an unknown field or a bad duration exits non-zero naming them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-cli-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbogusField: 1\nnftables:\n  syncPeriod: 10 parsecs\n');
      const r = cli(['--config', file]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /bogusField/);
      assert.match(r.stderr, /nftables\.syncPeriod/);
      assert.match(r.stderr, /10 parsecs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--write-config-to writes the effective configuration, flags overriding the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-cli-'));
    try {
      const file = join(dir, 'config.yaml');
      const out = join(dir, 'effective.yaml');
      writeFileSync(file, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 10.0.0.0/8\nmetricsBindAddress: 127.0.0.1:9999\n');
      const r = cli(['--config', file, '--metrics-bind-address', '127.0.0.1:10249', '--write-config-to', out]);
      assert.equal(r.status, 0, r.stderr);
      const text = readFileSync(out, 'utf8');
      assert.match(text, /kind: KubeProxyConfiguration/);
      assert.match(text, /clusterCIDR: 10\.0\.0\.0\/8/);
      assert.match(text, /metricsBindAddress: 127\.0\.0\.1:10249/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kube-proxy-ts daemon on the embedded control plane', { skip: !canUseNetns() && 'needs root for network namespaces' }, () => {
  it('serves health and metrics, programs a Service applied with kubectl, and keeps rules on exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-daemon-'));
    try {
      await withNetns('daemon', async (ns: Netns) => {
        const data = join(dir, 'state');
        const proc = ns.spawn(process.execPath, [BIN, '--control-plane-data-dir', data, '--control-plane-listen', '127.0.0.1:16443',
          '--hostname-override', 'node-a', '--logging-format', 'json', '--iptables-min-sync-period', '0s']);
        let log = '';
        proc.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
        const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { resolve(code); }));
        try {
          const kubeconfig = join(data, 'kubeconfig');
          await until('kubeconfig', () => (existsSync(kubeconfig) ? true : undefined));
          const healthz = await until('healthz 200', () => {
            const r = ns.tryExec('curl', ['-s', '-w', '\n%{http_code}', 'http://127.0.0.1:10256/healthz']);
            return r.stdout.endsWith('\n200') ? r.stdout : undefined;
          });
          const body = JSON.parse(healthz.split('\n')[0] ?? '') as { healthy: boolean; nodeEligible: boolean };
          assert.equal(body.healthy, true);
          assert.equal(body.nodeEligible, true, 'our Node is registered in the embedded control plane');
          // bin.ts re-executed itself (same pid) with the young generation capped (memory).
          const cmdline = readFileSync(`/proc/${String(proc.pid)}/cmdline`, 'utf8').split('\0');
          assert.ok(cmdline.includes('--max-semi-space-size=8'), cmdline.join(' '));
          const svc = [
            'apiVersion: v1', 'kind: Service', 'metadata: {name: web, namespace: default}',
            'spec: {clusterIP: 10.96.0.80, ports: [{name: http, port: 80, targetPort: 8080}]}', '---',
            'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice',
            'metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}',
            'addressType: IPv4', 'ports: [{name: http, port: 8080, protocol: TCP}]',
            'endpoints: [{addresses: [10.244.0.5], conditions: {ready: true}, nodeName: node-a}]', '',
          ].join('\n');
          ns.exec('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], svc);
          await until('the service in the kernel', () => {
            const r = ns.tryExec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']);
            return r.stdout.includes('10.96.0.80 . tcp . 80') ? true : undefined;
          });
          const metrics = ns.exec('curl', ['-s', 'http://127.0.0.1:10249/metrics']);
          assert.match(metrics, /kubeproxy_sync_proxy_rules_last_timestamp_seconds\{ip_family="IPv4"\} [1-9]/);
          assert.equal(ns.exec('curl', ['-s', 'http://127.0.0.1:10249/proxyMode']), 'nftables');
          proc.kill('SIGTERM');
          assert.equal(await exited, 0, log);
          const after = ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']);
          assert.ok(after.includes('10.96.0.80 . tcp . 80'), 'rules stay in place after exit (no traffic gap on restart)');
        } finally {
          if (proc.exitCode === null) proc.kill('SIGKILL');
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with the loopback interface down the embedded default cannot work: it says why and exits 1 within seconds (it used to stay up for ever)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-daemon-'));
    try {
      await withNetns('lodown', async (ns: Netns) => {
        ns.exec('ip', ['link', 'set', 'lo', 'down']);
        const proc = ns.spawn(process.execPath, [BIN, '--control-plane-data-dir', join(dir, 'state'), '--control-plane-listen', '127.0.0.1:16443',
          '--hostname-override', 'node-a', '--logging-format', 'json']);
        let log = '';
        proc.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
        proc.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
        try {
          let timer: NodeJS.Timeout | undefined;
          const code = await Promise.race([
            new Promise<number | null>((resolve) => proc.on('exit', (c) => { resolve(c); })),
            new Promise<string>((resolve) => { timer = setTimeout(resolve, 25_000, 'still running'); }),
          ]);
          clearTimeout(timer);
          assert.equal(code, 1, log);
          assert.match(log, /cannot reach the embedded control plane at https:\/\/127\.0\.0\.1:16443 \((ENETUNREACH|ETIMEDOUT)\): is the loopback interface up\?/);
        } finally {
          if (proc.exitCode === null) proc.kill('SIGKILL');
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in userspace mode forwards ClusterIP connections to an endpoint, and --cleanup removes its table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-daemon-'));
    try {
      await withNetns('userspace', async (ns: Netns) => {
        // A "pod" address on a veth (no dummy module here), with a TCP server answering its name.
        ns.exec('ip', ['link', 'add', 'pod0', 'type', 'veth', 'peer', 'name', 'pod0p']);
        ns.exec('ip', ['link', 'set', 'pod0p', 'up']);
        ns.exec('ip', ['addr', 'add', '10.244.0.5/32', 'dev', 'pod0']);
        ns.exec('ip', ['link', 'set', 'pod0', 'up']);
        ns.exec('ip', ['route', 'add', '10.96.0.0/12', 'dev', 'pod0']); // a node routes its service CIDR somewhere
        const backend = ns.spawn(process.execPath, ['-e', "require('net').createServer((s) => s.end('pod-a\\n')).listen(9376, '10.244.0.5')"]);
        const data = join(dir, 'state');
        const proc = ns.spawn(process.execPath, [BIN, '--proxy-mode', 'userspace', '--control-plane-data-dir', data,
          '--control-plane-listen', '127.0.0.1:16443', '--hostname-override', 'node-a', '--iptables-min-sync-period', '0s']);
        let log = '';
        proc.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
        const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { resolve(code); }));
        try {
          const kubeconfig = join(data, 'kubeconfig');
          await until('kubeconfig', () => (existsSync(kubeconfig) ? true : undefined));
          await until('healthz 200', () => (ns.tryExec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/healthz']).stdout === '200' ? true : undefined));
          ns.exec('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', join(import.meta.dirname, '../../examples/my-service.yaml')]);
          const ip = ns.exec('kubectl', ['--kubeconfig', kubeconfig, 'get', 'svc', 'my-service', '-o', 'jsonpath={.spec.clusterIP}']).trim();
          // The example's slice lists 10.244.1.5 and 10.244.2.7; point it at our pod instead.
          ns.exec('kubectl', ['--kubeconfig', kubeconfig, 'patch', 'endpointslice', 'my-service-abc12', '--type', 'json', '-p',
            '[{"op":"replace","path":"/endpoints","value":[{"addresses":["10.244.0.5"],"conditions":{"ready":true},"nodeName":"node-a"}]}]']);
          const reply = await until('a reply through the ClusterIP', () => {
            const r = ns.tryExec(process.execPath, ['-e', `const s=require('net').connect(80,'${ip}');let d='';s.on('data',(b)=>d+=b);s.on('end',()=>{process.stdout.write(d)});s.on('error',()=>process.exit(1))`]);
            return r.status === 0 && r.stdout.includes('pod-a') ? r.stdout : undefined;
          });
          assert.match(reply, /pod-a/);
          const metrics = ns.exec('curl', ['-s', 'http://127.0.0.1:10249/metrics']);
          assert.match(metrics, /kubeproxy_userspace_connections_total\{service="default\/my-service:\/TCP"\} [1-9]/);
          proc.kill('SIGTERM');
          assert.equal(await exited, 0, log);
          assert.match(ns.exec('nft', ['list', 'tables']), /kube-proxy-userspace/);
          const cleanup = ns.spawn(process.execPath, [BIN, '--cleanup']);
          const code = await new Promise<number | null>((resolve) => cleanup.on('exit', resolve));
          assert.equal(code, 0);
          assert.equal(ns.exec('nft', ['list', 'tables']).trim(), '', '--cleanup removed every table');
        } finally {
          if (proc.exitCode === null) proc.kill('SIGKILL');
          backend.kill('SIGKILL');
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
