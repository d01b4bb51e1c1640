// When to sync: upstream's BoundedFrequencyRunner (pkg/proxy/runner), for an async function.
//
// - run() asks for a sync. Requests coalesce: any number of them while one is waiting (or while
//   the function is running) produce one more run.
// - At least minInterval passes between the end of one run and the start of the next. With
//   minInterval 0 a request starts a run right away (on the next microtask, so requests made
//   in the same tick still coalesce), unless a run is in flight.
// - The function runs at least every maxInterval even when nobody asks (the periodic resync).
// - Runs never overlap.
// - A run that throws or rejects is retried after a backoff that starts at retryInterval and
//   doubles per consecutive failure, capped at maxInterval; the retry still respects
//   minInterval, and any successful run cancels it. The run after a failure is a full sync.
// - The first run is a full sync; so is the periodic run (or, with fullSyncInterval set, any
//   run once that long has passed since the last successful full sync, as upstream proxiers do
//   with their one-hour FullSyncPeriod).
//
// Like upstream's Loop, nothing runs before start(): requests made earlier are kept and served
// once started, and the first unrequested run comes maxInterval after start.

import type { Clock, Timer } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';

/** Why a run happened. */
export type SyncReason =
  /** run() was called. */
  | 'requested'
  /** maxInterval passed without a run. */
  | 'periodic'
  /** The previous run failed, or retryAfter() asked for one. */
  | 'retry';

export interface SyncContext {
  /** Rewrite everything rather than only what changed. */
  readonly full: boolean;
  readonly reason: SyncReason;
  /** 1, or 1 + the number of consecutive failed runs before this one. */
  readonly attempt: number;
  /** Aborted when the runner is stopped: long syncs may give up early. */
  readonly signal: AbortSignal;
}

export type SyncFunction = (context: SyncContext) => Promise<void> | void;

export interface RunRequest {
  /** Make the requested run a full sync. */
  readonly full?: boolean;
}

export interface BoundedFrequencyRunnerOptions {
  /** For logs. */
  readonly name: string;
  readonly fn: SyncFunction;
  readonly clock: Clock;
  /** Milliseconds from the end of a run to the earliest start of the next; 0 = no limit. */
  readonly minInterval: number;
  /** Milliseconds: the longest the function goes without running. Must be >= minInterval. */
  readonly maxInterval: number;
  /**
   * First retry delay after a failure, in ms; doubles per consecutive failure, capped at
   * maxInterval. Default: max(minInterval, 1s), capped at maxInterval.
   */
  readonly retryInterval?: number;
  /**
   * When set, a run is full once this many ms have passed since the last successful full sync
   * (upstream proxiers use one hour), and the periodic run is not full by itself. When unset,
   * every periodic run is full.
   */
  readonly fullSyncInterval?: number;
  readonly logger?: Logger;
}

const DEFAULT_MIN_RETRY_MS = 1000;
/** 2^30 × retryInterval is far beyond any maxInterval; stops the exponent growing forever. */
const MAX_BACKOFF_EXPONENT = 30;

