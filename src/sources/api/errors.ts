// Errors raised while talking to the API server. Every error carries a stable `code` so callers
// (the reflector's retry policy, metrics, tests) can branch without parsing messages.

export type ApiErrorCode =
  /** kubeconfig / in-cluster configuration is missing or invalid: not retried by the client. */
  | 'API_CONFIG'
  /** An auth plugin (exec, token file) failed. */
  | 'API_AUTH'
  /** Could not connect, connection reset, TLS failure, response headers too slow. */
  | 'API_TRANSPORT'
  /** The server answered with a non-success HTTP status (see `status`). */
  | 'API_STATUS'
  /** A list body or a watch line was not the JSON we expect. */
  | 'API_DECODE'
  /** 410 Gone / Expired: the resourceVersion or continue token is too old. */
  | 'API_EXPIRED'
  /** The watch stream carried an ERROR event (other than 410). */
  | 'API_WATCH_ERROR';

export interface ApiErrorDetails {
  readonly status?: number | undefined;
  /** Status.reason from the body, when the server sent a Status. */
  readonly reason?: string | undefined;
  /** Parsed Retry-After header, milliseconds. */
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number | undefined;
  readonly reason: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = details.status;
    this.reason = details.reason;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** Errors where the server could not be reached (or vanished mid-request). */
export function isTransportError(err: unknown): boolean {
  return isApiError(err) && err.code === 'API_TRANSPORT';
}

/** A short description for logs: never throws, whatever was thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** `code` of an ApiError, or a generic code for anything else (a bug, or a Node error). */
export function errorCode(err: unknown): string {
  if (isApiError(err)) return err.code;
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return 'UNKNOWN';
}

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Returns milliseconds,
 * or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Pulls `reason` and `message` out of a metav1.Status body, if the body is one. */
export function parseStatusBody(body: string): { reason?: string; message?: string; code?: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const out: { reason?: string; message?: string; code?: number } = {};
  if ('reason' in parsed && typeof parsed.reason === 'string') out.reason = parsed.reason;
  if ('message' in parsed && typeof parsed.message === 'string') out.message = parsed.message;
  if ('code' in parsed && typeof parsed.code === 'number') out.code = parsed.code;
  return out;
}

/** Builds the error for a non-success response. 410 becomes API_EXPIRED. */
export function statusError(status: number, body: string, retryAfterMs: number | undefined, what: string): ApiError {
  const st = parseStatusBody(body);
  const detail = st.message ?? body.slice(0, 200);
  const code: ApiErrorCode = status === 410 ? 'API_EXPIRED' : 'API_STATUS';
  return new ApiError(code, `${what}: HTTP ${status}${st.reason === undefined ? '' : ` ${st.reason}`}: ${detail}`, {
    status,
    reason: st.reason,
    retryAfterMs,
  });
}

/**
 * `signal.aborted`, as a call: TypeScript narrows a property read across awaits and then
 * calls a later check "always false"; it does not narrow a function result.
 */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
