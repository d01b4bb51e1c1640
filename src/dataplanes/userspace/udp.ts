// UDP forwarding: a flow table keyed by client address:port. The first datagram of a flow
// picks an endpoint and opens a connected socket to it (so replies are attributed to the flow
// by the kernel); replies go back out of the listening socket, i.e. from the address the
// client sent to (with nftables redirect, conntrack turns that back into the service IP).
// A flow whose endpoint is no longer alive (removed, or neither ready nor serving) is
// replaced on its next datagram — the userspace form of upstream's stale-conntrack cleanup —
// and flows idle for udpIdleTimeoutMs are closed by a periodic sweep.

import dgram from 'node:dgram';
import net from 'node:net';
import type { Timer } from '../../util/clock.ts';
import type { EndpointPool, EndpointState } from './pool.ts';
import { normalizeClientIP, type Route } from './route.ts';
import type { ForwarderDeps } from './tcp.ts';

/** Datagrams held per flow while its socket connects; more are dropped. */
const MAX_PENDING = 64;

/** A route that also says which endpoints flows may stay pinned to. */
export interface UdpRoute extends Route {
  /** Endpoints a flow may keep using: ready, or serving while terminating. */
  readonly alive: ReadonlySet<string>;
}

class UdpFlow {
  readonly key: string;
  readonly clientIP: string;
  readonly clientPort: number;
  readonly pool: EndpointPool;
  readonly endpoint: EndpointState;
  readonly socket: dgram.Socket;
  lastActive: number;
  bytesIn = 0;
  bytesOut = 0;
  pending: Buffer[] | undefined = [];
  closed = false;

  constructor(key: string, clientIP: string, clientPort: number, pool: EndpointPool, endpoint: EndpointState, socket: dgram.Socket, now: number) {
    this.key = key;
    this.clientIP = clientIP;
    this.clientPort = clientPort;
    this.pool = pool;
    this.endpoint = endpoint;
    this.socket = socket;
    this.lastActive = now;
  }
}

export class UdpFrontend {
  readonly host: string;
  readonly requestedPort: number;
  route: UdpRoute;
  readonly #deps: ForwarderDeps;
  readonly #socket: dgram.Socket;
  readonly #type: 'udp4' | 'udp6';
  readonly #flows = new Map<string, UdpFlow>();
  readonly #idleMs: number;
  #sweep: Timer | undefined;
  #port = 0;
  #closed = false;

  constructor(host: string, port: number, route: UdpRoute, deps: ForwarderDeps, idleTimeoutMs: number) {
    this.host = host;
    this.requestedPort = port;
    this.route = route;
    this.#deps = deps;
    this.#idleMs = idleTimeoutMs;
    this.#type = net.isIPv6(host) ? 'udp6' : 'udp4';
    this.#socket = dgram.createSocket({ type: this.#type, ipv6Only: this.#type === 'udp6' });
    this.#socket.on('message', (msg, rinfo) => { this.#onMessage(msg, rinfo.address, rinfo.port); });
  }

  get port(): number {
    return this.#port;
  }

  get activeFlows(): number {
    return this.#flows.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => { reject(err); };
      this.#socket.once('error', onError);
      this.#socket.bind({ address: this.host, port: this.requestedPort, exclusive: true }, () => {
        this.#socket.removeListener('error', onError);
        this.#socket.on('error', (err) => { this.#deps.logger.error({ err, host: this.host, port: this.#port }, 'userspace UDP listener error'); });
        this.#port = this.#socket.address().port;
        resolve(this.#port);
      });
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#sweep?.cancel();
    this.#sweep = undefined;
    for (const f of [...this.#flows.values()]) this.#closeFlow(f);
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => { resolve(); });
      } catch {
        resolve(); // never bound
      }
    });
  }

  #onMessage(msg: Buffer, address: string, port: number): void {
    const key = `${address} ${port}`;
    let flow = this.#flows.get(key);
    if (flow !== undefined && !this.route.alive.has(flow.endpoint.key)) {
      this.#closeFlow(flow);
      flow = undefined;
    }
    flow ??= this.#openFlow(key, normalizeClientIP(address), port);
    if (flow === undefined) return;
    flow.lastActive = this.#deps.clock.monotonic();
    flow.bytesIn += msg.length;
    if (flow.pending === undefined) flow.socket.send(msg);
    else if (flow.pending.length < MAX_PENDING) flow.pending.push(msg);
  }

  #openFlow(key: string, clientIP: string, clientPort: number): UdpFlow | undefined {
    const route = this.route;
    const pool = route.poolFor(clientIP);
    if (pool === undefined || pool.size === 0) {
      this.#deps.metrics.refused(route.name, 'no-endpoints');
      return undefined;
    }
    if (!this.#deps.budget.acquire(route.name)) return undefined;
    const endpoint = pool.pick(clientIP);
    if (endpoint === undefined) {
      this.#deps.budget.release();
      return undefined;
    }
    const socket = dgram.createSocket(this.#type);
    const flow = new UdpFlow(key, clientIP, clientPort, pool, endpoint, socket, this.#deps.clock.monotonic());
    endpoint.active++;
    this.#flows.set(key, flow);
    this.#deps.metrics.connectionOpened(route.name);
    socket.on('message', (reply) => {
      flow.lastActive = this.#deps.clock.monotonic();
      flow.bytesOut += reply.length;
      this.#socket.send(reply, flow.clientPort, flow.clientIP);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // ICMP port unreachable surfaces as ECONNREFUSED on a connected socket: the endpoint
      // is not listening. The next datagram of this client picks another one.
      const backoff = this.#deps.health.failed(endpoint);
      this.#deps.metrics.connectFailed(pool.name, endpoint.key);
      this.#deps.logger.debug({ service: pool.name.key, endpoint: endpoint.key, code: err.code, backoffMs: backoff }, 'UDP endpoint failed');
      this.#closeFlow(flow);
    });
    socket.connect(endpoint.port, endpoint.ip, () => {
      const pending = flow.pending ?? [];
      flow.pending = undefined;
      if (flow.closed) return;
      for (const m of pending) socket.send(m);
    });
    this.#armSweep();
    return flow;
  }

  #closeFlow(flow: UdpFlow): void {
    if (flow.closed) return;
    flow.closed = true;
    if (this.#flows.get(flow.key) === flow) this.#flows.delete(flow.key);
    flow.endpoint.active--;
    this.#deps.budget.release();
    this.#deps.metrics.connectionClosed(flow.pool.name, flow.bytesIn, flow.bytesOut);
    try {
      flow.socket.close();
    } catch {
      // already closed
    }
  }

  #armSweep(): void {
    if (this.#sweep !== undefined || this.#closed || this.#idleMs <= 0) return;
    const every = Math.max(50, Math.floor(this.#idleMs / 4));
    this.#sweep = this.#deps.clock.setTimeout(() => {
      this.#sweep = undefined;
      const now = this.#deps.clock.monotonic();
      for (const f of [...this.#flows.values()]) if (now - f.lastActive >= this.#idleMs) this.#closeFlow(f);
      if (this.#flows.size > 0) this.#armSweep();
    }, every);
  }
}
