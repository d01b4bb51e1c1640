// TCP forwarding with real sockets on 127.0.0.1: bytes both ways, backpressure on a large
// transfer, half-close, connect failure and timeout with retry on another endpoint, passive
// health, the connection cap, the idle timeout; closing a listener outright leaves nothing open.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { TcpFrontend } from '../../../src/dataplanes/userspace/tcp.ts';
import {
  blackholePort, closedPort, ep, eventually, harness, HOST, nameServer, openConnection, request, sleep, tcpServer,
} from './sockets.ts';

interface Pumped { sent: number; stalledAt: number }

/** Writes `total` bytes of `chunk` to `s` honouring backpressure, then ends it; records where the first write stalled. */
function pump(s: net.Socket, chunk: Buffer, total: number): Pumped {
  const st: Pumped = { sent: 0, stalledAt: -1 };
  const go = (): void => {
    while (st.sent < total) {
      st.sent += chunk.length;
      if (!s.write(chunk)) {
        if (st.stalledAt < 0) st.stalledAt = st.sent;
        s.once('drain', go);
        return;
      }
    }
    s.end();
  };
  go();
  return st;
}

/** Resumes `s` and reads it to its end: byte count and SHA-256 of what arrived. */
async function drain(s: net.Socket): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  s.on('data', (d: Buffer) => { bytes += d.length; hash.update(d); });
  s.resume();
  await once(s, 'end');
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * The reset scenario runs in a child process: with the bug, the leaked handle also makes the
 * process's own teardown spin at exit, so the child is killed (by its pid) once it has answered.
 */
const RESET_CHILD = `
import net from 'node:net';
import { resetSocket } from ${JSON.stringify(new URL('../../../src/dataplanes/userspace/tcp.ts', import.meta.url).href)};
const when = process.argv[1];
const srv = net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => undefined); c.resume(); });
await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
const s = net.connect({ host: '127.0.0.1', port: srv.address().port, allowHalfOpen: true });
await new Promise((resolve) => { s.once('connect', resolve); });
const errors = [];
s.on('error', (e) => { errors.push(String(e.syscall) + ' ' + String(e.code)); });
const closed = new Promise((resolve) => { s.once('close', () => { resolve('closed'); }); });
s.write('x');
if (when !== 'connected') s.end();
if (when === 'next-tick') await new Promise((resolve) => { process.nextTick(resolve); });
resetSocket(s);
const outcome = await Promise.race([closed, new Promise((resolve) => { setTimeout(resolve, 2000, 'never closed'); })]);
process.stdout.write(JSON.stringify({ outcome, errors, open: process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length }) + '\\n');
`;

async function resetInChild(when: string): Promise<{ outcome: string; errors: string[]; open: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RESET_CHILD, when], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; });
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      new Promise<string>((resolve) => { child.stdout.on('data', () => { if (out.includes('\n')) resolve(out); }); }),
      new Promise<string>((resolve) => { timer = setTimeout(resolve, 8000, ''); }),
    ]);
    clearTimeout(timer);
    assert.notEqual(line, '', 'the child answered');
    return JSON.parse(line) as { outcome: string; errors: string[]; open: number };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('resetSocket (loopback)', { timeout: 20_000 }, () => {
  // Node lets go of a socket's handle before libuv has agreed to reset it; libuv refuses while a
  // shutdown is pending (EINVAL), and the handle was then never closed: no 'close', a leaked fd,
  // and a serving thread (or the process) whose teardown spun for ever.
  for (const when of ['same-tick', 'next-tick', 'connected'] as const) {
    it(`closes the socket for good: reset ${when === 'connected' ? 'while connected, nothing ended' : `on the ${when} after end()`}`, async () => {
      const r = await resetInChild(when);
      assert.deepEqual(r, { outcome: 'closed', errors: [], open: 1 }, 'closed, no error; the one socket left open is the server\'s side');
    });
  }
});

