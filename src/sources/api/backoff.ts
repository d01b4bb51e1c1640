// Retry pacing for the reflector.
//
// The numbers are client-go's reflector backoff (tools/cache/reflector.go:
// NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)): 0.8 s, 1.6 s, 3.2 s … capped at 30 s,
// each jittered up to +100% (so [30, 60) s at the cap, ~0.02 QPS per watch against a broken API
// server), and the step resets after 2 minutes without a retry.
//
// That cap alone would leave us up to a minute behind an API server that comes back after a long
// outage. We want to converge within ~2 s of its return, without hammering it with full LISTs
// while it is down: so while waiting after a transport failure or 5xx, we probe a cheap endpoint
// (GET /readyz, shared by all reflectors of a client, ~1/s) and end the wait early once it
// answers. The probe never wakes a wait for errors the server itself asked us to slow down for
// (429 / Retry-After) or for 4xx.

import type { Clock, Timer } from '../../util/clock.ts';
import type { ApiClient } from './client.ts';

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** Each delay d becomes d + random() * jitter * d. */
  readonly jitter: number;
  /** The step goes back to initialMs when the previous delay was requested longer ago than this. */
  readonly resetAfterMs: number;
}

export const CLIENT_GO_REFLECTOR_BACKOFF: BackoffPolicy = {
  initialMs: 800,
  factor: 2,
  maxMs: 30_000,
  jitter: 1.0,
  resetAfterMs: 120_000,
};

export class Backoff {
  private readonly policy: BackoffPolicy;
  private readonly clock: Clock;
  private readonly random: () => number;
  private current: number;
  private lastAt: number | undefined;

  constructor(policy: BackoffPolicy, clock: Clock, random: () => number = Math.random) {
    this.policy = policy;
    this.clock = clock;
    this.random = random;
    this.current = policy.initialMs;
  }

  /** The next delay, in milliseconds. */
  next(): number {
    const now = this.clock.monotonic();
    if (this.lastAt === undefined || now - this.lastAt > this.policy.resetAfterMs) this.current = this.policy.initialMs;
    this.lastAt = now;
    const base = this.current;
    this.current = Math.min(this.current * this.policy.factor, this.policy.maxMs);
    return this.policy.jitter > 0 ? base + this.random() * this.policy.jitter * base : base;
  }

  reset(): void {
    this.lastAt = undefined;
    this.current = this.policy.initialMs;
  }
}

/** Resolves true when the API server answers (any status but 5xx/429), false otherwise. */
export type ReachabilityProbe = () => Promise<boolean>;

export interface ProbeOptions {
  readonly clock: Clock;
  /** Default "/readyz". */
  readonly path?: string | undefined;
  /** Per-probe deadline, default 1000 ms. */
  readonly timeoutMs?: number | undefined;
  /**
   * A successful result is reused for this long (several reflectors share one probe), default
   * 500 ms. Failures are not cached: a reflector must not miss the server's return because
   * another one saw it down a moment earlier.
   */
  readonly cacheMs?: number | undefined;
}

/** One probe per client, single-flight and briefly cached, so N reflectors cost ~1 request/s. */
export function createReachabilityProbe(client: ApiClient, opts: ProbeOptions): ReachabilityProbe {
  const path = opts.path ?? '/readyz';
  const timeoutMs = opts.timeoutMs ?? 1000;
  const cacheMs = opts.cacheMs ?? 500;
  let inflight: Promise<boolean> | undefined;
  let last: { at: number; ok: boolean } | undefined;
  return () => {
    if (last !== undefined && opts.clock.monotonic() - last.at < cacheMs) return Promise.resolve(last.ok);
    inflight ??= client.request(path, { timeoutMs, unlimited: true }).then(
      (res) => res.status < 500 && res.status !== 429,
      () => false,
    ).then((ok) => {
      last = ok ? { at: opts.clock.monotonic(), ok } : undefined;
      inflight = undefined;
      return ok;
    });
    return inflight;
  };
}

export interface EarlyWake {
  readonly probe: ReachabilityProbe;
  readonly intervalMs: number;
  /**
   * Wake on the first successful probe even if none failed during this wait. Otherwise a probe
   * must first fail (the server was seen down) and then succeed (it came back).
   */
  readonly withoutOutage: boolean;
}

export type WaitResult = 'elapsed' | 'recovered' | 'aborted';

/** Waits `ms`, or less if `wake` sees the server come back, or until `signal` aborts. */
export function waitForRetry(ms: number, clock: Clock, signal: AbortSignal, wake?: EarlyWake): Promise<WaitResult> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    let settled = false;
    let sawDown = false;
    let probeTimer: Timer | undefined;
    const finish = (r: WaitResult): void => {
      if (settled) return;
      settled = true;
      mainTimer.cancel();
      probeTimer?.cancel();
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const onAbort = (): void => { finish('aborted'); };
    const mainTimer = clock.setTimeout(() => { finish('elapsed'); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
    if (wake === undefined || wake.intervalMs >= ms) return;
    const scheduleProbe = (): void => {
      probeTimer = clock.setTimeout(() => {
        void wake.probe().then((ok) => {
          if (settled) return;
          if (!ok) sawDown = true;
          else if (sawDown || wake.withoutOutage) { finish('recovered'); return; }
          scheduleProbe();
        });
      }, wake.intervalMs);
    };
    scheduleProbe();
  });
}
