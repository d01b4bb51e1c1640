// Watches the kernel from outside the proxy: nlwatch.py, inside the node namespace, reads the
// nf_tables notifications the kernel sends when a transaction commits, and reports the first
// new rule or set element carrying an awaited address. A change is "live" then: the kernel has
// committed it. (`nft monitor` would do, but it first lists the whole ruleset into its cache,
// which takes a minute of CPU at 100k rules and loses the changes made meanwhile.)

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LabNetns } from '../../test/lab/netns.ts';

const WATCHER = join(import.meta.dirname, 'nlwatch.py');

export class KernelMonitor {
  readonly #child: ChildProcess;
  readonly #waiters = new Map<string, (at: number) => void>();
  #pending = '';
  #ready: (() => void) | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => { this.#feed(chunk, performance.now()); });
  }

  static async start(ns: LabNetns): Promise<KernelMonitor> {
    const child = ns.spawn('python3', [WATCHER]);
    const m = new KernelMonitor(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('nlwatch.py did not start')); }, 15_000);
      m.#ready = () => { clearTimeout(timer); resolve(); };
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`nlwatch.py exited ${String(code)}`)); });
    });
    return m;
  }

  #feed(chunk: string, at: number): void {
    const lines = (this.#pending + chunk).split('\n');
    this.#pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') this.#ready?.();
      const m = /^seen (\S+)$/.exec(line);
      if (m?.[1] === undefined) continue;
      const r = this.#waiters.get(m[1]);
      this.#waiters.delete(m[1]);
      r?.(at);
    }
  }

  /**
   * Resolves with performance.now() when the first committed rule or element carrying `ip`
   * (and, when given, the name `context`, e.g. a set's) arrives; undefined on timeout.
   * Register before making the change.
   */
  waitForIP(ip: string, timeoutMs: number, context = ''): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(ip);
        this.#child.stdin?.write(`-${ip}\n`);
        resolve(undefined);
      }, timeoutMs);
      this.#waiters.set(ip, (at) => { clearTimeout(timer); resolve(at); });
      this.#child.stdin?.write(`+${ip}${context === '' ? '' : ` ${context}`}\n`);
    });
  }

  stop(): void {
    if (this.#child.pid !== undefined && this.#child.exitCode === null) process.kill(this.#child.pid, 'SIGKILL');
  }
}
