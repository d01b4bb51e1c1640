// UDP forwarding with real sockets on 127.0.0.1: replies come back from the address the
// client sent to, a flow stays on its endpoint, re-picks a live one when its endpoint goes,
// stays on a terminating-but-serving endpoint (drain), and expires when idle.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { terminating } from '../nftables/fixtures.ts';
import { ep, eventually, harness, HOST, udpClient, udpServer } from './sockets.ts';

describe('userspace UDP forwarder (loopback)', { concurrency: false, timeout: 30_000 }, () => {
  it('returns replies to the client from the listening address; one flow per client', async () => {
    const a = await udpServer('a');
    const h = await harness([ep(a.port)], { protocol: 'UDP' });
    const c = await udpClient();
    try {
      const r1 = await c.ask(h.port, 'ping');
      assert.deepEqual(r1, { text: 'a:ping', from: `${HOST}:${h.port}` });
      assert.deepEqual(await c.ask(h.port, 'again'), { text: 'a:again', from: `${HOST}:${h.port}` });
      const m = h.metrics.of(h.sp.name.key);
      assert.equal(m.total, 1, 'one flow');
      assert.equal(m.active, 1);
      const other = await udpClient();
      assert.equal((await other.ask(h.port, 'x')).text, 'a:x');
      assert.equal(m.total, 2);
      other.close();
    } finally {
      c.close();
      await h.close();
      a.close();
    }
  });

  it('keeps a flow on its endpoint; when that endpoint disappears the next datagram picks a live one', async () => {
    const a = await udpServer('a');
    const b = await udpServer('b');
    const h = await harness([ep(a.port), ep(b.port)], { protocol: 'UDP' });
    const c = await udpClient();
    try {
      const first = (await c.ask(h.port, '1')).text;
      for (let i = 0; i < 5; i++) assert.equal((await c.ask(h.port, 'n')).text.slice(0, 2), first.slice(0, 2), 'flow stays put');
      const stays = first.startsWith('a:') ? b : a;
      const stayName = first.startsWith('a:') ? 'b' : 'a';
      h.setEndpoints([ep(stays.port)]);
      assert.equal((await c.ask(h.port, 'after')).text, `${stayName}:after`);
      const m = h.metrics.of(h.sp.name.key);
      assert.equal(m.total, 2, 'the old flow was replaced');
      assert.equal(m.active, 1);
    } finally {
      c.close();
      await h.close();
      a.close();
      b.close();
    }
  });

  it('drains: a flow stays on an endpoint that is terminating but still serving', async () => {
    const a = await udpServer('a');
    const b = await udpServer('b');
    const h = await harness([ep(a.port)], { protocol: 'UDP' });
    const c = await udpClient();
    const fresh = await udpClient();
    try {
      assert.equal((await c.ask(h.port, '1')).text, 'a:1');
      h.setEndpoints([ep(a.port, terminating), ep(b.port)]);
      assert.equal((await c.ask(h.port, '2')).text, 'a:2', 'existing flow drains on a');
      assert.equal((await fresh.ask(h.port, '3')).text, 'b:3', 'new flows go to the ready endpoint');
    } finally {
      c.close();
      fresh.close();
      await h.close();
      a.close();
      b.close();
    }
  });

  it('expires idle flows', async () => {
    const a = await udpServer('a');
    const h = await harness([ep(a.port)], { protocol: 'UDP', udpIdleTimeoutMs: 200 });
    const c = await udpClient();
    try {
      assert.equal((await c.ask(h.port, 'x')).text, 'a:x');
      const m = h.metrics.of(h.sp.name.key);
      assert.equal(m.active, 1);
      await eventually(() => m.active === 0, 2000, 'flow expiry');
      assert.equal(m.bytesIn, 1);
      assert.equal(m.bytesOut, 3);
      assert.equal((await c.ask(h.port, 'y')).text, 'a:y', 'a new flow after expiry');
      assert.equal(m.total, 2);
    } finally {
      c.close();
      await h.close();
      a.close();
    }
  });

  it('a refused endpoint (ICMP port unreachable) is put in backoff and the flow re-picks', async () => {
    const a = await udpServer('a');
    const deadServer = await udpServer('dead');
    const deadPort = deadServer.port;
    deadServer.close();
    const h = await harness([ep(deadPort), ep(a.port)], { protocol: 'UDP' });
    const c = await udpClient();
    try {
      // Round robin starts on the dead endpoint: the first datagram is lost, the error puts
      // the endpoint in backoff, and the retry lands on the live one.
      const r = await c.ask(h.port, 'x', 300);
      assert.equal(r.text, 'TIMEOUT');
      await eventually(() => h.metrics.of(h.sp.name.key).connectFailures === 1, 2000, 'failure noticed');
      assert.equal((await c.ask(h.port, 'y')).text, 'a:y');
    } finally {
      c.close();
      await h.close();
      a.close();
    }
  });
});
