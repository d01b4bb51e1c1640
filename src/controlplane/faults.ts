// Fault injection for tests of clients (reflector retries, backoff): fail the next N requests
// with 500/503 or 429 + Retry-After. Driven through the ControlPlane object, never over HTTP.

import { ApiError, internalError, tooManyRequests } from './errors.ts';

export interface FailOptions {
  /** HTTP status to answer with (default 500). */
  readonly code?: 429 | 500 | 503;
  /** Retry-After seconds (429/503; default 1). */
  readonly retryAfterSeconds?: number;
  /** Only requests for which this returns true count (default: all API requests). */
  readonly match?: (method: string, path: string) => boolean;
}

interface Failure {
  remaining: number;
  readonly opts: FailOptions;
}

export class Faults {
  private failures: Failure[] = [];

  failNext(n: number, opts: FailOptions = {}): void {
    if (n > 0) this.failures.push({ remaining: n, opts });
  }

  clear(): void {
    this.failures = [];
  }

  /** The error to answer this request with, if a fault applies (consumes one). */
  take(method: string, path: string): ApiError | undefined {
    for (const f of this.failures) {
      if (f.remaining <= 0) continue;
      if (f.opts.match && !f.opts.match(method, path)) continue;
      f.remaining--;
      this.failures = this.failures.filter((x) => x.remaining > 0);
      const code = f.opts.code ?? 500;
      const retry = f.opts.retryAfterSeconds ?? 1;
      if (code === 429) return tooManyRequests(retry);
      if (code === 503) return new ApiError(503, 'ServiceUnavailable', 'injected fault: service unavailable', { retryAfterSeconds: retry });
      return internalError('injected fault');
    }
    return undefined;
  }
}
