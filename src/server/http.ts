// Small HTTP plumbing shared by the health and metrics servers: handlers are plain functions
// from a request description to a response description (testable without a socket), adapted to
// node:http, plus bind-address parsing and a listen() that stops on an AbortSignal. Responses
// follow Go's net/http conventions where upstream relies on them (404 text, http.Error).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from '../util/logger.ts';

export interface HttpRequest {
  readonly method: string;
  /** Request target as received: path plus optional query ("/healthz?verbose"). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export type ServerErrorCode = 'SERVER_BAD_ADDRESS' | 'SERVER_LISTEN_FAILED' | 'SERVER_ABORTED';

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
  }
}

export const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** Split a request target into its path and query (no normalisation, like Go's mux matching). */
export function splitTarget(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return { path, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

/** Go's http.Error: plain text, nosniff, message plus newline. */
export function httpError(message: string, status: number): HttpResponse {
  return {
    status,
    headers: { 'Content-Type': TEXT_PLAIN, 'X-Content-Type-Options': 'nosniff' },
    body: `${message}\n`,
  };
}

/** Go's http.NotFound, which ServeMux serves for unknown paths. */
export function notFound(): HttpResponse {
  return httpError('404 page not found', 404);
}

/**
 * Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed), in UTC.
 * undefined is Go's zero time.
 */
export function formatGoTime(epochMs: number | undefined): string {
  if (epochMs === undefined) return '0001-01-01T00:00:00Z';
  const iso = new Date(epochMs).toISOString(); // 2024-01-01T00:00:00.120Z
  const [seconds, fraction = '000'] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return `${seconds ?? iso}${trimmed === '' ? '' : `.${trimmed}`}Z`;
}

function headerValue(value: string | readonly string[] | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(', ');
}

/** Whether the request accepts the given content coding (e.g. "gzip"). */
export function acceptsEncoding(request: HttpRequest, coding: string): boolean {
  return headerValue(request.headers['accept-encoding'])
    .split(',')
    .some((part) => {
      const [name = '', ...params] = part.trim().toLowerCase().split(';');
      if (name.trim() !== coding) return false;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return q === undefined || Number(q.slice(2)) > 0;
    });
}

/** Adapt a handler to node:http. A handler that throws gets a 500, and is logged. */
export function toRequestListener(handler: HttpHandler, logger?: Logger): http.RequestListener {
  return (req, res) => {
    const request: HttpRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const send = (response: HttpResponse): void => {
      const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
      res.writeHead(response.status, { ...response.headers, 'Content-Length': String(body.byteLength) });
      res.end(body);
    };
    Promise.resolve()
      .then(() => handler(request))
      .then(send, (err: unknown) => {
        logger?.error({ err, path: request.url }, 'HTTP handler failed');
        send(httpError('Internal Server Error', 500));
      })
      .catch((err: unknown) => {
        logger?.error({ err, path: request.url }, 'writing HTTP response failed');
        res.destroy();
      });
  };
}

export interface BindAddress {
  /** undefined: all interfaces. */
  readonly host: string | undefined;
  readonly port: number;
}

/**
 * Parse "host:port", "[v6]:port" or ":port" (Go's net.Listen forms; an empty host means all
 * interfaces). Port 0 picks a free port.
 */
export function parseBindAddress(address: string): BindAddress {
  const bad = (why: string): ServerError =>
    new ServerError('SERVER_BAD_ADDRESS', `invalid bind address ${JSON.stringify(address)}: ${why}`);
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close === -1 || address[close + 1] !== ':') throw bad('expected [IPv6]:port');
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (isIP(host) !== 6) throw bad('not an IPv6 address in brackets');
  } else {
    const colon = address.lastIndexOf(':');
    if (colon === -1) throw bad('missing port');
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) throw bad('IPv6 addresses must be in brackets');
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad('port must be 0-65535');
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

export interface ListeningServer {
  /** Where the server actually listens (the real port when 0 was asked for). */
  readonly address: AddressInfo;
  /** "http://host:port" for the bound address, for logs and tests. */
  readonly url: string;
  /** Settles once the server has closed after the signal aborted. */
  readonly closed: Promise<void>;
}

/**
 * Serve `listener` on `address` until `signal` aborts; then stop accepting, drop open
 * connections and settle `closed`. Rejects with a ServerError when the address is bad or
 * cannot be bound (e.g. in use).
 */
export async function listenHttp(
  listener: http.RequestListener,
  address: string,
  signal: AbortSignal,
  logger?: Logger,
): Promise<ListeningServer> {
  const bind = parseBindAddress(address);
  if (signal.aborted) throw new ServerError('SERVER_ABORTED', `not listening on ${address}: already stopped`);
  const server = http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new ServerError('SERVER_LISTEN_FAILED', `listening on ${address} failed: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => {
    logger?.error({ err, address }, 'HTTP server error');
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string') {
    server.close();
    throw new ServerError('SERVER_LISTEN_FAILED', `listening on ${address} gave no TCP address`);
  }
  const closed = new Promise<void>((resolve) => {
    server.once('close', () => {
      resolve();
    });
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  // The signal may have aborted while we were binding (a read TS cannot see through the await).
  if (isAborted(signal)) stop();
  else signal.addEventListener('abort', stop, { once: true });
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  logger?.info({ address: `${host}:${bound.port}` }, 'HTTP server listening');
  return { address: bound, url: `http://${host}:${bound.port}`, closed };
}
