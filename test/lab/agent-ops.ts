// Client operations an agent performs from inside its namespace: one TCP (HTTP/1.0) or UDP
// request, batches, plain HTTP GETs, a continuous connection load, a UDP stream from a
// fixed source port, and long-lived connections to line servers (held open, pinged later).
// Every new TCP request is a new connection (a new conntrack entry, so a new load-balancing
// decision).

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect, isIPv6, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseReply, type GetResult, type Held, type Hit, type HitProto, type LoadReport, type StreamReport, type Target } from './agent-protocol.ts';

const DEFAULT_TIMEOUT_MS = 2000;

function errorCode(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ?? err.message;
  }
  return String(err);
}

function hitFromText(text: string, from: string, t0: number): Hit {
  const ms = performance.now() - t0;
  const r = parseReply(text);
  if (r === undefined) return { ok: false, error: `unexpected reply ${JSON.stringify(text.slice(0, 200))}`, ms };
  return { ok: true, ...r, from, ms };
}

/** One HTTP/1.0 request on a new TCP connection. */
export function tcpHit(t: Target): Promise<Hit> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let data = '';
    const sock = connect({
      host: t.host, port: t.port,
      ...(t.localAddress !== undefined ? { localAddress: t.localAddress } : {}),
      ...(t.localPort !== undefined && t.localPort !== 0 ? { localPort: t.localPort } : {}),
    });
    const done = (h: Hit): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => { done({ ok: false, error: 'ETIMEDOUT', ms: performance.now() - t0 }); }, t.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('connect', () => { sock.write(`GET / HTTP/1.0\r\nHost: ${t.host}\r\n\r\n`); });
    sock.on('data', (chunk: string) => { data += chunk; });
    sock.on('end', () => {
      const at = data.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d+)/.exec(data)?.[1];
      if (at < 0 || status !== '200') {
        done({ ok: false, error: `bad HTTP response ${JSON.stringify(data.slice(0, 200))}`, ms: performance.now() - t0 });
        return;
      }
      done(hitFromText(data.slice(at + 4).trim(), `${t.host}:${t.port}`, t0));
    });
    sock.on('error', (err) => { done({ ok: false, error: errorCode(err), ms: performance.now() - t0 }); });
  });
}

function connectTo(t: Target): Socket {
  return connect({
    host: t.host, port: t.port,
    ...(t.localAddress !== undefined ? { localAddress: t.localAddress } : {}),
    ...(t.localPort !== undefined && t.localPort !== 0 ? { localPort: t.localPort } : {}),
  });
}

/**
 * A connection to a line server: each line sent is answered with one line. It records why it
 * ended (the first error code, or EOF when the far side closed), so a later round trip on a
 * connection that broke meanwhile reports that.
 */
class LineConnection {
  readonly #sock: Socket;
  #buf = '';
  #ended: string | undefined;
  #waiter: ((line: string | undefined) => void) | undefined;

