// The main thread's side of the serving threads: starts them (worker.ts), tells them which TCP
// service ports to serve and on which ports (the main thread binds first, with SO_REUSEPORT,
// and the threads join), replays their metric deltas into the dataplane's metrics, re-emits
// their log lines through the dataplane's logger, restarts a thread that died (with the
// state it had), and closes them all.

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../util/logger.ts';
import type { UserspaceMetrics } from '../metrics.ts';
import { replayDeltas } from './delta-metrics.ts';
import { isFromWorker, type FromWorker, type PortMessage, type ToWorker, type WorkerInit } from './protocol.ts';

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

  /** `count` threads besides the main thread. */
  constructor(count: number, init: ThreadInit, logger: Logger, metrics: UserspaceMetrics) {
    this.count = count;
    this.#init = init;
    this.#logger = logger;
    this.#metrics = metrics;
    this.opened = new Array<number>(count + 1).fill(0);
    for (let i = 1; i <= count; i++) {
      const slot: Slot = { thread: i, worker: undefined, closed: undefined };
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
  serve(m: Omit<PortMessage, 'seq'>): Promise<void> {
    const msg: PortMessage = { ...m, seq: ++this.#seq };
    this.#ports.set(m.key, msg);
    return this.#broadcast(msg);
  }

  /** Stop serving a port: the threads' listeners close (resolves then), their connections drain. */
  remove(key: string): Promise<void> {
    if (!this.#ports.delete(key)) return Promise.resolve();
    return this.#broadcast({ type: 'remove', seq: ++this.#seq, key });
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
      slot.worker.postMessage(m);
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
    for (const m of this.#ports.values()) w.postMessage(m);
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
        this.#applied(slot.thread, m.seq);
        break;
      case 'closed':
        slot.closed?.();
        break;
    }
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
