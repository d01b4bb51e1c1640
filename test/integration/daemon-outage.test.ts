// The real daemon (src/cli/bin.ts) and the real control plane as separate processes in a network
// namespace: while the API server is gone (kill -9) the daemon keeps the rules it programmed and
// stays healthy; the state is changed behind its back (the control plane run on another port on
// the same data dir); once the API server is back on its address the kernel rules reflect the
// changes within 2 s.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.ts';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');
const API = '127.0.0.1:16443';
const OTHER = '127.0.0.1:16444';
const HEALTHZ = 'http://127.0.0.1:10256/healthz';

interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

function start(ns: Netns, args: readonly string[]): Proc {
  const child = ns.spawn(process.execPath, [BIN, ...args]);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code); }); });
  return { child, exited, output: () => out };
}

/** Whether the listed table DNATs to ip:8080: in a service chain, or as a backends-map element. */
const routesTo = (listing: string, ip: string): boolean => listing.includes(`dnat to ${ip}:8080`) || listing.includes(`: ${ip} . 8080`);

async function until<T>(what: string, fn: () => T | undefined, timeoutMs: number, intervalMs = 25): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts the control plane on `listen`; resolves once it is serving, with that instant. */
async function startControlPlane(ns: Netns, dataDir: string, listen: string, kubeconfigOut?: string): Promise<{ proc: Proc; servingAt: number }> {
  const proc = start(ns, ['control-plane', '--listen', listen, '--data-dir', dataDir, ...(kubeconfigOut === undefined ? [] : ['--kubeconfig-out', kubeconfigOut])]);
  // The line is printed right after listen(): the earliest moment a client can get an answer.
  await until(`control plane serving at ${listen}`, () => (proc.output().includes('control plane serving at') ? true : undefined), 20_000, 10);
  return { proc, servingAt: performance.now() };
}

async function kill9(p: Proc): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

