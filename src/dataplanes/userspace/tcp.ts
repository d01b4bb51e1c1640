// TCP forwarding: one net.Server per listening address; each accepted connection is spliced
// to an endpoint chosen by the route's pool. Bytes flow without streams' pipe in both
// directions with backpressure (a full socket pauses the other side's reads), half-close is
// honoured (allowHalfOpen: a client's FIN is passed on while the endpoint may still send), a
// connect timeout and a bounded retry on another endpoint cover dead endpoints (passive health
// keeps them out of rotation), and an idle timeout reaps connections with no traffic either way.
//
// The per-connection and per-chunk paths are kept lean because that is what the load pays for
// (see bench/README.md): no stream.pipe (a dozen listeners and closures per direction); both
// directions bypass the Readable machinery (net's `onread`: one shared read buffer per thread,
// a copy out per chunk; client sockets are made by the frontend for that, acceptSockets); no
// timer per socket (connect timeouts share one
// FIFO per listener, deadlines.ts; idle timeouts are a periodic sweep over byte counters, so
// nothing runs per chunk); the client address is only looked up (getpeername) when the route or
// the balancer needs it; and a side whose peer has already finished both ways is closed
// outright rather than shut down first (one syscall, one FIN, fewer wake-ups). Bytes are read
// from the sockets' own counters at close.

import net from 'node:net';
import type { Clock, Timer } from '../../util/clock.ts';
import type { Logger } from '../../util/logger.ts';
import type { PassiveHealth } from './balancers/index.ts';
import type { ConnectionBudget } from './budget.ts';
import type { UserspaceMetrics } from './metrics.ts';
import type { EndpointPool, EndpointState } from './pool.ts';
import { DeadlineQueue } from './deadlines.ts';
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

/**
 * An abortive close (RST) where the socket allows it, else a plain destroy. A socket still
 * connecting is destroyed at once (net's resetAndDestroy would wait for the connect, for ever
 * if the endpoint never answers). So is one that was ended and has not finished (its shutdown
 * may be under way): libuv refuses to reset a stream with a shutdown pending (EINVAL), and Node
 * (24) has by then let go of the handle: it is never closed, the socket never emits 'close'
 * (its connection never ends), the fd leaks, and a serving thread stopped later spins for ever
 * in its teardown (Environment::CleanupHandles waits for that handle).
 */
