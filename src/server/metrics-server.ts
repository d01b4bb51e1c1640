// The metrics HTTP server (upstream cmd/kube-proxy/app/server.go serveMetrics), default
// 127.0.0.1:10249:
//   /metrics      Prometheus text exposition of the registry (gzip when accepted)
//   /healthz      component-base healthz with its one "ping" check: "ok"
//                 (?verbose: "[+]ping ok\nhealthz check passed\n"); /healthz/ping: "ok"
//   /proxyMode    the proxy mode as plain text
//   /configz      {"kubeproxy.config.k8s.io": <effective configuration>}
//   anything else 404 "404 page not found"

import type http from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Registry } from 'prom-client';
import type { Logger } from '../util/logger.ts';
import {
  TEXT_PLAIN,
  acceptsEncoding,
  httpError,
  listenHttp,
  notFound,
  splitTarget,
  toRequestListener,
  type HttpRequest,
  type HttpResponse,
  type ListeningServer,
} from './http.ts';

export const DEFAULT_METRICS_BIND_ADDRESS = '127.0.0.1:10249';
/** The configz section kube-proxy registers (its config API group). */
export const CONFIGZ_GROUP = 'kubeproxy.config.k8s.io';

const gzipAsync = promisify(gzip);

export interface MetricsServerOptions {
  readonly registry: Registry;
  /** The proxy mode in use ("nftables", "iptables", …). */
  readonly proxyMode: string | (() => string);
  /** The effective configuration, served under "kubeproxy.config.k8s.io" on /configz. */
  readonly configz: () => unknown;
  readonly logger?: Logger;
}

const plain = (text: string): HttpResponse => ({
  status: 200,
  headers: { 'Content-Type': TEXT_PLAIN, 'X-Content-Type-Options': 'nosniff' },
  body: text,
});

export class MetricsServer {
  readonly #registry: Registry;
  readonly #proxyMode: () => string;
  readonly #configz: () => unknown;
  readonly #logger: Logger | undefined;
  /** The node:http listener for this server, for callers that manage their own http.Server. */
  readonly listener: http.RequestListener;

  constructor(options: MetricsServerOptions) {
    this.#registry = options.registry;
    const mode = options.proxyMode;
    this.#proxyMode = typeof mode === 'string' ? () => mode : mode;
    this.#configz = options.configz;
    this.#logger = options.logger;
    this.listener = toRequestListener((request) => this.handle(request), this.#logger);
  }

  /** Answer one request. Any method is accepted, as with Go's ServeMux. */
  async handle(request: HttpRequest): Promise<HttpResponse> {
    const { path, query } = splitTarget(request.url);
    switch (path) {
      case '/metrics':
        return this.#metrics(request);
      case '/healthz':
        // component-base healthz.InstallHandler with the default ping check.
        return plain(query.has('verbose') ? '[+]ping ok\nhealthz check passed\n' : 'ok');
      case '/healthz/ping':
        return plain('ok');
      case '/proxyMode':
        return plain(this.#proxyMode());
      case '/configz':
        return this.#configzResponse();
      default:
        return notFound();
    }
  }

  async #metrics(request: HttpRequest): Promise<HttpResponse> {
    let text: string;
    try {
      text = await this.#registry.metrics();
    } catch (err: unknown) {
      this.#logger?.error({ err }, 'gathering metrics failed');
      return httpError(`An error has occurred while serving metrics:\n\n${err instanceof Error ? err.message : String(err)}`, 500);
    }
    const headers: Record<string, string> = { 'Content-Type': this.#registry.contentType };
    if (acceptsEncoding(request, 'gzip')) {
      return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: await gzipAsync(text) };
    }
    return { status: 200, headers, body: text };
  }

  #configzResponse(): HttpResponse {
    let json: string;
    try {
      json = JSON.stringify({ [CONFIGZ_GROUP]: this.#configz() });
    } catch (err: unknown) {
      return httpError(`error marshaling json: ${err instanceof Error ? err.message : String(err)}`, 500);
    }
    return { status: 200, headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' }, body: json };
  }

  /** Listen on `address` (default 127.0.0.1:10249) until `signal` aborts. */
  listen(address: string = DEFAULT_METRICS_BIND_ADDRESS, signal: AbortSignal): Promise<ListeningServer> {
    return listenHttp(this.listener, address, signal, this.#logger);
  }
}
