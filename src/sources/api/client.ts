// The HTTP port to the API server: GET a path (lists), or stream a path line by line (watches).
// Deliberately tiny so the reflector and tests can use a fake.
//
// Transport: node:http/node:https with client-node's KubeConfig.applyToHTTPSOptions applied to
// every request. That call runs client-node's authenticators each time (token, token file
// re-read every 60 s, exec plugins re-run when their credential expires, client certificates
// read from file so rotated certs are picked up) and fills in CA / client cert / key / TLS
// server name. client-node 2.x's own Watch instead uses undici fetch with
// applySecurityAuthentication, which builds a new undici Agent per call; we keep one keep-alive
// agent per protocol (TLS material is part of node's agent pool key, so a rotated client
// certificate gets a new connection). On 401 the KubeConfig is rebuilt (fresh authenticators:
// token file re-read, exec plugin re-run) and the request retried once, as client-go does for
// exec plugins.

import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../util/logger.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import { ApiError, describeError, isAborted, parseRetryAfter, statusError } from './errors.ts';
import { loadKubeConfig, type KubeConfigSource, type LoadedKubeConfig } from './kubeconfig.ts';
import { createRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { readBody, readListBody, splitLines } from './http-body.ts';

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  header(name: string): string | undefined;
}

export interface ApiRequestOptions {
  readonly signal?: AbortSignal | undefined;
  /** Deadline for the whole request, headers and body. */
  readonly timeoutMs?: number | undefined;
  /**
   * Skip the client-side rate limiter (clientConnection.qps/burst). For health probes only:
   * probing a server that is down must not use up the budget that the relist needs once it is
   * back, nor wait behind it.
   */
  readonly unlimited?: boolean | undefined;
  /**
   * For LISTs: on a 200, each element of the body's `items` is handed over as its JSON text while
   * the body streams in, and `body` is the rest of the document with `"items":[]` (see
   * readListBody). A client may ignore this and return the whole body; callers handle both.
   */
  readonly onListItem?: ((json: string) => void) | undefined;
}

export interface ApiClient {
  /** The server URL, for logs. */
  describe(): string;
  /**
   * GET `path` (with its query string). Resolves with any HTTP status; rejects with an ApiError
   * (API_TRANSPORT, API_AUTH) when no response was obtained, or with the signal's reason.
   */
  request(path: string, opts?: ApiRequestOptions): Promise<ApiResponse>;
  /**
   * GET `path` and yield the body line by line until the server ends it (the iteration ends) or
   * `signal` aborts (the iteration ends quietly). Throws an ApiError for a non-200 response
   * (API_EXPIRED for 410, API_STATUS otherwise, with `retryAfterMs`) or a broken connection.
   */
  stream(path: string, signal: AbortSignal): AsyncIterable<string>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

export interface ApiClientOptions extends KubeConfigSource {
  readonly userAgent: string;
  /** clientConnection.qps: default 5; negative disables rate limiting. */
  readonly qps?: number | undefined;
  /** clientConnection.burst: default 10. */
  readonly burst?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Deadline for request(): default 60 s. */
  readonly requestTimeoutMs?: number | undefined;
  /** How long stream() waits for response headers: default 30 s (like client-node's Watch). */
  readonly headerTimeoutMs?: number | undefined;
  /** Largest response body request() accepts: default 256 MiB. */
  readonly maxBodyBytes?: number | undefined;
}

export function createApiClient(opts: ApiClientOptions, logger: Logger): ApiClient {
  return new HttpApiClient(opts, logger);
}

class HttpApiClient implements ApiClient {
  private readonly source: KubeConfigSource;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly userAgent: string;
  private readonly requestTimeoutMs: number;
  private readonly headerTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly httpAgent = new http.Agent({ keepAlive: true, keepAliveMsecs: 30_000 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, keepAliveMsecs: 30_000 });
  private loaded: LoadedKubeConfig;
  private generation = 0;

  constructor(opts: ApiClientOptions, logger: Logger) {
    this.source = opts;
    this.logger = logger;
    this.clock = opts.clock ?? systemClock;
    this.limiter = createRateLimiter(opts.qps, opts.burst, this.clock);
    this.userAgent = opts.userAgent;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.headerTimeoutMs = opts.headerTimeoutMs ?? 30_000;
    this.maxBodyBytes = opts.maxBodyBytes ?? 256 * 1024 * 1024;
    this.loaded = loadKubeConfig(opts);
    logger.info({ server: this.loaded.cluster.server, origin: this.loaded.origin }, 'API client configured');
  }

