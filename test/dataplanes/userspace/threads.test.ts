// Serving threads (threads > 1) with real sockets on 127.0.0.1: the threads join the main
// thread's listeners (SO_REUSEPORT) and the kernel spreads connections over them; endpoint
// changes and removals reach every thread before the sync resolves; metrics from every thread
// add up; session-affinity ports stay on the main thread; the connection cap is global;
// close() stops the threads and ends every connection, those draining from removed ports too.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { InMemoryUserspaceMetrics } from '../../../src/dataplanes/userspace/metrics.ts';
import { UserspaceDataplane } from '../../../src/dataplanes/userspace/userspace-dataplane.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { until } from '../../helpers/wait.ts';
import { DEFAULT_BACKOFF } from '../../../src/dataplanes/userspace/balancers/index.ts';
import { budgetCell } from '../../../src/dataplanes/userspace/budget.ts';
import { ServingThreads, type ThreadInit } from '../../../src/dataplanes/userspace/threads/serving-threads.ts';
import { makePort, makeSnapshot } from '../nftables/fixtures.ts';
import { closedPort, ep, eventually, HOST, nameServer, request, tcpServer, udpClient, udpServer } from './sockets.ts';

const THREADS = 3;

function threaded(over: Partial<ConstructorParameters<typeof UserspaceDataplane>[0]> = {}): { dp: UserspaceDataplane; metrics: InMemoryUserspaceMetrics } {
  const metrics = new InMemoryUserspaceMetrics();
  const dp = new UserspaceDataplane({ logger: silentLogger(), localAddresses: [HOST], threads: THREADS, metrics, ...over });
  return { dp, metrics };
}

/** `n` sequential requests; each is a new connection (a new source port, so a new reuseport pick). */
async function requests(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await request(port));
  return out;
}

/** The first answer other than a refusal (a thread restarting takes 1 s). */
function answered(port: number): Promise<string> {
  return until(`an answer on port ${String(port)}`, async () => {
    const r = await request(port);
    return r === 'ERR ECONNREFUSED' ? undefined : r;
  }, 5000);
}

