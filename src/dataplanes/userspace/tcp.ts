// TCP forwarding: one net.Server per listening address; each accepted connection is spliced
// to an endpoint chosen by the route's pool. Bytes flow with stream.pipe in both directions
// (backpressure: a slow reader pauses the other side's socket), half-close is honoured
// (allowHalfOpen: a client's FIN is passed on while the endpoint may still send), a connect
// timeout and a bounded retry on another endpoint cover dead endpoints (passive health keeps
// them out of rotation), and an idle timeout reaps connections with no traffic either way.
// Nothing is allocated per chunk; bytes are read from the sockets' own counters at close.

import net from 'node:net';
import type { Clock, Timer } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { PassiveHealth } from './balancers/index.ts';
import type { ConnectionBudget } from './budget.ts';
import type { UserspaceMetrics } from './metrics.ts';
import type { EndpointPool, EndpointState } from './pool.ts';
import { normalizeClientIP, type Route } from './route.ts';

export interface ForwarderSettings {
  readonly connectTimeoutMs: number;
  /** 0: no idle timeout. */
  readonly idleTimeoutMs: number;
  /** Endpoints tried per connection before the client is reset. */
  readonly maxConnectAttempts: number;
}

export interface ForwarderDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: UserspaceMetrics;
  readonly budget: ConnectionBudget;
  readonly health: PassiveHealth;
  readonly settings: ForwarderSettings;
}

/** An abortive close (RST) where the socket allows it, else a plain destroy. */
export function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

class ConnectTimeoutError extends Error {
  readonly code = 'USERSPACE_CONNECT_TIMEOUT';
}

/** One client connection, from accept to the close of both sockets. */
class TcpConnection {
  readonly #client: net.Socket;
  readonly #clientIP: string;
  readonly #pool: EndpointPool;
  readonly #deps: ForwarderDeps;
  readonly #onDone: (c: TcpConnection) => void;
  readonly #tried = new Set<EndpointState>();
  #upstream: net.Socket | undefined;
  #endpoint: EndpointState | undefined;
  #timer: Timer | undefined;
  #done = false;