describe('userspace TCP forwarder (loopback)', { concurrency: false, timeout: 30_000 }, () => {
  it('forwards bytes both ways and counts them per service at close', async () => {
    const echo = await tcpServer((s) => { s.pipe(s); });
    const h = await harness([ep(echo.port)]);
    try {
      const c0 = net.connect({ host: HOST, port: h.port });
      c0.write('hello');
      const [d] = (await once(c0, 'data')) as [Buffer];
      assert.equal(d.toString(), 'hello');
      c0.end();
      await once(c0, 'close');
      await eventually(() => (h.metrics.of(h.sp.name.key).active === 0), 2000, 'connection closed');
      const c = h.metrics.of(h.sp.name.key);
      assert.equal(c.total, 1);
      assert.equal(c.bytesIn, 5);
      assert.equal(c.bytesOut, 5);
      assert.deepEqual([...c.selections], [[`${HOST}:${echo.port}`, 1]]);
    } finally {
      await h.close();
      await echo.close();
    }
  });

  it('carries a large transfer intact, with backpressure reaching the sender', async () => {
    const TOTAL = 128 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    let pushed: Pumped | undefined;
    const expected = createHash('sha256');
    for (let i = 0; i < TOTAL / chunk.length; i++) expected.update(chunk);
    const backend = await tcpServer((s) => { pushed = pump(s, chunk, TOTAL); });
    const h = await harness([ep(backend.port)]);
    try {
      const c = net.connect({ host: HOST, port: h.port });
      c.pause(); // a slow reader: nothing read for a while
      await once(c, 'connect');
      await sleep(300);
      const pushedBeforeStall = pushed?.stalledAt ?? -1;
      assert.ok(pushedBeforeStall > 0 && pushedBeforeStall < TOTAL / 2,
        `backend pushed ${pushedBeforeStall} bytes before stalling: backpressure did not reach it`);
      const got = await drain(c);
      assert.equal(got.bytes, TOTAL);
      assert.equal(got.sha256, expected.digest('hex'));
      c.destroy();
    } finally {
      await h.close();
      await backend.close();
    }
  });

  it('carries a large upload intact (client → endpoint, read through onread), with backpressure reaching the client', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const expected = createHash('sha256');
    for (let i = 0; i < TOTAL / chunk.length; i++) expected.update(chunk);
    let server: net.Socket | undefined;
    const backend = await tcpServer((s) => { s.pause(); server = s; });
    const h = await harness([ep(backend.port)]);
    try {
      assert.ok(h.frontend instanceof TcpFrontend && h.frontend.readsWithOnread, 'client sockets read through onread (else the \'data\' fallback is in use)');
      const c = net.connect({ host: HOST, port: h.port });
      c.on('error', () => undefined);
      await once(c, 'connect');
      const written = pump(c, chunk, TOTAL);
      await eventually(() => server !== undefined, 2000, 'the endpoint accepted');
      await sleep(300); // the endpoint reads nothing for a while
      const { sent, stalledAt } = written;
      assert.ok(stalledAt > 0 && sent < TOTAL / 2, `the client wrote ${String(sent)} bytes while the endpoint read nothing: backpressure did not reach it`);
      const s = server ?? assert.fail();
      const got = await drain(s);
      assert.equal(got.bytes, TOTAL);
      assert.equal(got.sha256, expected.digest('hex'));
      c.destroy();
    } finally {
      await h.close();
      await backend.close();
    }
  });

  it('honours half-close: the client shuts down writing, the server still answers', async () => {
    const backend = await tcpServer((s) => {
      let req = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => { req += d; });
      s.on('end', () => { setTimeout(() => { s.end(`got ${req}`); }, 50); });
    });
    const h = await harness([ep(backend.port)]);
    try {
      const c = net.connect({ host: HOST, port: h.port, allowHalfOpen: true });
      c.setEncoding('utf8');
      c.end('question'); // FIN after the request
      let reply = '';
      c.on('data', (d: string) => { reply += d; });
      await once(c, 'end');
      assert.equal(reply, 'got question');
    } finally {
      await h.close();
      await backend.close();
    }
  });

  it('retries another endpoint when one refuses, and keeps the refusing one out of rotation', async () => {
    const dead = await closedPort();
    const live = await nameServer('live');
    const h = await harness([ep(dead), ep(live.port)]);
    try {
      for (let i = 0; i < 6; i++) assert.equal(await request(h.port), 'live');
      const c = h.metrics.of(h.sp.name.key);
      assert.equal(c.connectFailures, 1, 'the dead endpoint was tried once, then sat out its backoff');
      assert.equal(h.rt.endpointState(`${HOST}:${dead}`)?.failures, 1);
      assert.equal(c.selections.get(`${HOST}:${dead}`), 1);
    } finally {
      await h.close();
      await live.close();
    }
  });

  it('times out a connect that gets no answer, then tries the next endpoint', async () => {
    const hole = await blackholePort();
    const live = await nameServer('live');
    const h = await harness([ep(hole.port), ep(live.port)], { settings: { connectTimeoutMs: 300 } });
    try {
      const t0 = Date.now();
      assert.equal(await request(h.port), 'live');
      const took = Date.now() - t0;
      assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
      assert.equal(h.metrics.of(h.sp.name.key).connectFailures, 1);
    } finally {
      await h.close();
      hole.close();
      await live.close();
    }
  });

  it('resets the client when every attempt fails (bounded), and when there are no endpoints', async () => {
    const dead = [await closedPort(), await closedPort(), await closedPort(), await closedPort()];
    const h = await harness(dead.map((p) => ep(p)), { settings: { maxConnectAttempts: 3 } });
    try {
      assert.match(await request(h.port), /^(ERR ECONNRESET|)$/);
      assert.equal(h.metrics.of(h.sp.name.key).connectFailures, 3);
      h.setEndpoints([]);
      assert.match(await request(h.port), /^(ERR ECONNRESET|)$/);
      assert.equal(h.metrics.of(h.sp.name.key).refused, 1);
    } finally {
      await h.close();
    }
  });

  it('caps concurrent connections, logs it clearly once, and accepts again below the cap', async () => {
    const hold = await tcpServer((s) => { s.on('error', () => undefined); s.write('hi'); }, { allowHalfOpen: false });
    const h = await harness([ep(hold.port)], { maxConnections: 2 });
    try {
      const a = await openConnection(h.port);
      const b = await openConnection(h.port);
      await eventually(() => h.metrics.of(h.sp.name.key).active === 2, 2000, 'two active');
      assert.match(await request(h.port), /^(ERR ECONNRESET|)$/);
      assert.match(await request(h.port), /^(ERR ECONNRESET|)$/);
      const warns = h.records.filter((r) => r['level'] === 40 && String(r['msg']).includes('connection limit reached'));
      assert.equal(warns.length, 1, 'one log line for the episode');
      assert.match(String(warns[0]?.['msg']), /connection limit reached \(2 concurrent connections and UDP flows\)/);
      assert.equal(h.metrics.of(h.sp.name.key).refused, 2);
      a.destroy();
      await eventually(() => h.metrics.of(h.sp.name.key).active === 1, 2000, 'one closed');
      const c = await openConnection(h.port);
      const [d] = (await once(c, 'data')) as [Buffer];
      assert.equal(d.toString(), 'hi');
      b.destroy();
      c.destroy();
    } finally {
      await h.close();
      await hold.close();
    }
  });

  it('closes connections idle in both directions, and keeps busy ones', async () => {
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    const h = await harness([ep(echo.port)], { settings: { idleTimeoutMs: 250 } });
    try {
      const idle = await openConnection(h.port);
      const busy = await openConnection(h.port);
      busy.on('data', () => undefined);
      const ticker = setInterval(() => { busy.write('x'); }, 50);
      const t0 = Date.now();
      await new Promise((resolve) => { idle.once('close', resolve); });
      const took = Date.now() - t0;
      assert.ok(took >= 200 && took < 1500, `idle closed after ${took} ms`);
      await sleep(400);
      assert.equal(busy.destroyed, false, 'busy connection still open');
      clearInterval(ticker);
      busy.destroy();
    } finally {
      await h.close();
      await echo.close();
    }
  });
  it('close(false) ends every connection, one still connecting to an endpoint that does not answer included: counted closed, the listener drained', async () => {
    const hole = await blackholePort();
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    // A long connect timeout and idle timeout: nothing but close() may end these connections.
    const h = await harness([ep(hole.port)], { settings: { connectTimeoutMs: 60_000, idleTimeoutMs: 60_000, maxConnectAttempts: 1 } });
    const f = h.frontend;
    assert.ok(f instanceof TcpFrontend);
    try {
      const connecting = net.connect({ host: HOST, port: h.port });
      connecting.on('error', () => undefined);
      await eventually(() => f.activeConnections === 1, 2000, 'the connect to the endpoint is under way');
      h.setEndpoints([ep(echo.port)]);
      const spliced = await openConnection(h.port);
      assert.equal(f.activeConnections, 2);
      spliced.on('error', () => undefined);
      const closed = [connecting, spliced].map((c) => new Promise((resolve) => { if (c.destroyed) resolve(undefined); else c.once('close', resolve); }));
      await f.close(false);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        f.drained().then(() => 'drained'),
        new Promise((resolve) => { timer = setTimeout(resolve, 2000, 'still open'); }),
      ]);
      clearTimeout(timer);
      assert.equal(drained, 'drained', `connections left: ${f.activeConnections}`);
      await Promise.all(closed);
      const m = h.metrics.of(h.sp.name.key);
      assert.equal(m.active, 0, 'both counted closed');
    } finally {
      await h.close();
      hole.close();
      await echo.close();
    }
  });
});
