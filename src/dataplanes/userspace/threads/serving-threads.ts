// The main thread's side of the serving threads: starts them (worker.ts), tells them which TCP
// service ports to serve and on which ports (the main thread binds first, with SO_REUSEPORT,
// and the threads join; or, with ownPorts, each thread binds ports of its own, which it keeps
// across a restart, and reports them for the redirect maps), replays their metric deltas into
// the dataplane's metrics, re-emits their log lines through the dataplane's logger, restarts a
// thread that died (with the state it had), and closes them all.

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../util/logger.ts';
import type { UserspaceMetrics } from '../metrics.ts';
import { replayDeltas } from './delta-metrics.ts';
import { isFromWorker, type BoundPort, type FromWorker, type PortMessage, type ThreadListen, type ToWorker, type WorkerInit } from './protocol.ts';

// worker.ts when running from source, worker.js from dist/.
const WORKER_URL = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const RESTART_DELAY_MS = 1000;
const CLOSE_TIMEOUT_MS = 3000;
/** A sync waits this long at most for the threads to apply a change. */
const APPLY_TIMEOUT_MS = 5000;

const LEVELS = new Map<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>([
  [10, 'trace'], [20, 'debug'], [30, 'info'], [40, 'warn'], [50, 'error'], [60, 'fatal'],
]);

export type ThreadInit = Omit<WorkerInit, 'thread'>;

interface Slot {
  readonly thread: number;
  worker: Worker | undefined;
  closed: (() => void) | undefined;
  /** ownPorts: the ports this thread's listeners are bound to, by port key and listen key. */
  readonly bound: Map<string, Map<string, number>>;
}

/**
 * A listener to open on every thread. ownPorts: `previous[thread]` is the port a previous
 * process had redirected to for that thread (taken first, if the thread has none of its own).
 */
export interface ServeListen extends ThreadListen {
  readonly previous?: readonly number[];
}

export interface ServeMessage extends Omit<PortMessage, 'seq' | 'listens'> {
  readonly listens: readonly ServeListen[];
}

interface Pending {
  /** Threads that have not applied the message yet. */
  readonly waiting: Set<number>;
  readonly done: () => void;
}

export class ServingThreads {
  readonly count: number;
  readonly #init: ThreadInit;
  readonly #logger: Logger;
  readonly #metrics: UserspaceMetrics;
  readonly #slots: Slot[] = [];
  /** The last message for each port a thread serves: what a restarted thread is given. */
  readonly #ports = new Map<string, PortMessage>();
  #closing = false;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  /** Connections opened by each thread (1-based), from their metric deltas: for tests and debugging. */
  readonly opened: number[];
  /** ownPorts: a thread's port changed outside a sync (a restarted thread lost its port); the redirects need a full sync. */
  readonly #onPortsChanged: (() => void) | undefined;

  /** `count` threads besides the main thread. */
  constructor(count: number, init: ThreadInit, logger: Logger, metrics: UserspaceMetrics, onPortsChanged?: () => void) {
    this.count = count;
    this.#init = init;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#onPortsChanged = onPortsChanged;
    this.opened = new Array<number>(count + 1).fill(0);
    for (let i = 1; i <= count; i++) {
      const slot: Slot = { thread: i, worker: undefined, closed: undefined, bound: new Map() };
      this.#slots.push(slot);
      this.#start(slot);
    }
  }