  constructor(client: net.Socket, clientIP: string, pool: EndpointPool, deps: ForwarderDeps, onDone: (c: TcpConnection) => void) {
    this.#client = client;
    this.#clientIP = clientIP;
    this.#pool = pool;
    this.#deps = deps;
    this.#onDone = onDone;
    client.on('error', () => { if (this.#upstream) resetSocket(this.#upstream); });
    client.once('close', () => { this.#abortConnect(); });
  }

  start(): void {
    this.#attempt();
  }

  destroy(): void {
    resetSocket(this.#client);
    if (this.#upstream) resetSocket(this.#upstream);
  }

  #attempt(): void {
    const s = this.#pool.pick(this.#clientIP, this.#tried);
    if (s === undefined) {
      this.#fail();
      return;
    }
    this.#tried.add(s);
    this.#endpoint = s;
    s.active++;
    const up = net.connect({ host: s.ip, port: s.port, allowHalfOpen: true, noDelay: true });
    this.#upstream = up;
    const onError = (err: Error): void => { this.#connectFailed(up, s, err); };
    up.once('error', onError);
    up.once('connect', () => {
      this.#timer?.cancel();
      up.removeListener('error', onError);
      this.#deps.health.succeeded(s);
      this.#splice(up);
    });
    this.#timer = this.#deps.clock.setTimeout(() => {
      up.destroy(new ConnectTimeoutError(`connect to ${s.key} timed out after ${this.#deps.settings.connectTimeoutMs} ms`));
    }, this.#deps.settings.connectTimeoutMs);
  }

  #connectFailed(up: net.Socket, s: EndpointState, err: Error): void {
    this.#timer?.cancel();
    up.destroy();
    s.active--;
    this.#endpoint = undefined;
    this.#upstream = undefined;
    const backoff = this.#deps.health.failed(s);
    this.#deps.metrics.connectFailed(this.#pool.name, s.key);
    const code = (err as NodeJS.ErrnoException).code;
    this.#deps.logger.debug({ service: this.#pool.name.key, endpoint: s.key, code, backoffMs: backoff }, 'connect to endpoint failed');
    if (this.#client.destroyed) {
      this.#finish();
    } else if (this.#tried.size < this.#deps.settings.maxConnectAttempts) {
      this.#attempt();
    } else {
      this.#fail();
    }
  }

  #abortConnect(): void {
    // The client went away before the endpoint answered.
    if (this.#done || this.#upstream?.connecting !== true) return;
    this.#timer?.cancel();
    this.#upstream.destroy();
    this.#finish();
  }

  #fail(): void {
    resetSocket(this.#client);
    this.#finish();
  }

  #splice(up: net.Socket): void {
    const client = this.#client;
    if (client.destroyed) {
      up.destroy();
      this.#finish();
      return;
    }
    up.on('error', () => { resetSocket(client); });
    const idle = this.#deps.settings.idleTimeoutMs;
    if (idle > 0) {
      const onIdle = (): void => { client.destroy(); up.destroy(); };
      client.setTimeout(idle, onIdle);
      up.setTimeout(idle, onIdle);
    }
    let open = 2;
    const onClose = (): void => { if (--open === 0) this.#finish(); };
    client.once('close', onClose);
    up.once('close', onClose);
    client.pipe(up);
    up.pipe(client);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#endpoint) this.#endpoint.active--;
    this.#deps.budget.release();
    this.#deps.metrics.connectionClosed(this.#pool.name, this.#client.bytesRead, this.#client.bytesWritten);
    this.#onDone(this);
  }
}

/** A listening TCP socket whose connections go where `route` says. */
export class TcpFrontend {
  readonly host: string;
  readonly requestedPort: number;
  route: Route;
  readonly #deps: ForwarderDeps;
  readonly #server: net.Server;
  readonly #connections = new Set<TcpConnection>();
  #port = 0;

  constructor(host: string, port: number, route: Route, deps: ForwarderDeps) {
    this.host = host;
    this.requestedPort = port;
    this.route = route;
    this.#deps = deps;
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => { this.#accept(c); });
  }

  /** The bound port (the kernel's choice when requestedPort was 0). */
  get port(): number {
    return this.#port;
  }

  get activeConnections(): number {
    return this.#connections.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => { reject(err); };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.host, port: this.requestedPort, backlog: 4096, ipv6Only: net.isIPv6(this.host) }, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) => { this.#deps.logger.error({ err, host: this.host, port: this.#port }, 'userspace TCP listener error'); });
        const addr = this.#server.address();
        this.#port = typeof addr === 'object' && addr !== null ? addr.port : 0;
        resolve(this.#port);
      });
    });
  }

  /**
   * Stop accepting at once. Established connections keep going (drain) unless `drain` is
   * false. Resolves when the listening socket is closed, not when drained connections end
   * (net.Server's own close callback would wait for those).
   */
  close(drain: boolean): Promise<void> {
    if (!drain) for (const c of this.#connections) c.destroy();
    if (this.#server.listening) this.#server.close();
    return Promise.resolve();
  }

  #accept(client: net.Socket): void {
    const route = this.route;
    const clientIP = normalizeClientIP(client.remoteAddress);
    const pool = route.poolFor(clientIP);
    if (pool === undefined || pool.size === 0) {
      // No endpoint: reject (upstream rejects; for a Local policy with none here it drops —
      // a connection already accepted can only be closed either way).
      client.on('error', () => undefined);
      this.#deps.metrics.refused(route.name, 'no-endpoints');
      resetSocket(client);
      return;
    }
    if (!this.#deps.budget.acquire(route.name)) {
      client.on('error', () => undefined);
      resetSocket(client);
      return;
    }
    this.#deps.metrics.connectionOpened(route.name);
    const conn = new TcpConnection(client, clientIP, pool, this.#deps, (c) => this.#connections.delete(c));
    this.#connections.add(conn);
    conn.start();
  }
}