  constructor(sock: Socket) {
    this.#sock = sock;
    sock.setEncoding('utf8');
    sock.setNoDelay(true);
    sock.on('data', (c: string) => {
      this.#buf += c;
      this.#deliver();
    });
    sock.on('error', (err) => { this.#end(errorCode(err)); });
    sock.on('end', () => {
      this.#end('EOF');
      sock.destroy();
    });
    sock.on('close', () => { this.#end('closed'); });
  }

  /** Why the connection ended, if it did. */
  get ended(): string | undefined {
    return this.#ended;
  }

  /** Resolves once connected; undefined, or the error code. */
  connected(timeoutMs: number): Promise<string | undefined> {
    if (!this.#sock.connecting) return Promise.resolve(this.#ended);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#end('ETIMEDOUT');
        this.#sock.destroy();
        resolve('ETIMEDOUT');
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(this.#ended);
      };
      this.#sock.once('connect', done);
      this.#sock.once('close', done);
    });
  }

  /** Sends a line and waits for the answer: which pod, and the client address it saw. */
  async roundTrip(target: string, timeoutMs: number): Promise<Hit> {
    const t0 = performance.now();
    if (this.#ended !== undefined) return { ok: false, error: this.#ended, ms: 0 };
    if (this.#waiter !== undefined) return { ok: false, error: 'a round trip is already in flight', ms: 0 };
    const line = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (l) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(l);
      };
      this.#sock.write('ping\n');
    });
    if (line === undefined) return { ok: false, error: this.ended ?? 'ETIMEDOUT', ms: performance.now() - t0 };
    return hitFromText(line, target, t0);
  }

  close(): void {
    this.#end('closed by the client');
    this.#sock.destroy();
  }

  #deliver(): void {
    const nl = this.#buf.indexOf('\n');
    if (nl < 0 || this.#waiter === undefined) return;
    const line = this.#buf.slice(0, nl);
    this.#buf = this.#buf.slice(nl + 1);
    this.#waiter(line);
  }

  #end(why: string): void {
    this.#ended ??= why;
    this.#waiter?.(undefined);
  }
}

/** Open a connection to a line server, one round trip, close. */
export async function lineHit(t: Target): Promise<Hit> {
  const t0 = performance.now();
  const timeout = t.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const c = new LineConnection(connectTo(t));
  try {
    const err = await c.connected(timeout);
    if (err !== undefined) return { ok: false, error: err, ms: performance.now() - t0 };
    const h = await c.roundTrip(`${t.host}:${t.port}`, Math.max(1, timeout - (performance.now() - t0)));
    return h.ok ? { ...h, ms: performance.now() - t0 } : h;
  } finally {
    c.close();
  }
}

/** Long-lived connections to line servers, by id (hold, ping, close). */
export class HeldConnections {
  readonly #conns = new Map<number, { readonly c: LineConnection; readonly target: string; readonly timeoutMs: number }>();
  #nextId = 1;

  /** Opens `count` connections one after the other (so their balancing decisions are in order). */
  async open(count: number, t: Target): Promise<Held[]> {
    const out: Held[] = [];
    const timeoutMs = t.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const id = this.#nextId++;
      const c = new LineConnection(connectTo(t));
      const target = `${t.host}:${t.port}`;
      this.#conns.set(id, { c, target, timeoutMs });
      const err = await c.connected(timeoutMs);
      const hit = err !== undefined ? { ok: false as const, error: err, ms: performance.now() - t0 } : await c.roundTrip(target, timeoutMs);
      out.push({ id, hit });
    }
    return out;
  }

  /** One round trip on each connection (all at once); a broken one reports why it broke. */
  ping(ids: readonly number[] | undefined, timeoutMs: number | undefined): Promise<Hit[]> {
    return Promise.all((ids ?? [...this.#conns.keys()]).map(async (id) => {
      const h = this.#conns.get(id);
      if (h === undefined) return { ok: false as const, error: `no held connection ${id}`, ms: 0 };
      return h.c.roundTrip(h.target, timeoutMs ?? h.timeoutMs);
    }));
  }

  close(ids: readonly number[] | undefined): void {
    for (const id of ids ?? [...this.#conns.keys()]) {
      this.#conns.get(id)?.c.close();
      this.#conns.delete(id);
    }
  }
}

function hitFor(proto: HitProto, t: Target): Promise<Hit> {
  switch (proto) {
    case 'tcp':
      return tcpHit(t);
    case 'udp':
      return udpHit(t);
    case 'line':
      return lineHit(t);
  }
}

function udpSocket(t: Target): UdpSocket {
  return createSocket({ type: isIPv6(t.host) ? 'udp6' : 'udp4', reuseAddr: t.localPort !== undefined && t.localPort !== 0 });
}

function bindUdp(sock: UdpSocket, t: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ port: t.localPort ?? 0, ...(t.localAddress !== undefined ? { address: t.localAddress } : {}) }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

/** One datagram and its reply (the reply's source address is reported as `from`). */
export async function udpHit(t: Target): Promise<Hit> {
  const t0 = performance.now();
  const sock = udpSocket(t);
  try {
    await bindUdp(sock, t);
  } catch (err) {
    sock.close();
    return { ok: false, error: errorCode(err), ms: performance.now() - t0 };
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (h: Hit): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(h);
    };
    const timer = setTimeout(() => { done({ ok: false, error: 'timeout', ms: performance.now() - t0 }); }, t.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    sock.on('message', (msg, rinfo) => { done(hitFromText(msg.toString('utf8').trim(), `${rinfo.address}:${rinfo.port}`, t0)); });
    sock.on('error', (err) => { done({ ok: false, error: errorCode(err), ms: performance.now() - t0 }); });
    sock.send('ping', t.port, t.host);
  });
}

