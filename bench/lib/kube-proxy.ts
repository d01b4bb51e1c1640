// kube-proxy-ts as a user runs it: the real daemon (src/cli/bin.ts) in the proxy-node namespace
// with --proxy-mode=userspace and its embedded control plane; the benchmarked Service and its
// EndpointSlice are created with kubectl, and the bench waits until the ClusterIP answers from
// the client namespace.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../../test/helpers/netns.ts';
import { until, waitForExit } from './process.ts';
import { run } from './wrk.ts';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');

export interface ServicePortSpec {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
}

export interface KubeProxyOptions {
  readonly nodeIP: string;
  readonly clusterIP: string;
  readonly endpointIP: string;
  readonly ports: readonly ServicePortSpec[];
  /** Extra daemon flags (e.g. a worker count). */
  readonly extraArgs?: readonly string[];
  /** Extra node flags before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cpus?: string | undefined;
}

export interface RunningKubeProxy {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly kubeconfig: string;
  log(): string;
  stop(): Promise<number | null>;
}

function manifests(o: KubeProxyOptions): string {
  const ports = o.ports.map((p) => `{name: ${p.name}, port: ${p.port}, targetPort: ${p.targetPort}, protocol: TCP}`).join(', ');
  const slicePorts = o.ports.map((p) => `{name: ${p.name}, port: ${p.targetPort}, protocol: TCP}`).join(', ');
  return [
    'apiVersion: v1', 'kind: Service', 'metadata: {name: bench, namespace: default}',
    `spec: {clusterIP: ${o.clusterIP}, ports: [${ports}]}`, '---',
    'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice',
    'metadata: {name: bench-1, namespace: default, labels: {kubernetes.io/service-name: bench}}',
    'addressType: IPv4', `ports: [${slicePorts}]`,
    `endpoints: [{addresses: [${o.endpointIP}], conditions: {ready: true}, nodeName: bench-node}]`, '',
  ].join('\n');
}

/** Wait until the ClusterIP's first port answers from the client namespace. */
async function untilServing(client: Netns, o: KubeProxyOptions, alive: () => void): Promise<void> {
  const first = o.ports[0];
  if (first === undefined) return;
  await until('the ClusterIP to answer from the client', async () => {
    alive();
    try {
      await run(client, 'curl', ['-sS', '--fail', '-o', '/dev/null', '--max-time', '2', `http://${o.clusterIP}:${first.port}/`]);
      return true;
    } catch {
      return undefined;
    }
  });
}

/** The bare dataplane (bench/lib/userspace-runner.ts) instead of the daemon. */
export async function startUserspaceRunner(proxy: Netns, client: Netns, o: KubeProxyOptions & { readonly threads: number }): Promise<RunningKubeProxy> {
  const runner = join(import.meta.dirname, 'userspace-runner.ts');
  const json = JSON.stringify({ nodeIP: o.nodeIP, clusterIP: o.clusterIP, endpointIP: o.endpointIP, ports: o.ports, threads: o.threads });
  const args = [...(o.nodeArgs ?? []), runner, json];
  const child = o.cpus === undefined ? proxy.spawn(process.execPath, args) : proxy.spawn('taskset', ['-c', o.cpus, process.execPath, ...args]);
  let log = '';
  const keep = (b: Buffer): void => { log = (log + b.toString()).slice(-64 * 1024); };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the userspace runner did not start');
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child, 15_000);
    return child.exitCode;
  };
  try {
    const alive = (): void => { if (child.exitCode !== null) throw new Error(`the userspace runner exited (${String(child.exitCode)}): ${log}`); };
    await until('the userspace runner', () => { alive(); return log.includes('ready') ? true : undefined; });
    await untilServing(client, o, alive);
    return { child, pid, kubeconfig: '', log: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startKubeProxy(proxy: Netns, client: Netns, o: KubeProxyOptions): Promise<RunningKubeProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'kpt-bench-kp-'));
  const data = join(dir, 'state');
  const args = [...(o.nodeArgs ?? []), BIN, '--proxy-mode', 'userspace', '--control-plane-data-dir', data,
    '--control-plane-listen', '127.0.0.1:16443', '--hostname-override', 'bench-node', '--bind-address', o.nodeIP,
    '--logging-format', 'json', '--iptables-min-sync-period', '0s', ...(o.extraArgs ?? [])];
  const argv = o.cpus === undefined ? [process.execPath, ...args] : ['taskset', '-c', o.cpus, process.execPath, ...args];
  const [cmd = process.execPath, ...rest] = argv;
  const child = proxy.spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  let log = '';
  const keep = (b: Buffer): void => { log = (log + b.toString()).slice(-64 * 1024); };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('kube-proxy-ts did not start');
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child, 15_000);
    rmSync(dir, { recursive: true, force: true });
    return child.exitCode;
  };
  try {
    const alive = (): void => { if (child.exitCode !== null) throw new Error(`kube-proxy-ts exited (${String(child.exitCode)}): ${log}`); };
    const kubeconfig = join(data, 'kubeconfig');
    await until('the embedded control plane\'s kubeconfig', () => { alive(); return existsSync(kubeconfig) ? true : undefined; });
    await until('kube-proxy-ts healthz', () => {
      alive();
      return proxy.tryExec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/healthz']).stdout === '200' ? true : undefined;
    });
    proxy.exec('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], manifests(o));
    await untilServing(client, o, alive);
    return { child, pid, kubeconfig, log: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