  /** The ports currently handed to the threads (family-qualified keys). */
  get ports(): ReadonlySet<string> {
    return new Set(this.#ports.keys());
  }

  /**
   * Serve (or update) a port on every thread. Resolves when every running thread has applied
   * it (its listeners are up, or reported failing), or after APPLY_TIMEOUT_MS.
   */
  serve(m: ServeMessage): Promise<void> {
    const msg: PortMessage = { ...m, seq: ++this.#seq };
    this.#ports.set(m.key, msg);
    return this.#broadcast(msg);
  }

  /** Stop serving a port: the threads' listeners close (resolves then), their connections drain. */
  remove(key: string): Promise<void> {
    if (!this.#ports.delete(key)) return Promise.resolve();
    for (const slot of this.#slots) slot.bound.delete(key);
    return this.#broadcast({ type: 'remove', seq: ++this.#seq, key });
  }

  /** Stop one thread as if it had died (tests, debugging): it is restarted as after a crash. */
  async stop(thread: number): Promise<void> {
    await this.#slots[thread - 1]?.worker?.terminate();
  }

  /** Whether the threads serve this port (family-qualified key). */
  serves(key: string): boolean {
    return this.#ports.has(key);
  }

  /** ownPorts: the port `thread`'s listener `listenKey` of port `key` is bound to, if it is up. */
  boundPort(key: string, thread: number, listenKey: string): number | undefined {
    return this.#slots[thread - 1]?.bound.get(key)?.get(listenKey);
  }

  /**
   * What `slot` is sent for a port: with ownPorts, each listener on the thread's own port
   * (the one it had, else a previous process's, else any); else the main thread's port.
   */
  #forSlot(slot: Slot, m: PortMessage): PortMessage {
    if (!this.#init.ownPorts) return m;
    const had = slot.bound.get(m.key);
    const listens = m.listens.map((l: ServeListen): ThreadListen => ({
      key: l.key, kind: l.kind, host: l.host, port: had?.get(l.key) ?? l.previous?.[slot.thread] ?? 0,
    }));
    return { ...m, listens };
  }

  /** Close every thread's listeners and connections, then stop the threads. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#slots.map(async (slot) => {
      const w = slot.worker;
      if (w === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
        slot.closed = () => { clearTimeout(timer); resolve(); };
        w.once('exit', () => { slot.closed?.(); });
        w.postMessage({ type: 'close' } satisfies ToWorker);
      });
      await w.terminate();
    }));
  }

  #broadcast(m: Exclude<ToWorker, { type: 'close' }>): Promise<void> {
    const waiting = new Set<number>();
    for (const slot of this.#slots) {
      if (slot.worker === undefined) continue;
      slot.worker.postMessage(m.type === 'port' ? this.#forSlot(slot, m) : m);
      waiting.add(slot.thread);
    }
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(m.seq);
        this.#logger.warn({ threads: [...waiting], seq: m.seq }, `userspace serving threads ${[...waiting].join(', ')} did not apply a change within ${APPLY_TIMEOUT_MS} ms`);
        resolve();
      }, APPLY_TIMEOUT_MS);
      this.#pending.set(m.seq, { waiting, done: () => { clearTimeout(timer); this.#pending.delete(m.seq); resolve(); } });
    });
  }

  #applied(thread: number, seq: number): void {
    const p = this.#pending.get(seq);
    if (p === undefined) return;
    p.waiting.delete(thread);
    if (p.waiting.size === 0) p.done();
  }

  #start(slot: Slot): void {
    const init: WorkerInit = { ...this.#init, thread: slot.thread };
    const w = new Worker(WORKER_URL, { workerData: init, name: `userspace-${slot.thread}` });
    slot.worker = w;
    w.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.#onMessage(slot, m);
      else this.#logger.error({ thread: slot.thread }, 'unexpected message from a userspace serving thread');
    });
    w.on('error', (err) => {
      this.#logger.error({ err, thread: slot.thread }, 'userspace serving thread failed; its connections are lost');
    });
    w.on('exit', (code) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      for (const seq of [...this.#pending.keys()]) this.#applied(slot.thread, seq);
      if (this.#closing) return;
      this.#logger.error({ thread: slot.thread, code }, `userspace serving thread ${slot.thread} exited (${code}); restarting it in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => {
        if (this.#closing || slot.worker !== undefined) return;
        this.#start(slot);
      }, RESTART_DELAY_MS).unref();
    });
    // A thread never keeps the process alive on its own: the dataplane's listeners do.
    w.unref();
    for (const m of this.#ports.values()) w.postMessage(this.#forSlot(slot, m));
  }

  #onMessage(slot: Slot, m: FromWorker): void {
    switch (m.type) {
      case 'metrics':
        for (const d of m.deltas) this.opened[slot.thread] = (this.opened[slot.thread] ?? 0) + d.opened;
        replayDeltas(this.#metrics, m.deltas);
        break;
      case 'log':
        this.#relog(m.line);
        break;
      case 'listen-failed':
        this.#logger.error({ thread: slot.thread, port: m.key, listen: m.listen, code: m.code },
          `userspace serving thread ${slot.thread} cannot listen on ${m.listen} for ${m.key} (${m.code}); the other threads serve it`);
        break;
      case 'applied':
        if (m.key !== undefined && m.ports !== undefined && this.#init.ownPorts && this.#ports.has(m.key)) this.#bound(slot, m.key, m.ports);
        this.#applied(slot.thread, m.seq);
        break;
      case 'closed':
        slot.closed?.();
        break;
    }
  }

  #bound(slot: Slot, key: string, ports: readonly BoundPort[]): void {
    const had = slot.bound.get(key);
    const now = new Map(ports.map((b) => [b.listen, b.port]));
    slot.bound.set(key, now);
    // A port a sync is waiting for is read once it resolves; one that changes later (a thread
    // restarted, its old port taken) leaves the redirects pointing at nothing until a full sync.
    const changed = had !== undefined && [...had].some(([listen, port]) => now.has(listen) && now.get(listen) !== port);
    if (changed && !this.#pendingFor(slot.thread)) {
      this.#logger.warn({ thread: slot.thread, port: key }, `userspace serving thread ${String(slot.thread)} listens on new ports for ${key}; redirects follow at the next full sync`);
      this.#onPortsChanged?.();
    }
  }

  #pendingFor(thread: number): boolean {
    for (const p of this.#pending.values()) if (p.waiting.has(thread)) return true;
    return false;
  }

  #relog(line: string): void {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof rec !== 'object' || rec === null) return;
    const { level, msg, time: _time, ...fields } = rec as Record<string, unknown>;
    const name = typeof level === 'number' ? LEVELS.get(level) : undefined;
    if (name === undefined) return;
    this.#logger[name](fields, typeof msg === 'string' ? msg : '');
  }
}