export async function batch(proto: HitProto, count: number, concurrency: number, t: Target): Promise<Hit[]> {
  const out: Hit[] = new Array<Hit>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      out[i] = await hitFor(proto, t);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return out;
}

export function httpGet(url: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
        resolve({ status: res.statusCode ?? 0, body, headers });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => { req.destroy(new Error('ETIMEDOUT')); });
    req.on('error', reject);
    req.end();
  });
}

/** New connections every intervalMs until stopped; counts failures. */
export class Load {
  readonly #t0 = performance.now();
  readonly #timer: NodeJS.Timeout;
  readonly #inflight = new Set<Promise<void>>();
  #total = 0;
  #failed = 0;
  readonly #failures: { atMs: number; error: string }[] = [];
  readonly #pods: Record<string, number> = {};
  readonly #errors: Record<string, number> = {};
  #firstFailureAtMs: number | null = null;
  #lastFailureAtMs: number | null = null;
  #slowestOkMs = 0;
  #delayedOk = 0;

  constructor(proto: 'tcp' | 'udp', intervalMs: number, t: Target) {
    this.#timer = setInterval(() => {
      const p = (proto === 'tcp' ? tcpHit(t) : udpHit(t)).then((h) => {
        this.#total++;
        if (h.ok) {
          this.#pods[h.pod] = (this.#pods[h.pod] ?? 0) + 1;
          this.#slowestOkMs = Math.max(this.#slowestOkMs, Math.round(h.ms));
          if (h.ms >= 500) this.#delayedOk++;
        } else {
          this.#failed++;
          const atMs = Math.round(performance.now() - this.#t0);
          this.#errors[h.error] = (this.#errors[h.error] ?? 0) + 1;
          this.#firstFailureAtMs ??= atMs;
          this.#lastFailureAtMs = atMs;
          if (this.#failures.length < 50) this.#failures.push({ atMs, error: h.error });
        }
      });
      this.#inflight.add(p);
      void p.finally(() => this.#inflight.delete(p));
    }, intervalMs);
  }

  async stop(): Promise<LoadReport> {
    clearInterval(this.#timer);
    await Promise.all([...this.#inflight]);
    return {
      total: this.#total, failed: this.#failed, failures: this.#failures, pods: this.#pods, errors: this.#errors,
      firstFailureAtMs: this.#firstFailureAtMs, lastFailureAtMs: this.#lastFailureAtMs, slowestOkMs: this.#slowestOkMs, delayedOk: this.#delayedOk,
    };
  }
}

/** A datagram every intervalMs from one socket (one source port: one conntrack flow). */
export class UdpStream {
  readonly #t0 = performance.now();
  readonly #sock: UdpSocket;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  readonly #replies: { atMs: number; pod: string; from: string }[] = [];

  private constructor(sock: UdpSocket) {
    this.#sock = sock;
  }

  static async start(intervalMs: number, t: Target): Promise<UdpStream> {
    const sock = udpSocket(t);
    await bindUdp(sock, t);
    const s = new UdpStream(sock);
    sock.on('message', (msg, rinfo) => {
      const r = parseReply(msg.toString('utf8').trim());
      s.#replies.push({ atMs: Math.round(performance.now() - s.#t0), pod: r?.pod ?? '?', from: `${rinfo.address}:${rinfo.port}` });
    });
    sock.on('error', () => undefined);
    const send = (): void => {
      s.#sent++;
      sock.send('ping', t.port, t.host);
    };
    send();
    s.#timer = setInterval(send, intervalMs);
    return s;
  }

  peek(): StreamReport {
    return { sent: this.#sent, replies: [...this.#replies] };
  }

  stop(): StreamReport {
    clearInterval(this.#timer);
    this.#sock.close();
    return this.peek();
  }
}