  describe(): string {
    return this.loaded.cluster.server;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async request(path: string, opts: ApiRequestOptions = {}): Promise<ApiResponse> {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const ctrl = new AbortController();
    const onAbort = (): void => { ctrl.abort(opts.signal?.reason); };
    if (opts.signal?.aborted === true) throw opts.signal.reason;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = this.clock.setTimeout(() => {
      ctrl.abort(new ApiError('API_TRANSPORT', `GET ${path}: no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const res = await this.open(path, ctrl.signal, undefined, opts.unlimited === true);
      const onItem = opts.onListItem;
      const body = onItem !== undefined && res.statusCode === 200
        ? await readListBody(res, this.maxBodyBytes, onItem)
        : await readBody(res, this.maxBodyBytes, false);
      const headers = res.headers;
      return {
        status: res.statusCode ?? 0,
        body,
        header: (name) => headerValue(headers[name.toLowerCase()]),
      };
    } catch (err) {
      if (isAborted(opts.signal)) throw opts.signal?.reason;
      // Not the caller's signal, so it was our deadline.
      if (ctrl.signal.aborted) throw new ApiError('API_TRANSPORT', `GET ${path}: no complete response within ${timeoutMs} ms`, { cause: err });
      throw toApiError(err, `GET ${path}`);
    } finally {
      timer.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async *stream(path: string, signal: AbortSignal): AsyncGenerator<string> {
    let res: http.IncomingMessage;
    try {
      res = await this.open(path, signal, this.headerTimeoutMs, false);
    } catch (err) {
      if (signal.aborted) return;
      throw toApiError(err, `watch ${path}`);
    }
    try {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const body = await readBody(res, 64 * 1024, true);
        throw statusError(status, body, parseRetryAfter(headerValue(res.headers['retry-after']), this.clock.now()), `watch ${path}`);
      }
      yield* splitLines(res, this.maxBodyBytes);
    } catch (err) {
      if (signal.aborted) return;
      throw toApiError(err, `watch ${path}`);
    } finally {
      res.destroy();
    }
  }

  /** Sends the request; on 401 rebuilds the credentials once and retries. */
  private async open(path: string, signal: AbortSignal, headerTimeoutMs: number | undefined, unlimited: boolean): Promise<http.IncomingMessage> {
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      if (!unlimited) await this.limiter.take(signal);
      const res = await this.send(path, signal, headerTimeoutMs);
      if (res.statusCode !== 401 || attempt > 0) return res;
      res.resume();
      this.reload(generation);
    }
  }

  /** Rebuilds the KubeConfig unless another request already did since `generation`. */
  private reload(generation: number): void {
    if (generation !== this.generation) return;
    this.generation++;
    try {
      this.loaded = loadKubeConfig(this.source);
      this.logger.info({ server: this.loaded.cluster.server }, 'API server answered 401 Unauthorized: credentials reloaded, retrying');
    } catch (err) {
      this.logger.warn({ err: describeError(err) }, 'API server answered 401 Unauthorized and reloading credentials failed; keeping the old ones');
    }
  }

  private async send(path: string, signal: AbortSignal, headerTimeoutMs: number | undefined): Promise<http.IncomingMessage> {
    const { kc, cluster } = this.loaded;
    const applied: https.RequestOptions = { headers: {} };
    try {
      await kc.applyToHTTPSOptions(applied);
    } catch (err) {
      throw new ApiError('API_AUTH', `credentials for ${cluster.server}: ${describeError(err)}`, { cause: err });
    }
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    const headers = plainHeaders(applied.headers);
    const auth = headers['authorization'];
    // client-go trims token files; client-node does not (a trailing newline breaks the header).
    if (auth !== undefined) headers['authorization'] = auth.trim();
    headers['accept'] = 'application/json';
    headers['user-agent'] = this.userAgent;
    const isHttps = url.protocol === 'https:';
    const agent = cluster.proxyUrl !== undefined && cluster.proxyUrl !== '' ? applied.agent : isHttps ? this.httpsAgent : this.httpAgent;
    const reqOpts: https.RequestOptions = { ...tlsOptions(applied), method: 'GET', headers, signal, ...(agent === undefined ? {} : { agent }) };
    if (applied.auth !== undefined && applied.auth !== null) reqOpts.auth = applied.auth;
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, reqOpts);
      const timer = headerTimeoutMs === undefined ? undefined : this.clock.setTimeout(() => {
        req.destroy(new ApiError('API_TRANSPORT', `GET ${path}: no response headers within ${headerTimeoutMs} ms`));
      }, headerTimeoutMs);
      req.once('response', (res) => { timer?.cancel(); resolve(res); });
      req.once('error', (err) => { timer?.cancel(); reject(err); });
      req.end();
    });
  }
}

function tlsOptions(o: https.RequestOptions): https.RequestOptions {
  const out: https.RequestOptions = {};
  if (o.ca !== undefined) out.ca = o.ca;
  if (o.cert !== undefined) out.cert = o.cert;
  if (o.key !== undefined) out.key = o.key;
  if (o.pfx !== undefined) out.pfx = o.pfx;
  if (o.passphrase !== undefined) out.passphrase = o.passphrase;
  if (o.rejectUnauthorized !== undefined) out.rejectUnauthorized = o.rejectUnauthorized;
  if (o.servername !== undefined) out.servername = o.servername;
  return out;
}

function plainHeaders(h: https.RequestOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined || Array.isArray(h)) return out;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function toApiError(err: unknown, what: string): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? ` (${err.code})` : '';
  return new ApiError('API_TRANSPORT', `${what}: ${describeError(err)}${code}`, { cause: err });
}
