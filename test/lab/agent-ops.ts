// Client operations an agent performs from inside its namespace: one TCP (HTTP/1.0) or UDP
// request, batches, plain HTTP GETs, a continuous connection load, and a UDP stream from a
// fixed source port. Every new TCP request is a new connection (a new conntrack entry, so a
// new load-balancing decision).

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseReply, type GetResult, type Hit, type LoadReport, type StreamReport, type Target } from './agent-protocol.ts';

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

export async function batch(proto: 'tcp' | 'udp', count: number, concurrency: number, t: Target): Promise<Hit[]> {
  const out: Hit[] = new Array<Hit>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      out[i] = await (proto === 'tcp' ? tcpHit(t) : udpHit(t));
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

  constructor(proto: 'tcp' | 'udp', intervalMs: number, t: Target) {
    this.#timer = setInterval(() => {
      const p = (proto === 'tcp' ? tcpHit(t) : udpHit(t)).then((h) => {
        this.#total++;
        if (h.ok) {
          this.#pods[h.pod] = (this.#pods[h.pod] ?? 0) + 1;
        } else {
          this.#failed++;
          if (this.#failures.length < 50) this.#failures.push({ atMs: Math.round(performance.now() - this.#t0), error: h.error });
        }
      });
      this.#inflight.add(p);
      void p.finally(() => this.#inflight.delete(p));
    }, intervalMs);
  }

  async stop(): Promise<LoadReport> {
    clearInterval(this.#timer);
    await Promise.all([...this.#inflight]);
    return { total: this.#total, failed: this.#failed, failures: this.#failures, pods: this.#pods };
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
