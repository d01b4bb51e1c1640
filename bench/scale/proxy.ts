// kube-proxy-ts as a user runs it, inside the big node's namespace, and what /proc and its
// metrics endpoint say about it. `ip netns exec` execs the daemon, so the child's pid is the
// daemon's own: /proc/<pid> is the proxy (its nft children show up in cutime/cstime).

import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import type { Agent } from '../../test/lab/agent-client.ts';
import type { LabNetns } from '../../test/lab/netns.ts';
import { parseMetrics } from '../../test/lab/proxy.ts';
import { BIN, CLUSTER_CIDR, NODE_NAME } from './env.ts';

export const METRICS_PORT = 10249;
const HEALTHZ_PORT = 10256;
const CLK_TCK = 100;

export interface ProcSample {
  /** Resident set now and its peak (VmHWM), MiB. */
  readonly rssMiB: number;
  readonly peakMiB: number;
  /** user+system seconds of the process and its reaped children (nft). */
  readonly cpuSeconds: number;
}

export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN');
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  // Fields after the ")" that closes the command name: state is field 3; utime..cstime are 14..17.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((n, i) => n + Number(rest[i] ?? 0), 0);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024, cpuSeconds: ticks / CLK_TCK };
}


export interface ProxyStart {
  readonly ns: LabNetns;
  readonly agent: Agent;
  readonly kubeconfig: string;
  readonly logFile: string;
  readonly minSyncPeriod: string;
  readonly extraArgs?: readonly string[];
}

export class ProxyDaemon {
  readonly #o: ProxyStart;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly #exited: Promise<void>;
  /** Date.now() when spawned. */
  readonly spawnedAt: number;

  private constructor(o: ProxyStart, child: ChildProcess, log: WriteStream, spawnedAt: number) {
    this.#o = o;
    this.#child = child;
    this.#log = log;
    this.spawnedAt = spawnedAt;
    this.#exited = new Promise((r) => { child.once('exit', () => { r(); }); });
  }

  static start(o: ProxyStart): ProxyDaemon {
    const log = createWriteStream(o.logFile, { flags: 'a' });
    // KPT_SCALE_PROXY_NODE_ARGS="--trace-gc …": node options for the proxy only (NODE_OPTIONS
    // refuses some, and would reach every process of the benchmark).
    const nodeArgs = (process.env['KPT_SCALE_PROXY_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
    const args = [
      ...nodeArgs, BIN, '--kubeconfig', o.kubeconfig, '--hostname-override', NODE_NAME, '--proxy-mode', 'nftables',
      '--cluster-cidr', CLUSTER_CIDR, '--iptables-min-sync-period', o.minSyncPeriod,
      '--metrics-bind-address', `127.0.0.1:${String(METRICS_PORT)}`, '--healthz-bind-address', `127.0.0.1:${String(HEALTHZ_PORT)}`,
      '--logging-format', 'json', '-v', '1', ...(o.extraArgs ?? []),
    ];
    const spawnedAt = Date.now();
    const child = o.ns.spawn(process.execPath, args);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    return new ProxyDaemon(o, child, log, spawnedAt);
  }

  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error('kube-proxy-ts has no pid');
    return pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async metrics(): Promise<Map<string, number>> {
    const r = await this.#o.agent.get(`http://127.0.0.1:${String(METRICS_PORT)}/metrics`, 5000);
    if (r.status !== 200) throw new Error(`metrics: HTTP ${String(r.status)}`);
    return parseMetrics(r.body);
  }

  /** Waits until the first sync is done; returns its wall-clock end (seconds since the epoch). */
  async firstSync(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`kube-proxy-ts exited before its first sync; see ${this.#o.logFile}`);
      try {
        const m = await this.metrics();
        const t = m.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}') ?? 0;
        if (t > 0) return t;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`no first sync within ${String(timeoutMs)} ms; see ${this.#o.logFile}`);
      // The sync's time is the daemon's own timestamp, so polling only decides how soon we
      // notice: not often, as each scrape renders every metric (≈ 5 ms of the daemon's CPU, 10 %
      // of a core at 50 ms, taken from the sync being measured).
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.running) process.kill(this.pid, 'SIGTERM');
    await Promise.race([this.#exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (this.running) process.kill(this.pid, 'SIGKILL');
    await this.#exited;
    this.#log.end();
  }
}
