import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, CLIENT_GO_REFLECTOR_BACKOFF, createReachabilityProbe, waitForRetry } from '../../src/sources/api/backoff.ts';
import type { ApiClient, ApiResponse } from '../../src/sources/api/client.ts';
import { ApiError } from '../../src/sources/api/errors.ts';
import { TokenBucket, createRateLimiter, unlimited } from '../../src/sources/api/rate-limiter.ts';
import { FakeClock, flush } from './fixtures.ts';

describe('Backoff (client-go reflector numbers)', () => {
  it('doubles from 800 ms to a 30 s cap, jitter adds up to +100%', () => {
    const clock = new FakeClock();
    const low = new Backoff(CLIENT_GO_REFLECTOR_BACKOFF, clock, () => 0);
    const seq = Array.from({ length: 9 }, () => low.next());
    assert.deepEqual(seq, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
    const high = new Backoff(CLIENT_GO_REFLECTOR_BACKOFF, clock, () => 0.999);
    assert.ok(Math.abs(high.next() - 1599.2) < 1e-6);
  });

  it('starts over after 2 minutes without a retry', () => {
    const clock = new FakeClock();
    const b = new Backoff(CLIENT_GO_REFLECTOR_BACKOFF, clock, () => 0);
    b.next();
    b.next();
    clock.advance(119_000);
    assert.equal(b.next(), 3200, 'within 2 min the step continues');
    clock.advance(120_001);
    assert.equal(b.next(), 800);
  });
});

describe('waitForRetry', () => {
  const table: { name: string; probes: boolean[]; withoutOutage: boolean; expect: 'elapsed' | 'recovered'; atMs: number }[] = [
    { name: 'wakes when the server comes back after being seen down', probes: [false, false, true], withoutOutage: false, expect: 'recovered', atMs: 300 },
    { name: 'does not wake if the server never looked down', probes: [true, true, true, true], withoutOutage: false, expect: 'elapsed', atMs: 1000 },
    { name: 'may wake on the first success when allowed', probes: [true], withoutOutage: true, expect: 'recovered', atMs: 100 },
    { name: 'waits it out while the server stays down', probes: Array<boolean>(20).fill(false), withoutOutage: true, expect: 'elapsed', atMs: 1000 },
  ];
  for (const c of table) {
    it(c.name, async () => {
      const clock = new FakeClock();
      const answers = [...c.probes];
      const probe = (): Promise<boolean> => Promise.resolve(answers.shift() ?? false);
      let result: string | undefined;
      const start = clock.now();
      let at = 0;
      void waitForRetry(1000, clock, new AbortController().signal, { probe, intervalMs: 100, withoutOutage: c.withoutOutage })
        .then((r) => { result = r; at = clock.now() - start; });
      for (let i = 0; i < 12 && result === undefined; i++) {
        clock.advance(100);
        await flush();
      }
      assert.equal(result, c.expect);
      assert.equal(at, c.atMs);
      assert.equal(clock.pending, 0, 'no timer left behind');
    });
  }

  it('ends at once when the signal aborts', async () => {
    const clock = new FakeClock();
    const ctrl = new AbortController();
    const p = waitForRetry(10_000, clock, ctrl.signal);
    ctrl.abort();
    assert.equal(await p, 'aborted');
    assert.equal(clock.pending, 0);
  });
});

describe('createReachabilityProbe', () => {
  it('is single-flight, cached briefly, and counts 5xx, 429 and transport errors as down', async () => {
    const clock = new FakeClock();
    const statuses: (number | Error)[] = [200, 503, 429, new ApiError('API_TRANSPORT', 'refused'), 404];
    let calls = 0;
    const client: ApiClient = {
      describe: () => 'fake',
      close: () => undefined,
      stream: () => { throw new Error('unused'); },
      request: (p): Promise<ApiResponse> => {
        assert.equal(p, '/readyz');
        calls++;
        const s = statuses.shift();
        if (s instanceof Error || s === undefined) return Promise.reject(s ?? new Error('none'));
        return Promise.resolve({ status: s, body: '', header: () => undefined });
      },
    };
    const probe = createReachabilityProbe(client, { clock, cacheMs: 500 });
    assert.deepEqual(await Promise.all([probe(), probe()]), [true, true]);
    assert.equal(calls, 1);
    assert.equal(await probe(), true, 'cached');
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(501);
      results.push(await probe());
    }
    assert.deepEqual(results, [false, false, false, true]);
  });
});

describe('rate limiter (token bucket)', () => {
  it('lets a burst through, then paces at qps', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(10, 2, clock);
    const done: number[] = [];
    for (let i = 0; i < 4; i++) void bucket.take().then(() => done.push(i));
    await flush();
    assert.deepEqual(done, [0, 1]);
    clock.advance(99);
    await flush();
    assert.deepEqual(done, [0, 1]);
    clock.advance(1);
    await flush();
    assert.deepEqual(done, [0, 1, 2]);
    clock.advance(100);
    await flush();
    assert.deepEqual(done, [0, 1, 2, 3]);
  });

  it('gives the reservation back when aborted', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1, 1, clock);
    await bucket.take();
    const ctrl = new AbortController();
    const p = bucket.take(ctrl.signal);
    ctrl.abort();
    await assert.rejects(p);
    clock.advance(1000);
    let ok = false;
    void bucket.take().then(() => { ok = true; });
    await flush();
    assert.ok(ok, 'a token is available again after 1 s');
  });

  it('defaults to kube-proxy qps 5 / burst 10; negative qps disables', () => {
    const clock = new FakeClock();
    assert.equal(createRateLimiter(-1, undefined, clock), unlimited);
    assert.ok(createRateLimiter(undefined, undefined, clock) instanceof TokenBucket);
  });
});
