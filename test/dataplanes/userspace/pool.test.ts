// The pool around every balancer: session affinity (fake clock) for each algorithm, affinity
// dropped when its endpoint is no longer usable, passive health backoff growth.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AffinityTable, backoffMs, DEFAULT_BACKOFF, PassiveHealth } from '../../../src/dataplanes/userspace/balancers/index.ts';
import { EndpointState, type PoolConfig } from '../../../src/dataplanes/userspace/pool.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { PortRoute } from '../../../src/dataplanes/userspace/route.ts';
import { ALGORITHMS, clientIP, makePool, spn, states } from './kit.ts';

const TIMEOUT_S = 10;
const affinity = (algorithm: PoolConfig['algorithm']): PoolConfig => ({
  algorithm, sessionAffinity: { type: 'ClientIP', timeoutSeconds: TIMEOUT_S }, emptyAction: 'reject',
});
const CLIENTS = 200;

function pickAll(pick: (client: string) => EndpointState | undefined): string[] {
  return Array.from({ length: CLIENTS }, (_, k) => pick(clientIP(k))?.key ?? 'none');
}

describe('session affinity (ClientIP) with every algorithm', () => {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: sticky within the timeout, refreshed by use, balanced afresh after it`, async () => {
      const eps = states(4);
      const { pool, clock } = makePool(algorithm, eps, affinity(algorithm), 3);
      const first = pickAll((c) => pool.pick(c));
      // A newcomer endpoint attracts nobody while the affinity holds, whatever the algorithm
      // would do on its own (round robin would rotate, least-connections would pick the idle
      // newcomer: give the old endpoints load to make that so).
      for (const s of eps) s.active = 5;
      const fresh = new EndpointState({ key: '10.0.2.1:80', ip: '10.0.2.1', port: 80 });
      pool.update([...eps, fresh], affinity(algorithm));
      await clock.advance(TIMEOUT_S * 1000 - 1);
      assert.deepEqual(pickAll((c) => pool.pick(c)), first, 'sticky just before the timeout');
      // Those picks refreshed every entry: still sticky almost a full timeout later.
      await clock.advance(TIMEOUT_S * 1000 - 1);
      assert.deepEqual(pickAll((c) => pool.pick(c)), first, 'refreshed by use');
      await clock.advance(TIMEOUT_S * 1000);
      const after = pickAll((c) => pool.pick(c));
      assert.ok(after.some((k) => k === fresh.key), `${algorithm}: nobody reached the new endpoint after expiry`);
      assert.equal(pool.affinityEntries, CLIENTS);
    });

    it(`${algorithm}: dropped when the endpoint leaves the pool or goes into backoff`, async () => {
      const eps = states(3);
      const { pool, clock, health } = makePool(algorithm, eps, affinity(algorithm), 5);
      const first = pickAll((c) => pool.pick(c));
      const [a, b, c] = eps;
      assert.ok(a && b && c);
      // a leaves: its clients go elsewhere; everyone else stays.
      pool.update([b, c], affinity(algorithm));
      const second = pickAll((cl) => pool.pick(cl));
      second.forEach((k, i) => {
        if (first[i] === a.key) assert.notEqual(k, a.key);
        else assert.equal(k, first[i]);
      });
      // a comes back: the entries were dropped, so its former clients do not all return to it.
      pool.update([a, b, c], affinity(algorithm));
      const third = pickAll((cl) => pool.pick(cl));
      assert.deepEqual(third, second, 'new affinity (to b/c) holds');
      // b goes into backoff: its clients are re-pinned elsewhere and stay there afterwards.
      health.failed(b);
      const fourth = pickAll((cl) => pool.pick(cl));
      fourth.forEach((k, i) => { if (third[i] === b.key) assert.notEqual(k, b.key); });
      await clock.advance(DEFAULT_BACKOFF.baseMs);
      assert.deepEqual(pickAll((cl) => pool.pick(cl)), fourth);
    });
  }

  it('expired entries are swept: memory follows the clients of one timeout', async () => {
    const clock = new FakeClock();
    const t = new AffinityTable(1, clock);
    for (let k = 0; k < 1000; k++) t.record(clientIP(k), 'e');
    assert.equal(t.size, 1000);
    await clock.advance(1000);
    t.record('10.9.9.9', 'e');
    assert.equal(t.size, 1);
    assert.equal(t.lookup(clientIP(1)), undefined);
  });

  it('changing the timeout starts a new table; turning affinity off drops it', () => {
    const eps = states(3);
    const { pool } = makePool('round-robin', eps, affinity('round-robin'));
    pickAll((c) => pool.pick(c));
    assert.equal(pool.affinityEntries, CLIENTS);
    pool.update(eps, { ...affinity('round-robin'), sessionAffinity: { type: 'ClientIP', timeoutSeconds: 5 } });
    assert.equal(pool.affinityEntries, 0);
    pickAll((c) => pool.pick(c));
    pool.update(eps, { ...affinity('round-robin'), sessionAffinity: { type: 'None' } });
    assert.equal(pool.affinityEntries, 0);
  });
});

describe('passive health', () => {
  it('backoff doubles per consecutive failure up to the maximum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 40].map((f) => backoffMs(DEFAULT_BACKOFF, f)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('keeps a failing endpoint out of rotation for a growing interval; success clears it', async () => {
    const eps = states(2);
    const [a, b] = eps;
    assert.ok(a && b);
    const { pool, clock, health } = makePool('round-robin', eps);
    const onlyB = async (ms: number): Promise<void> => {
      for (let k = 0; k < 4; k++) assert.equal(pool.pick('c')?.key, b.key);
      await clock.advance(ms);
    };
    for (const interval of [1000, 2000, 4000, 8000]) {
      assert.equal(health.failed(a), interval);
      await onlyB(interval - 1);
      assert.equal(health.available(a), false);
      await clock.advance(1);
      assert.equal(health.available(a), true);
    }
    health.succeeded(a);
    assert.equal(health.failed(a), 1000, 'success resets the growth');
  });

  it('when every endpoint is in backoff, picks anyway (never refuses because of backoff alone)', () => {
    const eps = states(2);
    const { pool, health } = makePool('least-connections', eps);
    for (const s of eps) health.failed(s);
    assert.ok(pool.pick('c'));
    // …but never one already tried for this connection.
    assert.equal(pool.pick('c', new Set(eps)), undefined);
  });

  it('counts selections per endpoint', () => {
    const eps = states(2);
    const { pool, metrics } = makePool('round-robin', eps);
    for (let k = 0; k < 6; k++) pool.pick('c');
    assert.deepEqual([...metrics.of('ns1/svc1:p80/TCP').selections], [['10.0.1.1:80', 3], ['10.0.1.2:80', 3]]);
    assert.deepEqual(eps.map((s) => s.selections), [3, 3]);
  });

  it('uses a fresh health per clock', () => {
    const h = new PassiveHealth(new FakeClock(), { baseMs: 10, maxMs: 15 });
    const r = { failures: 0, backoffUntil: 0 };
    assert.equal(h.failed(r), 10);
    assert.equal(h.failed(r), 15);
  });
});

describe('what needs the client address (the forwarder skips getpeername otherwise)', () => {
  it('a pool needs it only for session affinity or source hashing', () => {
    const cases: readonly [string, PoolConfig['algorithm'], boolean, boolean][] = [
      ['round-robin', 'round-robin', false, false],
      ['least-connections', 'least-connections', false, false],
      ['power-of-two-choices', 'power-of-two-choices', false, false],
      ['random', 'random', false, false],
      ['source-hash', 'source-hash', false, true],
      ['round-robin with affinity', 'round-robin', true, true],
    ];
    for (const [name, algorithm, affinity, want] of cases) {
      const { pool } = makePool(algorithm, states(2), affinity ? { sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10 } } : {});
      assert.equal(pool.needsClientIP, want, name);
    }
  });

  it('a route needs it only when node-local clients get their own pool (externalTrafficPolicy Local)', () => {
    const route = new PortRoute(spn(), 'external', () => false);
    assert.equal(route.needsClientIP, false);
    route.localClientPool = makePool('round-robin', states(1)).pool;
    assert.equal(route.needsClientIP, true);
  });
});