function doc(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`;
}

const service = (name: string, ip: string): string => doc([
  'apiVersion: v1', 'kind: Service', `metadata: {name: ${name}, namespace: default}`,
  `spec: {clusterIP: ${ip}, ports: [{name: http, port: 80, targetPort: 8080}]}`,
]);

const slice = (svc: string, ips: readonly string[]): string => doc([
  'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice',
  `metadata: {name: ${svc}-1, namespace: default, labels: {kubernetes.io/service-name: ${svc}}}`,
  'addressType: IPv4', 'ports: [{name: http, port: 8080, protocol: TCP}]',
  `endpoints: [${ips.map((ip) => `{addresses: [${ip}], conditions: {ready: true}, nodeName: node-a}`).join(', ')}]`,
]);

const NODE = doc(['apiVersion: v1', 'kind: Node', 'metadata: {name: node-a}', 'status: {addresses: [{type: InternalIP, address: 127.0.0.1}]}']);

describe('daemon while the API server is away', { skip: !canUseNetns() && 'needs root for network namespaces' }, () => {
  it('keeps the programmed rules and stays healthy while the API is down, converges within 2 s of its return', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-int-daemon-'));
    try {
      await withNetns('int-daemon', async (ns) => {
        const data = join(dir, 'cp');
        const kubectl = (kubeconfig: string, args: readonly string[], input?: string): string =>
          ns.exec('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'kubectl-cache'), ...args], input);
        const table = (): string => ns.tryExec('nft', ['list', 'table', 'ip', 'kube-proxy']).stdout;
        const healthz = (): number => Number(ns.tryExec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', HEALTHZ]).stdout);

        let cp = await startControlPlane(ns, data, API);
        const procs: Proc[] = [cp.proc];
        let daemon: Proc | undefined;
        try {
          const kubeconfig = join(dir, 'daemon.kubeconfig');
          copyFileSync(join(data, 'kubeconfig'), kubeconfig);
          kubectl(kubeconfig, ['apply', '-f', '-'], NODE);
          daemon = start(ns, ['--kubeconfig', kubeconfig, '--hostname-override', 'node-a', '--iptables-min-sync-period', '0s',
            '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '127.0.0.1:10249', '--logging-format', 'json']);
          procs.push(daemon);
          kubectl(kubeconfig, ['apply', '-f', '-'], service('web', '10.96.0.80') + '---\n' + slice('web', ['10.244.0.5']) + '---\n'
            + service('old', '10.96.0.82') + '---\n' + slice('old', ['10.244.0.9']));
          await until('web and old in the kernel', () => {
            const t = table();
            return t.includes('10.96.0.80 . tcp . 80') && t.includes('10.96.0.82 . tcp . 80') && routesTo(t, '10.244.0.5') ? true : undefined;
          }, 20_000);
          await until('healthz 200', () => (healthz() === 200 ? true : undefined), 10_000);
          const programmed = table();

          // The API server dies.
          await kill9(cp.proc);
          const outage = async (ms: number): Promise<number> => {
            const end = performance.now() + ms;
            let checks = 0;
            while (performance.now() < end) {
              assert.equal(daemon?.child.exitCode, null, `the daemon is running\n${daemon?.output() ?? ''}`);
              assert.equal(table(), programmed, 'the programmed rules are untouched');
              assert.equal(healthz(), 200, '/healthz stays 200: nothing is queued, nothing is stale');
              checks++;
              await new Promise((r) => setTimeout(r, 200));
            }
            return checks;
          };
          assert.ok(await outage(3000) >= 5);

          // Meanwhile the state changes: the control plane runs on another port (the daemon cannot
          // see it) on the same data dir, kubectl edits, and it dies again.
          const other = await startControlPlane(ns, data, OTHER, join(dir, 'other.kubeconfig'));
          procs.push(other.proc);
          const otherKc = join(dir, 'other.kubeconfig');
          kubectl(otherKc, ['apply', '-f', '-'], slice('web', ['10.244.0.6', '10.244.0.7']) + '---\n' + service('new', '10.96.0.81') + '---\n' + slice('new', ['10.244.0.8']));
          kubectl(otherKc, ['delete', 'service', 'old']);
          kubectl(otherKc, ['delete', 'endpointslice', 'old-1']);
          await kill9(other.proc);
          await outage(500);

          // Back on its address.
          cp = await startControlPlane(ns, data, API);
          procs.push(cp.proc);
          const reflects = (t: string): boolean => t.includes('10.96.0.81 . tcp . 80') && !t.includes('10.96.0.82 . tcp . 80')
            && routesTo(t, '10.244.0.6') && routesTo(t, '10.244.0.7') && !routesTo(t, '10.244.0.5');
          await until('the rules to reflect the changes', () => (reflects(table()) ? true : undefined), 10_000, 10);
          const convergedMs = performance.now() - cp.servingAt;

          // A live change once reconnected: API write to kernel.
          const writeAt = performance.now();
          kubectl(kubeconfig, ['apply', '-f', '-'], slice('new', ['10.244.0.10']));
          await until('the live change in the kernel', () => (routesTo(table(), '10.244.0.10') ? true : undefined), 10_000, 10);
          const liveMs = performance.now() - writeAt;
          t.diagnostic(`converged ${Math.round(convergedMs)} ms after the API server was serving again; live change (kubectl apply -> kernel) ${Math.round(liveMs)} ms`);
          assert.ok(convergedMs <= 2000, `converged ${Math.round(convergedMs)} ms after the API came back\n${daemon.output().slice(-4000)}`);
          assert.equal(healthz(), 200);

          daemon.child.kill('SIGTERM');
          assert.equal(await daemon.exited, 0, daemon.output().slice(-4000));
          assert.ok(reflects(table()), 'rules stay after the daemon exits');
        } finally {
          for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
          await Promise.all(procs.map((p) => p.exited));
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