describe('userspace dataplane with serving threads (loopback)', { concurrency: false, timeout: 60_000 }, () => {
  it('spreads connections over the threads; every one is forwarded and counted once', async () => {
    const a = await nameServer('a');
    const port = await closedPort();
    const { dp, metrics } = threaded();
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(a.port)]]] })] });
      assert.deepEqual([...(dp.servingThreads?.ports ?? [])], [`IPv4|${sp.name.key}`]);
      const replies = await requests(port, 300);
      assert.deepEqual(new Set(replies), new Set(['a']));
      const c = metrics.of(sp.name.key);
      await eventually(() => c.total === 300 && c.active === 0, 3000, 'every thread reported its connections');
      assert.equal(c.bytesOut, 300);
      assert.equal(c.selections.get(`${HOST}:${a.port}`), 300);
      const byThreads = dp.servingThreads?.opened ?? [];
      const onMain = 300 - byThreads.reduce((x, y) => x + y, 0);
      const serving = [onMain, ...byThreads.slice(1)].filter((n) => n > 0).length;
      assert.ok(serving >= 2, `connections per thread: main ${onMain}, others ${byThreads.slice(1).join(', ')}`);
    } finally {
      await dp.close();
      await a.close();
    }
  });

  it('endpoint changes reach every thread before the sync resolves; removal stops them all, established connections drain', async () => {
    const a = await nameServer('a');
    const b = await nameServer('b');
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    const port = await closedPort();
    const { dp } = threaded();
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(a.port)]]] })] });
      assert.deepEqual(new Set(await requests(port, 30)), new Set(['a']));
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [ep(b.port)]]] })] });
      assert.deepEqual(new Set(await requests(port, 30)), new Set(['b']), 'no thread still sends to a');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [ep(echo.port)]]] })] });
      const held: net.Socket[] = [];
      for (let i = 0; i < 12; i++) {
        const c = net.connect({ host: HOST, port });
        c.on('error', () => undefined);
        // Established through the proxy, not merely queued on a listener (a listener that closes
        // resets what it has not accepted yet).
        c.write('hello');
        await once(c, 'data');
        held.push(c);
      }
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [], changed: ['ns1/web'] })] });
      assert.deepEqual(new Set(await requests(port, 20)), new Set(['ERR ECONNREFUSED']), 'no thread accepts any more');
      for (const [i, c] of held.entries()) {
        c.write(`ping${i}`);
        assert.equal(((await once(c, 'data')) as [Buffer])[0].toString(), `ping${i}`, 'established connections drain on every thread');
        c.destroy();
      }
    } finally {
      await dp.close();
      await a.close();
      await b.close();
      await echo.close();
    }
  });

  it('keeps ports with session affinity on the main thread (exact affinity), and UDP too', async () => {
    const a = await nameServer('a');
    const dns = await udpServer('dns');
    const client = await udpClient();
    const port = await closedPort();
    const udpPort = await closedPort();
    const { dp, metrics } = threaded();
    try {
      const sticky = makePort('ns1', 'sticky', 'http', (s) => { s.clusterIP = HOST; s.port = port; s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: 60 }; });
      const udp = makePort('ns1', 'dns', 'dns', (s) => { s.clusterIP = HOST; s.port = udpPort; }, 'UDP');
      const threadPorts = (): number | undefined => dp.servingThreads?.ports.size;
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sticky, [ep(a.port)]], [udp, [ep(dns.port)]]] })] });
      assert.equal(threadPorts(), undefined, 'no thread needed');
      assert.equal((await client.ask(udpPort, 'q')).text, 'dns:q');
      assert.deepEqual(new Set(await requests(port, 20)), new Set(['a']));
      assert.equal(metrics.of(sticky.name.key).total, 20, 'all on the main thread: counted at once');
      // Affinity switched off: the threads join; switched on again: they leave.
      const plain = makePort('ns1', 'sticky', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[plain, [ep(a.port)]], [udp, [ep(dns.port)]]], changed: ['ns1/sticky'] })] });
      assert.equal(threadPorts(), 1);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sticky, [ep(a.port)]], [udp, [ep(dns.port)]]], changed: ['ns1/sticky'] })] });
      assert.equal(threadPorts(), 0);
      assert.deepEqual(new Set(await requests(port, 20)), new Set(['a']));
    } finally {
      await dp.close();
      await a.close();
      dns.close();
      client.close();
    }
  });

  it('caps connections across all threads together', async () => {
    const hold = await tcpServer((s) => { s.on('error', () => undefined); s.write('hi'); }, { allowHalfOpen: false });
    const port = await closedPort();
    const { dp, metrics } = threaded({ maxConnections: 4 });
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(hold.port)]]] })] });
      const results = await Promise.all(Array.from({ length: 12 }, () => new Promise<{ ok: boolean; c: net.Socket }>((resolve) => {
        const c = net.connect({ host: HOST, port });
        c.on('error', () => { resolve({ ok: false, c }); });
        c.once('data', () => { resolve({ ok: true, c }); });
        c.once('close', () => { resolve({ ok: false, c }); });
      })));
      assert.equal(results.filter((r) => r.ok).length, 4, 'exactly the cap got through, whichever thread accepted them');
      for (const r of results) r.c.destroy();
      await eventually(() => metrics.of(sp.name.key).refused === 8, 3000, 'the refusals of every thread counted');
    } finally {
      await dp.close();
      await hold.close();
    }
  });

  it('close() closes every thread\'s listeners and connections', async () => {
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    const port = await closedPort();
    const { dp } = threaded();
    const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(echo.port)]]] })] });
    const held: net.Socket[] = [];
    for (let i = 0; i < 9; i++) {
      const c = net.connect({ host: HOST, port });
      c.on('error', () => undefined);
      c.write('hello');
      await once(c, 'data');
      held.push(c);
    }
    await dp.close();
    await Promise.all(held.map((c) => (c.destroyed ? Promise.resolve() : once(c, 'close'))));
    assert.equal(await request(port), 'ERR ECONNREFUSED');
    await echo.close();
  });
  for (const threads of [1, THREADS]) {
    it(`close() also ends connections still draining from removed ports and listeners (${threads} thread${threads > 1 ? 's' : ''}): nothing keeps the process alive`, async () => {
      const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
      const [gone, moved] = [await closedPort(), await closedPort()];
      const { dp } = threaded({ threads });
      const held: net.Socket[] = [];
      const hold = async (port: number, n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const c = net.connect({ host: HOST, port });
          c.on('error', () => undefined);
          c.write('hello');
          await once(c, 'data');
          held.push(c);
        }
      };
      try {
        const removed = makePort('ns1', 'removed', 'http', (s) => { s.clusterIP = HOST; s.port = gone; });
        const changed = makePort('ns1', 'changed', 'http', (s) => { s.clusterIP = HOST; s.port = moved; });
        await dp.sync({ full: true, families: [makeSnapshot({ ports: [[removed, [ep(echo.port)]], [changed, [ep(echo.port)]]] })] });
        await hold(gone, 9);
        await hold(moved, 9);
        // One service port removed, the other's ClusterIP listener replaced (its port changed):
        // both old listeners stop accepting and their connections drain.
        const other = await closedPort();
        const changedAgain = makePort('ns1', 'changed', 'http', (s) => { s.clusterIP = HOST; s.port = other; });
        await dp.sync({ full: false, families: [makeSnapshot({ ports: [[changedAgain, [ep(echo.port)]]], changed: ['ns1/removed', 'ns1/changed'] })] });
        assert.equal(await request(gone), 'ERR ECONNREFUSED');
        assert.equal(await request(moved), 'ERR ECONNREFUSED');
        held[0]?.write('still');
        assert.equal(((await once(held[0] ?? assert.fail(), 'data')) as [Buffer])[0].toString(), 'still', 'draining');
        await dp.close();
        const open = await Promise.all(held.map((c) => new Promise<boolean>((resolve) => {
          if (c.destroyed) {
            resolve(false);
            return;
          }
          const timer = setTimeout(() => { resolve(true); }, 2000);
          c.once('close', () => { clearTimeout(timer); resolve(false); });
        })));
        assert.equal(open.filter(Boolean).length, 0, 'every held connection was closed by close()');
      } finally {
        for (const c of held) c.destroy();
        await dp.close();
        await echo.close();
      }
    });
  }

  it('own ports (redirect mode): each thread binds a port of its own and reports it; a restarted thread takes it again, or a new one when it is taken (the redirects then need a full sync)', async () => {
    const a = await nameServer('a');
    const changed: string[] = [];
    const init: ThreadInit = {
      settings: { connectTimeoutMs: 2000, idleTimeoutMs: 0, maxConnectAttempts: 1 }, backoff: DEFAULT_BACKOFF, maxConnections: 100,
      budgetCell: budgetCell(true), localAddresses: [HOST], defaultAlgorithm: 'round-robin', metricsIntervalMs: 50, logLevel: 'silent', ownPorts: true,
    };
    const threads = new ServingThreads(2, init, silentLogger(), new InMemoryUserspaceMetrics(), () => { changed.push('changed'); });
    const main = await tcpServer(() => undefined);
    let squatter: Awaited<ReturnType<typeof tcpServer>> | undefined;
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = 80; });
      const listenKey = `internal|${HOST}|0`;
      const serve = (): Promise<void> => threads.serve({
        type: 'port', key: 'IPv4|web', sp, endpoints: [ep(a.port)], nodeName: 'node-1', nodeLabels: new Map(),
        listens: [{ key: listenKey, kind: 'internal', host: HOST, port: main.port }],
      });
      await serve();
      const [p1, p2] = [threads.boundPort('IPv4|web', 1, listenKey), threads.boundPort('IPv4|web', 2, listenKey)];
      assert.ok(p1 !== undefined && p2 !== undefined);
      assert.equal(new Set([main.port, p1, p2]).size, 3, 'a port of its own for each thread, not the main thread\'s');
      assert.equal(await request(p1), 'a');
      assert.equal(await request(p2), 'a');
      // A restarted thread asks for the port it had.
      await threads.stop(1);
      assert.equal(await request(p1), 'ERR ECONNREFUSED', 'thread 1 is down');
      assert.equal(await answered(p1), 'a', 'thread 1 is back, on its old port');
      assert.equal(threads.boundPort('IPv4|web', 1, listenKey), p1);
      assert.deepEqual(changed, []);
      // Its port taken while it is down: any port, and the dataplane is told.
      await threads.stop(2);
      squatter = await tcpServer(() => undefined, {}, p2);
      await eventually(() => changed.length === 1, 5000, 'the change reported');
      const p2b = threads.boundPort('IPv4|web', 2, listenKey);
      assert.ok(p2b !== undefined && p2b !== p2);
      assert.equal(await answered(p2b), 'a');
      // An update of the port keeps the threads on their ports.
      await serve();
      assert.deepEqual([threads.boundPort('IPv4|web', 1, listenKey), threads.boundPort('IPv4|web', 2, listenKey)], [p1, p2b]);
    } finally {
      await threads.close();
      await main.close();
      await squatter?.close();
      await a.close();
    }
  });
});