export function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  if (s.connecting || (s.writableEnded && !s.writableFinished)) {
    s.destroy();
    return;
  }
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
  readonly #frontend: TcpFrontend;
  readonly #deps: ForwarderDeps;
  /** Endpoints already tried (created on the first retry only). */
  #tried: Set<EndpointState> | undefined;
  #attempts = 0;
  #upstream: net.Socket | undefined;
  #endpoint: EndpointState | undefined;
  /** Ticket of the pending connect deadline, -1 when none. */
  #deadline = -1;
  #spliced = false;
  #open = 0;
  #done = false;
  /** Idle sweep: client byte count at the last sweep, and when it last changed (-1: not yet seen). */
  #seenBytes = 0;
  #activeAt = -1;

  /** The client socket reads through `fromClient` (an onread socket made by acceptSockets), not 'data' events. */
  readonly #onread: boolean;

  constructor(client: net.Socket, clientIP: string, pool: EndpointPool, frontend: TcpFrontend, deps: ForwarderDeps, onread: boolean) {
    this.#client = client;
    this.#onread = onread;
    this.#clientIP = clientIP;
    this.#pool = pool;
    this.#frontend = frontend;
    this.#deps = deps;
    client.on('error', () => { if (this.#upstream !== undefined) resetSocket(this.#upstream); });
    client.on('close', () => { if (this.#spliced) this.#closedOne(); else this.#abortConnect(); });
  }

  start(): void {
    this.#attempt();
  }

  destroy(): void {
    resetSocket(this.#client);
    if (this.#upstream) resetSocket(this.#upstream);
  }

  /** The connect deadline passed (called by the listener's deadline queue). */
  connectTimedOut(): void {
    this.#deadline = -1;
    const up = this.#upstream;
    const s = this.#endpoint;
    if (up === undefined || s === undefined || !up.connecting) return;
    up.destroy(new ConnectTimeoutError(`connect to ${s.key} timed out after ${this.#deps.settings.connectTimeoutMs} ms`));
  }

  /** Idle sweep: close both sides when neither carried a byte for `idleMs`. */
  checkIdle(now: number, idleMs: number): void {
    if (!this.#spliced || this.#done) return;
    const c = this.#client;
    const seen = c.bytesRead + c.bytesWritten;
    if (this.#activeAt < 0 || seen !== this.#seenBytes) {
      this.#seenBytes = seen;
      this.#activeAt = now;
    } else if (now - this.#activeAt >= idleMs) {
      c.destroy();
      this.#upstream?.destroy();
    }
  }

  #attempt(): void {
    const s = this.#pool.pick(this.#clientIP, this.#tried);
    if (s === undefined) {
      this.#fail();
      return;
    }
    this.#attempts++;
    this.#endpoint = s;
    s.active++;
    const client = this.#client;
    const up = net.connect({
      host: s.ip, port: s.port, allowHalfOpen: true, noDelay: true,
      // Endpoint → client bytes skip the stream machinery: read into this thread's one buffer,
      // copied out (small copies come from Node's buffer pool) and written to the client;
      // `false` stops reading until the client drains.
      onread: { buffer: UPSTREAM_READ_BUFFER, callback: (n: number, buf: Uint8Array) => client.write(copyOut(buf, n)) },
    });
    this.#upstream = up;
    up.on('error', (err) => {
      if (this.#upstream !== up) return;
      if (this.#spliced) resetSocket(this.#client);
      else this.#connectFailed(up, s, err);
    });
    up.on('connect', () => {
      if (this.#upstream !== up) return;
      this.#frontend.cancelDeadline(this.#deadline);
      this.#deadline = -1;
      this.#deps.health.succeeded(s);
      this.#splice(up);
    });
    this.#deadline = this.#frontend.connectDeadline(this);
  }

  #connectFailed(up: net.Socket, s: EndpointState, err: Error): void {
    this.#frontend.cancelDeadline(this.#deadline);
    this.#deadline = -1;
    up.destroy();
    s.active--;
    this.#endpoint = undefined;
    this.#upstream = undefined;
    (this.#tried ??= new Set()).add(s);
    const backoff = this.#deps.health.failed(s);
    this.#deps.metrics.connectFailed(this.#pool.name, s.key);
    const code = (err as NodeJS.ErrnoException).code;
    this.#deps.logger.debug({ service: this.#pool.name.key, endpoint: s.key, code, backoffMs: backoff }, 'connect to endpoint failed');
    if (this.#client.destroyed) {
      this.#finish();
    } else if (this.#attempts < this.#deps.settings.maxConnectAttempts) {
      this.#attempt();
    } else {
      this.#fail();
    }
  }

  #abortConnect(): void {
    // The client closed before the connection was spliced: it went away while the endpoint had
    // not answered yet, or destroy() reset both sockets (the endpoint's is then no longer
    // `connecting`, and must not keep this connection open: its frontend's idle sweep would
    // re-arm for ever and hold the process at shutdown).
    if (this.#done) return;
    this.#frontend.cancelDeadline(this.#deadline);
    this.#deadline = -1;
    this.#upstream?.destroy();
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
    this.#spliced = true;
    this.#open = 2;
    up.on('close', () => { this.#closedOne(); });
    // client → endpoint: the onread callback (fromClient) when the frontend made the client
    // socket, else 'data' events; the endpoint draining resumes reading either way.
    if (!this.#onread) client.on('data', (chunk: Buffer) => { if (!up.write(chunk)) client.pause(); });
    up.on('drain', () => { client.resume(); });
    // endpoint → client: the onread callback set at connect; the client draining resumes it.
    client.on('drain', () => { up.resume(); });
    passEnd(client, up);
    passEnd(up, client);
    client.resume();
  }

  /** A chunk from the client (onread sockets): copied out of the shared buffer and written on; false pauses reading until the endpoint drains. */
  fromClient(n: number, buf: Uint8Array): boolean {
    const up = this.#upstream;
    if (up === undefined || !this.#spliced) return false;
    return up.write(copyOut(buf, n));
  }

  #closedOne(): void {
    if (--this.#open === 0) this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#endpoint) this.#endpoint.active--;
    this.#deps.budget.release();
    this.#deps.metrics.connectionClosed(this.#pool.name, this.#client.bytesRead, this.#client.bytesWritten);
    this.#frontend.connectionDone(this);
  }
}

/**
 * The read buffer of every socket of this thread (endpoint sockets, and client sockets made by
 * acceptSockets). Reused at once after each read: what is read is copied out before anything
 * else can read into it (a write that cannot complete at once keeps a reference to its chunk,
 * so the chunk must not be this buffer).
 */
const UPSTREAM_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** What acceptSockets needs of net's listening handle (TCPWrap): its accept callback. */
interface ListenHandle {
  onconnection: (this: ListenHandle, status: number, clientHandle: object | undefined) => void;
}

function listenHandle(server: net.Server): ListenHandle | undefined {
  const h: unknown = (server as unknown as { _handle?: unknown })._handle;
  if (typeof h !== 'object' || h === null || typeof (h as Partial<ListenHandle>).onconnection !== 'function') return undefined;
  return h as ListenHandle;
}

/**
 * Make the client sockets of `server` ourselves, each with an onread callback (the client →
 * endpoint direction then skips the Readable machinery, as the other direction does), instead
 * of net.Server's own socket per connection: net's accept callback on the listening handle is
 * replaced; errors still go to it. net has no public way to give accepted sockets an onread
 * buffer; Node is pinned (package.json), and without the handle's callback (another Node) this
 * returns false and the server's 'connection' path with 'data' events is used.
 */
function acceptSockets(server: net.Server, onSocket: (client: net.Socket, pending: { conn: TcpConnection | undefined }) => void): boolean {
  const h = listenHandle(server);
  if (h === undefined) return false;
  const netAccept = h.onconnection;
  h.onconnection = function onconnection(status, clientHandle) {
    if (status !== 0 || clientHandle === undefined) {
      netAccept.call(this, status, clientHandle);
      return;
    }
    const pending: { conn: TcpConnection | undefined } = { conn: undefined };
    const client = new net.Socket({
      handle: clientHandle, allowHalfOpen: true, pauseOnCreate: true, readable: true, writable: true,
      onread: { buffer: UPSTREAM_READ_BUFFER, callback: (n: number, buf: Uint8Array) => pending.conn?.fromClient(n, buf) ?? false },
    } as net.SocketConstructorOpts);
    client.setNoDelay(true);
    onSocket(client, pending);
  };
  return true;
}

function copyOut(buf: Uint8Array, n: number): Buffer {
  const chunk = Buffer.allocUnsafe(n);
  chunk.set(buf.subarray(0, n));
  return chunk;
}

/**
 * When `from` ends, pass the FIN on to `to`. If `to` has already ended and has nothing
 * buffered, the connection is over both ways: `to` is closed outright (close sends the FIN)
 * instead of shutdown-then-close; `from` closes itself (autoDestroy) once its own writes are
 * flushed.
 */
function passEnd(from: net.Socket, to: net.Socket): void {
  from.on('end', () => {
    if (to.readableEnded && to.writableLength === 0) to.destroy();
    else to.end();
  });
}

/** A listening TCP socket whose connections go where `route` says. */
export class TcpFrontend {
  readonly host: string;
  readonly requestedPort: number;
  route: Route;
  readonly #deps: ForwarderDeps;
  readonly #server: net.Server;
  readonly #connections = new Set<TcpConnection>();
  readonly #deadlines: DeadlineQueue<TcpConnection>;
  #idleSweep: Timer | undefined;
  #port = 0;
  #closed = false;
  /** Client sockets are made by acceptSockets (onread), not by net.Server. */
  #onread = false;
  /** Resolves drained(): set once asked, called when closed with no connection left. */
  #onDrained: (() => void) | undefined;
  #drained: Promise<void> | undefined;
  readonly #reusePort: boolean;

  /** `reusePort`: SO_REUSEPORT, so other serving threads can listen on the same port (threads/). */
  constructor(host: string, port: number, route: Route, deps: ForwarderDeps, reusePort = false) {
    this.host = host;
    this.requestedPort = port;
    this.route = route;
    this.#deps = deps;
    this.#reusePort = reusePort;
    this.#deadlines = new DeadlineQueue<TcpConnection>(deps.clock, deps.settings.connectTimeoutMs, (c) => { c.connectTimedOut(); });
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => { this.#accept(c, false); });
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
      this.#server.listen({ host: this.host, port: this.requestedPort, backlog: 4096, ipv6Only: net.isIPv6(this.host), reusePort: this.#reusePort }, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', (err) => { this.#deps.logger.error({ err, host: this.host, port: this.#port }, 'userspace TCP listener error'); });
        this.#onread = acceptSockets(this.#server, (c, pending) => { pending.conn = this.#accept(c, true); });
        const addr = this.#server.address();
        this.#port = typeof addr === 'object' && addr !== null ? addr.port : 0;
        // Closed while the bind was under way: do not keep listening.
        if (this.#closed) this.#server.close();
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
    this.#closed = true;
    if (!drain) {
      for (const c of this.#connections) c.destroy();
      // Nothing of this listener may outlive it: no connect deadline, no idle sweep (the
      // destroyed connections report their close on a later turn of the loop).
      this.#deadlines.clear();
      this.#idleSweep?.cancel();
      this.#idleSweep = undefined;
    }
    if (this.#server.listening) this.#server.close();
    this.#checkDrained();
    return Promise.resolve();
  }

  /** Resolves once the listener is closed and its last connection has ended. */
  drained(): Promise<void> {
    this.#drained ??= new Promise((resolve) => { this.#onDrained = resolve; });
    this.#checkDrained();
    return this.#drained;
  }

  #checkDrained(): void {
    if (!this.#closed || this.#connections.size > 0 || this.#onDrained === undefined) return;
    this.#onDrained();
    this.#onDrained = undefined;
  }

  /** Start a connect deadline for `c`; returns its ticket. */
  connectDeadline(c: TcpConnection): number {
    return this.#deadlines.add(c);
  }

  cancelDeadline(ticket: number): void {
    if (ticket >= 0) this.#deadlines.cancel(ticket);
  }

  connectionDone(c: TcpConnection): void {
    this.#connections.delete(c);
    if (this.#connections.size > 0) return;
    if (this.#idleSweep !== undefined) {
      this.#idleSweep.cancel();
      this.#idleSweep = undefined;
    }
    this.#checkDrained();
  }

  /** Whether accepted client sockets read through onread (acceptSockets) rather than 'data' events. */
  get readsWithOnread(): boolean {
    return this.#onread;
  }

  #accept(client: net.Socket, onread: boolean): TcpConnection | undefined {
    const route = this.route;
    // getpeername only when something needs the address (node-local routing, affinity, hashing).
    let clientIP = route.needsClientIP ? normalizeClientIP(client.remoteAddress) : '';
    const pool = route.poolFor(clientIP);
    if (pool === undefined || pool.size === 0) {
      // No endpoint: reject (upstream rejects; for a Local policy with none here it drops —
      // a connection already accepted can only be closed either way).
      client.on('error', () => undefined);
      this.#deps.metrics.refused(route.name, 'no-endpoints');
      resetSocket(client);
      return undefined;
    }
    if (!this.#deps.budget.acquire(route.name)) {
      client.on('error', () => undefined);
      resetSocket(client);
      return undefined;
    }
    if (clientIP === '' && pool.needsClientIP) clientIP = normalizeClientIP(client.remoteAddress);
    this.#deps.metrics.connectionOpened(route.name);
    const conn = new TcpConnection(client, clientIP, pool, this, this.#deps, onread);
    this.#connections.add(conn);
    this.#armIdleSweep();
    conn.start();
    return conn;
  }

  #armIdleSweep(): void {
    const idle = this.#deps.settings.idleTimeoutMs;
    if (this.#idleSweep !== undefined || idle <= 0 || this.#connections.size === 0) return;
    // A connection idle for `idle` ms is closed within a quarter of that (at most a minute) more.
    const every = Math.min(60_000, Math.max(10, Math.floor(idle / 4)));
    this.#idleSweep = this.#deps.clock.setTimeout(() => {
      this.#idleSweep = undefined;
      const now = this.#deps.clock.monotonic();
      for (const c of this.#connections) c.checkIdle(now, idle);
      if (this.#connections.size > 0) this.#armIdleSweep();
    }, every);
  }
}