function checkDuration(name: string, value: number, allowZero: boolean): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be a finite ${allowZero ? 'non-negative' : 'positive'} number of milliseconds, got ${value}`);
  }
}

export class BoundedFrequencyRunner {
  readonly name: string;
  readonly minInterval: number;
  readonly maxInterval: number;
  readonly retryInterval: number;
  readonly fullSyncInterval: number | undefined;

  readonly #fn: SyncFunction;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;

  #started = false;
  #stopped = false;
  #signal: AbortSignal | undefined;
  #resolveDone: (() => void) | undefined;

  #inFlight = false;
  #timer: Timer | undefined;
  #wakeQueued = false;

  /** A run() arrived and has not been served yet. */
  #pending = false;
  #pendingFull = false;
  /** The next run must be full: nothing synced yet, or the last run failed. */
  #needFull = true;
  #consecutiveFailures = 0;

  /** Monotonic ms at which the last run ended. */
  #lastEnd: number | undefined;
  /** Monotonic ms at which the last successful full sync ended. */
  #lastFullEnd: number | undefined;
  /** Monotonic ms at which an unrequested run is due, and why. */
  #deadline: number | undefined;
  #deadlineReason: 'periodic' | 'retry' = 'periodic';
  /** A retryAfter() made while running (or before start), applied when the run ends. */
  #retryRequestedAt: number | undefined;

  constructor(options: BoundedFrequencyRunnerOptions) {
    checkDuration('minInterval', options.minInterval, true);
    checkDuration('maxInterval', options.maxInterval, false);
    if (options.maxInterval < options.minInterval) {
      throw new RangeError(`${options.name}: maxInterval (${options.maxInterval}ms) must be >= minInterval (${options.minInterval}ms)`);
    }
    const retryInterval = options.retryInterval ?? Math.max(options.minInterval, DEFAULT_MIN_RETRY_MS);
    checkDuration('retryInterval', retryInterval, false);
    if (options.fullSyncInterval !== undefined) checkDuration('fullSyncInterval', options.fullSyncInterval, true);

    this.name = options.name;
    this.minInterval = options.minInterval;
    this.maxInterval = options.maxInterval;
    this.retryInterval = Math.min(retryInterval, options.maxInterval);
    this.fullSyncInterval = options.fullSyncInterval;
    this.#fn = options.fn;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** A run is executing right now. */
  get running(): boolean {
    return this.#inFlight;
  }

  /** Failed runs since the last successful one. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /**
   * Ask for a run as soon as minInterval allows. Coalesces with other pending requests. Does
   * nothing after stop.
   */
  run(request: RunRequest = {}): void {
    if (this.#stopped) return;
    this.#pending = true;
    if (request.full === true) this.#pendingFull = true;
    this.#schedule();
  }

  /**
   * Make sure the function runs again no later than `ms` from now (still respecting
   * minInterval). May be called from inside the function. Any run that happens earlier and
   * ends consumes the request.
   */
  retryAfter(ms: number): void {
    if (this.#stopped) return;
    checkDuration('retryAfter', ms, true);
    const at = this.#clock.monotonic() + ms;
    if (this.#inFlight || !this.#started) {
      if (this.#retryRequestedAt === undefined || at < this.#retryRequestedAt) this.#retryRequestedAt = at;
      return;
    }
    this.#applyRetryAt(at);
    this.#schedule();
  }

  /**
   * Start serving requests and the periodic timer. The promise settles once `signal` aborts and
   * any run in flight has finished.
   */
  start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`${this.name}: runner already started`);
    this.#started = true;
    this.#signal = signal;
    const done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    if (signal.aborted) {
      this.#stop();
      return done;
    }
    signal.addEventListener('abort', () => {
      this.#stop();
    }, { once: true });

    this.#deadline = this.#clock.monotonic() + this.maxInterval;
    this.#deadlineReason = 'periodic';
    if (this.#retryRequestedAt !== undefined) {
      this.#applyRetryAt(this.#retryRequestedAt);
      this.#retryRequestedAt = undefined;
    }
    this.#logger?.debug({ runner: this.name, minInterval: this.minInterval, maxInterval: this.maxInterval }, 'runner started');
    this.#schedule();
    return done;
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelTimer();
    this.#logger?.debug({ runner: this.name }, 'runner stopping');
    if (!this.#inFlight) this.#resolveDone?.();
  }

  #applyRetryAt(at: number): void {
    if (this.#deadline === undefined || at < this.#deadline) {
      this.#deadline = at;
      this.#deadlineReason = 'retry';
    }
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Earliest monotonic time the next run may start (minInterval after the last one ended). */
  #earliestStart(now: number): number {
    return this.#lastEnd === undefined ? now : Math.max(now, this.#lastEnd + this.minInterval);
  }

  /** Arrange to wake when the next run is due. */
  #schedule(): void {
    if (!this.#started || this.#stopped || this.#inFlight) return;
    this.#cancelTimer();
    const now = this.#clock.monotonic();
    const earliest = this.#earliestStart(now);
    const wanted = this.#pending ? now : (this.#deadline ?? Number.POSITIVE_INFINITY);
    const dueAt = Math.max(earliest, wanted);
    if (dueAt <= now) {
      if (!this.#wakeQueued) {
        this.#wakeQueued = true;
        queueMicrotask(() => {
          this.#wakeQueued = false;
          this.#wake();
        });
      }
      return;
    }
    if (dueAt === Number.POSITIVE_INFINITY) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#wake();
    }, dueAt - now);
  }

  #wake(): void {
    if (!this.#started || this.#stopped || this.#inFlight) return;
    const now = this.#clock.monotonic();
    const deadlineDue = this.#deadline !== undefined && now >= this.#deadline;
    if ((!this.#pending && !deadlineDue) || now < this.#earliestStart(now)) {
      this.#schedule();
      return;
    }
    const reason: SyncReason = deadlineDue ? this.#deadlineReason : 'requested';
    const full = this.#needFull || this.#pendingFull || this.#fullByAge(now, reason);
    this.#pending = false;
    this.#pendingFull = false;
    this.#inFlight = true;
    void this.#execute({ full, reason, attempt: this.#consecutiveFailures + 1, signal: this.#signal ?? AbortSignal.abort() });
  }

  #fullByAge(now: number, reason: SyncReason): boolean {
    if (this.fullSyncInterval === undefined) return reason === 'periodic';
    return this.#lastFullEnd === undefined || now - this.#lastFullEnd >= this.fullSyncInterval;
  }

  async #execute(context: SyncContext): Promise<void> {
    let failure: unknown;
    let failed = false;
    const started = this.#clock.monotonic();
    try {
      await this.#fn(context);
    } catch (err: unknown) {
      failed = true;
      failure = err;
    }
    const end = this.#clock.monotonic();
    this.#lastEnd = end;
    if (failed) {
      this.#consecutiveFailures++;
      this.#needFull = true;
      const exponent = Math.min(this.#consecutiveFailures - 1, MAX_BACKOFF_EXPONENT);
      const delay = Math.min(this.maxInterval, this.retryInterval * 2 ** exponent);
      this.#deadline = end + delay;
      this.#deadlineReason = 'retry';
      this.#logger?.error(
        { runner: this.name, err: failure, attempt: context.attempt, full: context.full, retryInMs: Math.max(delay, this.minInterval) },
        'sync failed; will retry with a full sync',
      );
    } else {
      this.#consecutiveFailures = 0;
      this.#needFull = false;
      if (context.full) this.#lastFullEnd = end;
      this.#deadline = end + this.maxInterval;
      this.#deadlineReason = 'periodic';
      this.#logger?.debug({ runner: this.name, reason: context.reason, full: context.full, tookMs: end - started }, 'sync done');
    }
    if (this.#retryRequestedAt !== undefined) {
      this.#applyRetryAt(this.#retryRequestedAt);
      this.#retryRequestedAt = undefined;
    }
    this.#inFlight = false;
    if (this.#stopped) {
      this.#resolveDone?.();
      return;
    }
    this.#schedule();
  }
}
