// One kube-proxy-ts daemon inside a node namespace, run exactly as a user runs it
// (`node src/cli/bin.ts --kubeconfig … --hostname-override node-N …`), logs appended to a file.
// start() waits for its first complete sync (its metrics say when).

import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from './agent-client.ts';
import type { LabNetns } from './netns.ts';
import { CLUSTER_CIDRS, HEALTHZ_PORT, METRICS_PORT } from './topology.ts';

const BIN = join(import.meta.dirname, '../../src/cli/bin.ts');

export interface ProxyOptions {
  readonly ns: LabNetns;
  /** The node's agent: fetches metrics and health from inside the namespace. */
  readonly agent: Agent;
  readonly nodeName: string;
  readonly kubeconfig: string;
  readonly logFile: string;
  readonly extraArgs?: readonly string[];
}

/** Prometheus text → samples keyed by `name{labels}` as printed. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastErr });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class ProxyProcess {
  readonly #opts: ProxyOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> | undefined;
  #log: WriteStream;
  /** Times started (restarts included). */
  starts = 0;
  /** Flags added to the defaults; a change applies at the next start. */
  extraArgs: readonly string[];

  constructor(opts: ProxyOptions) {
    this.#opts = opts;
    this.extraArgs = opts.extraArgs ?? [];
    this.#log = createWriteStream(opts.logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  args(): string[] {
    return [
      BIN, '--kubeconfig', this.#opts.kubeconfig, '--hostname-override', this.#opts.nodeName,
      '--cluster-cidr', CLUSTER_CIDRS.join(','), '--iptables-min-sync-period', '0s',
      '--healthz-bind-address', `0.0.0.0:${HEALTHZ_PORT}`, '--metrics-bind-address', `127.0.0.1:${METRICS_PORT}`,
      '--logging-format', 'json', '-v', '2', ...this.extraArgs,
    ];
  }

  /** Starts the daemon and waits for its first complete sync. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`kube-proxy-ts on ${this.#opts.nodeName} is already running`);
    this.starts++;
    this.#log.write(`\n===== start #${this.starts} at ${new Date().toISOString()} =====\n`);
    const child = this.#opts.ns.spawn(process.execPath, this.args());
    this.#child = child;
    child.stdout?.pipe(this.#log, { end: false });
    child.stderr?.pipe(this.#log, { end: false });
    this.#exited = new Promise((resolve) => { child.once('exit', (code, sig) => { resolve(code ?? (sig === null ? null : -1)); }); });
    await until(`kube-proxy-ts on ${this.#opts.nodeName} to sync`, async () => {
      if (child.exitCode !== null) throw new Error(`kube-proxy-ts on ${this.#opts.nodeName} exited with ${child.exitCode}: ${this.logTail(30)}`);
      const m = await this.metrics();
      const v4 = m.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}') ?? 0;
      const v6 = m.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv6"}') ?? 0;
      return v4 > 0 && v6 > 0 ? true : undefined;
    }, 30_000, 50);
  }

  /** Sends `signal` and waits for the exit; returns the exit code (-1 if killed by a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running || child.pid === undefined) return child?.exitCode ?? null;
    process.kill(child.pid, signal);
    const code = await this.#exited;
    this.#log.write(`===== stopped with ${signal}: exit ${String(code)} =====\n`);
    return code ?? null;
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  async metrics(): Promise<Map<string, number>> {
    const r = await this.#opts.agent.get(`http://127.0.0.1:${METRICS_PORT}/metrics`, 2000);
    if (r.status !== 200) throw new Error(`metrics: HTTP ${r.status}`);
    return parseMetrics(r.body);
  }

  async healthz(): Promise<{ status: number; body: string }> {
    return this.#opts.agent.get(`http://127.0.0.1:${HEALTHZ_PORT}/healthz`, 2000);
  }

  logTail(lines = 60): string {
    try {
      const all = readFileSync(this.#opts.logFile, 'utf8').split('\n');
      return all.slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  close(): void {
    this.#log.end();
  }
}
