// healthCheckNodePort servers (upstream pkg/proxy/healthcheck/service_health.go): for each
// Service with externalTrafficPolicy Local and a healthCheckNodePort, an HTTP server on that
// port tells the cloud load balancer whether this node has ready local endpoints:
//
//   200 when localEndpoints > 0 and the proxy is healthy, else 503;
//   header X-Load-Balancing-Endpoint-Weight: <localEndpoints>;
//   body {"service":{"namespace","name"},"localEndpoints":N,"serviceProxyHealthy":bool}.
//
// Servers listen on the nodePortAddresses IPs (all addresses when none are given). Updates are
// incremental: only Services whose port or local endpoint count changed are touched.
//
// Dual-stack: upstream runs one proxier per family, each with its own servers on its family's
// addresses, each counting its own family's endpoints. Here one server per address answers
// with the count of the family of the address the request came to (an IPv4 request to a "::"
// listener arrives on an IPv4-mapped address); a family the counts do not cover gets the
// largest count.

import http from 'node:http';
import type { IPFamily, ServiceKey } from '../model/types.ts';
import type { Logger } from '../util/logger.ts';

export interface ServiceHealthOptions {
  /** Addresses to listen on; empty: all addresses ("::" dual-stack, else "0.0.0.0"). */
  readonly addresses: readonly string[];
  /** Is the proxy itself healthy (upstream: the healthz server's IsHealthy). */
  readonly proxyHealthy: () => boolean;
  readonly logger: Logger;
}

interface Entry {
  readonly port: number;
  readonly servers: http.Server[];
  /** The largest family's count (or the only count given). */
  localEndpoints: number;
  /** Per family, when given. */
  byFamily: ReadonlyMap<IPFamily, number> | undefined;
}

/** The family of a socket's local address ("::ffff:10.0.0.1" is IPv4). */
function familyOfAddress(addr: string | undefined): IPFamily | undefined {
  if (addr === undefined || addr === '') return undefined;
  return addr.includes('.') ? 'IPv4' : 'IPv6';
}

function body(service: ServiceKey, count: number, healthy: boolean): string {
  const slash = service.indexOf('/');
  const namespace = service.slice(0, slash);
  const name = service.slice(slash + 1);
  return JSON.stringify({ service: { namespace, name }, localEndpoints: count, serviceProxyHealthy: healthy }, null, '\t');
}

export class ServiceHealthServer {
  readonly #o: ServiceHealthOptions;
  readonly #entries = new Map<ServiceKey, Entry>();

  constructor(options: ServiceHealthOptions) {
    this.#o = options;
  }

  /** Answer for one Service, to a request that came to an address of `family` (exposed for tests that do not need a socket). */
  respond(service: ServiceKey, family?: IPFamily): { status: number; headers: Record<string, string>; body: string } {
    const entry = this.#entries.get(service);
    const count = (family === undefined ? undefined : entry?.byFamily?.get(family)) ?? entry?.localEndpoints ?? 0;
    const healthy = this.#o.proxyHealthy();
    return {
      status: count !== 0 && healthy ? 200 : 503,
      headers: {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'X-Load-Balancing-Endpoint-Weight': String(count),
      },
      body: body(service, count, healthy),
    };
  }

  /** Services and their healthCheckNodePort; a Service missing from the map loses its server. */
  syncServices(ports: ReadonlyMap<ServiceKey, number>): void {
    for (const [svc, entry] of this.#entries) {
      if (ports.get(svc) !== entry.port) this.#stop(svc, entry);
    }
    for (const [svc, port] of ports) {
      if (!this.#entries.has(svc)) this.#start(svc, port);
    }
  }

  /** Update one Service's server: port 0 or undefined removes it. `localEndpoints`: one count, or one per family. */
  syncService(service: ServiceKey, port: number | undefined, localEndpoints: number | ReadonlyMap<IPFamily, number>): void {
    const entry = this.#entries.get(service);
    if (entry !== undefined && entry.port !== port) this.#stop(service, entry);
    if (port !== undefined && port !== 0 && !this.#entries.has(service)) this.#start(service, port);
    const now = this.#entries.get(service);
    if (now === undefined) return;
    if (typeof localEndpoints === 'number') {
      now.localEndpoints = localEndpoints;
      now.byFamily = undefined;
    } else {
      now.localEndpoints = Math.max(0, ...localEndpoints.values());
      now.byFamily = localEndpoints;
    }
  }

  /** Ready local endpoint counts per Service. */
  syncEndpoints(counts: ReadonlyMap<ServiceKey, number>): void {
    for (const [svc, entry] of this.#entries) {
      entry.localEndpoints = counts.get(svc) ?? 0;
      entry.byFamily = undefined;
    }
  }

  /** healthCheckNodePort of each served Service. */
  ports(): Map<ServiceKey, number> {
    return new Map([...this.#entries].map(([k, e]) => [k, e.port]));
  }

  async close(): Promise<void> {
    const all = [...this.#entries];
    this.#entries.clear();
    await Promise.all(all.flatMap(([, e]) => e.servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => { resolve(); });
      s.closeAllConnections();
    }))));
  }

  #start(service: ServiceKey, port: number): void {
    const entry: Entry = { port, servers: [], localEndpoints: 0, byFamily: undefined };
    this.#entries.set(service, entry);
    const hosts = this.#o.addresses.length > 0 ? this.#o.addresses : [undefined];
    for (const host of hosts) {
      const server = http.createServer((req, res) => {
        const r = this.respond(service, familyOfAddress(req.socket.localAddress));
        res.writeHead(r.status, r.headers);
        res.end(r.body);
        req.resume();
      });
      server.on('error', (err) => {
        // Upstream logs and records an event; the Service keeps working without the check.
        this.#o.logger.error({ err, service, port, address: host ?? '*' }, 'failed to start the healthCheckNodePort server');
      });
      server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
        this.#o.logger.debug({ service, port, address: host ?? '*' }, 'healthCheckNodePort server listening');
      });
      entry.servers.push(server);
    }
  }

  #stop(service: ServiceKey, entry: Entry): void {
    this.#entries.delete(service);
    for (const s of entry.servers) {
      s.close();
      s.closeAllConnections();
    }
    this.#o.logger.debug({ service, port: entry.port }, 'healthCheckNodePort server closed');
  }
}
