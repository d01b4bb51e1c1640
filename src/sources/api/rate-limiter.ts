// Client-side rate limiting, like client-go's token bucket (flowcontrol.NewTokenBucketRateLimiter):
// `qps` tokens per second, up to `burst` saved. kube-proxy's defaults are qps 5, burst 10
// (KubeProxyConfiguration clientConnection). Every request, list page and watch start takes one.

import type { Clock } from '../../util/clock.ts';

export interface RateLimiter {
  /** Resolves when the caller may send; rejects with the signal's reason if aborted first. */
  take(signal?: AbortSignal): Promise<void>;
}

export const unlimited: RateLimiter = { take: () => Promise.resolve() };

export class TokenBucket implements RateLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(qps: number, burst: number, clock: Clock) {
    if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be > 0, got ${qps}`);
    this.qps = qps;
    this.burst = Math.max(1, Math.floor(burst));
    this.clock = clock;
    this.tokens = this.burst;
    this.last = clock.monotonic();
  }

  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    this.refill();
    // Reserve now (tokens may go negative): callers are served in arrival order.
    this.tokens -= 1;
    if (this.tokens >= 0) return Promise.resolve();
    const waitMs = (-this.tokens / this.qps) * 1000;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        timer.cancel();
        this.tokens += 1; // give the reservation back
        reject(abortReason(signal));
      };
      const timer = this.clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private refill(): void {
    const now = this.clock.monotonic();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
  }
}

export function createRateLimiter(qps: number | undefined, burst: number | undefined, clock: Clock): RateLimiter {
  const q = qps ?? 5;
  // client-go: a negative QPS disables rate limiting; 0 means "use the default".
  if (q < 0) return unlimited;
  return new TokenBucket(q === 0 ? 5 : q, burst === undefined || burst <= 0 ? 10 : burst, clock);
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('aborted', 'AbortError');
}
