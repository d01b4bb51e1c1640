// The proxy health HTTP server (upstream ProxyHealthServer.Run and its healthz/livez handlers),
// default 0.0.0.0:10256.
//
// /healthz and /livez answer 200 when the proxy is healthy and 503 otherwise; /healthz is also
// 503 when the node is not eligible (unknown, being deleted, or tainted for deletion by the
// Cluster Autoscaler), which /livez ignores. The JSON body is upstream's ProxyHealth:
//   {"lastUpdated":T,"currentTime":T,"nodeEligible":B,"healthy":B,"status":{"IPv4":{"lastUpdated":T,"healthy":B}}}
// with Go's time format, nodeEligible only on /healthz, status omitted before any sync.
// "healthy" is the proxiers' health alone (it can be true in a 503 from /healthz). When the
// answer is 200, lastUpdated is the current time (upstream keeps that for compatibility).
// Each answer counts kubeproxy_proxy_healthz_total / kubeproxy_proxy_livez_total by code.

import type http from 'node:http';
import type { Counter } from 'prom-client';
import type { Logger } from '../util/logger.ts';
import { formatGoTime, listenHttp, notFound, splitTarget, toRequestListener, type HttpRequest, type HttpResponse, type ListeningServer } from './http.ts';
import type { ProxyHealth, ProxyHealthReport } from './proxy-health.ts';

export const DEFAULT_HEALTHZ_BIND_ADDRESS = '0.0.0.0:10256';

/** JSON shape of upstream ProxierHealth. */
export interface ProxierHealthJSON {
  readonly lastUpdated: string;
  readonly healthy: boolean;
}

/** JSON shape of upstream ProxyHealth (field order as Go writes it). */
export interface ProxyHealthJSON {
  readonly lastUpdated: string;
  readonly currentTime: string;
  readonly nodeEligible?: boolean;
  readonly healthy: boolean;
  readonly status?: Readonly<Record<string, ProxierHealthJSON>>;
}

export interface HealthServerOptions {
  readonly health: ProxyHealth;
  /** Counters from createProxyMetrics(); omitted: nothing is counted. */
  readonly metrics?: {
    readonly proxyHealthzTotal: Counter<'code'>;
    readonly proxyLivezTotal: Counter<'code'>;
  };
  readonly logger?: Logger;
}

type Probe = 'healthz' | 'livez';

function body(report: ProxyHealthReport, ok: boolean, nodeEligible: boolean | undefined): ProxyHealthJSON {
  const status: Record<string, ProxierHealthJSON> = {};
  for (const [family, h] of report.status) status[family] = { lastUpdated: formatGoTime(h.lastUpdated), healthy: h.healthy };
  return {
    // When healthy, "lastUpdated" is "now", as in older releases where it meant the last time
    // the sync loop ran at all.
    lastUpdated: formatGoTime(ok ? report.currentTime : report.lastUpdated),
    currentTime: formatGoTime(report.currentTime),
    ...(nodeEligible === undefined ? {} : { nodeEligible }),
    healthy: report.healthy,
    ...(report.status.size === 0 ? {} : { status }),
  };
}

export class HealthServer {
  readonly #health: ProxyHealth;
  readonly #metrics: HealthServerOptions['metrics'];
  readonly #logger: Logger | undefined;
  /** The node:http listener for this server, for callers that manage their own http.Server. */
  readonly listener: http.RequestListener;

  constructor(options: HealthServerOptions) {
    this.#health = options.health;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.listener = toRequestListener((request) => this.handle(request), this.#logger);
  }

  /** Answer one request. Any method is accepted, as with Go's ServeMux. */
  handle(request: HttpRequest): HttpResponse {
    const { path } = splitTarget(request.url);
    if (path === '/healthz') return this.#probe('healthz');
    if (path === '/livez') return this.#probe('livez');
    return notFound();
  }

  #probe(probe: Probe): HttpResponse {
    const report = this.#health.health();
    const nodeEligible = probe === 'healthz' ? this.#health.nodeEligible() : undefined;
    const ok = report.healthy && nodeEligible !== false;
    const status = ok ? 200 : 503;
    const counter = probe === 'healthz' ? this.#metrics?.proxyHealthzTotal : this.#metrics?.proxyLivezTotal;
    counter?.labels({ code: String(status) }).inc();
    if (!ok) this.#logger?.debug({ probe, healthy: report.healthy, nodeEligible }, 'health probe failing');
    return {
      status,
      headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' },
      body: JSON.stringify(body(report, ok, nodeEligible)),
    };
  }

  /** Listen on `address` (default 0.0.0.0:10256) until `signal` aborts. */
  listen(address: string = DEFAULT_HEALTHZ_BIND_ADDRESS, signal: AbortSignal): Promise<ListeningServer> {
    return listenHttp(this.listener, address, signal, this.#logger);
  }
}
