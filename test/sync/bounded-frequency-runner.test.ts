import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedFrequencyRunner, type SyncContext } from '../../src/sync/bounded-frequency-runner.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const SECOND = 1000;

interface Call {
  readonly at: number;
  readonly full: boolean;
  readonly reason: SyncContext['reason'];
  readonly attempt: number;
}

/** Records calls to the managed function; `fail` decides whether the next call throws. */
class Receiver {
  readonly calls: Call[] = [];
  fail = false;
  readonly #clock: FakeClock;
  readonly #start: number;

  constructor(clock: FakeClock) {
    this.#clock = clock;
    this.#start = clock.monotonic();
  }

  readonly fn = (ctx: SyncContext): void => {
    this.calls.push({ at: this.#clock.monotonic() - this.#start, full: ctx.full, reason: ctx.reason, attempt: ctx.attempt });
    if (this.fail) throw new Error('sync error');
  };

  get count(): number {
    return this.calls.length;
  }

  last(): Call {
    const c = this.calls.at(-1);
    assert.ok(c, 'expected at least one call');
    return c;
  }
}

function setup(opts: { min: number; max: number; retry?: number; fullSyncInterval?: number }) {
  const clock = new FakeClock();
  const receiver = new Receiver(clock);
  const runner = new BoundedFrequencyRunner({
    name: 'test-runner',
    fn: receiver.fn,
    clock,
    minInterval: opts.min,
    maxInterval: opts.max,
    ...(opts.retry === undefined ? {} : { retryInterval: opts.retry }),
    ...(opts.fullSyncInterval === undefined ? {} : { fullSyncInterval: opts.fullSyncInterval }),
  });
  const controller = new AbortController();
  const done = runner.start(controller.signal);
  return { clock, receiver, runner, controller, done };
}

describe('BoundedFrequencyRunner', () => {
  // Port of upstream Test_BoundedFrequencyRunner (pkg/proxy/runner).
  it('runs at most every minInterval and at least every maxInterval', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: SECOND, retry: 5 * SECOND, max: 10 * SECOND });

    // Run once, immediately.
    runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    assert.deepEqual(r.last(), { at: 0, full: true, reason: 'requested', attempt: 1 });

    // Run again before minInterval expires: deferred.
    await clock.advance(500);
    runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    await clock.advance(499);
    runner.run();
    assert.equal(r.count, 1);

    // The deferred run happens exactly at minInterval.
    await clock.advance(1);
    assert.equal(r.count, 2);
    assert.deepEqual(r.last(), { at: 1000, full: false, reason: 'requested', attempt: 1 });

    runner.run();
    await clock.settle();
    assert.equal(r.count, 2);
    await clock.advance(1);
    runner.run();
    assert.equal(r.count, 2);
    await clock.advance(998);
    assert.equal(r.count, 2, 'must not run early');
    await clock.advance(1);
    assert.equal(r.count, 3);

    // minInterval passes with nothing queued: no run.
    await clock.advance(SECOND);
    assert.equal(r.count, 3);

    // maxInterval after the last run: periodic, full.
    await clock.advance(9 * SECOND - 1);
    assert.equal(r.count, 3);
    await clock.advance(1);
    assert.equal(r.count, 4);
    assert.deepEqual(r.last(), { at: 12_000, full: true, reason: 'periodic', attempt: 1 });

    // Run again before minInterval expires, then let it pass.
    await clock.advance(1);
    runner.run();
    assert.equal(r.count, 4);
    await clock.advance(998);
    assert.equal(r.count, 4);
    await clock.advance(1);
    assert.equal(r.count, 5);
    assert.equal(r.last().at, 13_000);

    controller.abort();
    await done;
  });

  // Port of upstream Test_BoundedFrequencyRunnerRetry.
  it('retries failed runs with a full sync; a successful run cancels the retry', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: SECOND, retry: 5 * SECOND, max: 10 * SECOND });

    // Run once, immediately, failing: queues a retry.
    r.fail = true;
    runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    r.fail = false;

    await clock.advance(SECOND); // rel=1s
    assert.equal(r.count, 1);
    await clock.advance(4 * SECOND - 1); // rel=4.999s
    assert.equal(r.count, 1);
    await clock.advance(1); // rel=5s: the retry
    assert.equal(r.count, 2);
    assert.deepEqual(r.last(), { at: 5000, full: true, reason: 'retry', attempt: 2 });

    // Request before minInterval expires; that run fails and queues another retry.
    await clock.advance(499);
    r.fail = true;
    runner.run();
    assert.equal(r.count, 2);
    await clock.advance(501); // rel=1s after run 2
    assert.equal(r.count, 3);
    assert.deepEqual(r.last(), { at: 6000, full: false, reason: 'requested', attempt: 1 });
    r.fail = false;

    await clock.advance(SECOND);
    assert.equal(r.count, 3);

    // A successful requested run aborts the retry; it is full because the last one failed.
    runner.run();
    await clock.settle();
    assert.equal(r.count, 4);
    assert.deepEqual(r.last(), { at: 7000, full: true, reason: 'requested', attempt: 2 });
    await clock.advance(4 * SECOND);
    assert.equal(r.count, 4, 'retry was cancelled because we already ran');

    // A new failing run queues a retry.
    r.fail = true;
    runner.run();
    await clock.settle();
    assert.equal(r.count, 5);
    r.fail = false;

    // Request before minInterval passes: runs at minInterval, which again cancels the retry.
    await clock.advance(100);
    runner.run();
    assert.equal(r.count, 5);
    await clock.advance(900);
    assert.equal(r.count, 6);
    assert.equal(r.last().full, true);

    await clock.advance(4 * SECOND); // 4s after run 6, 5s after the failure
    assert.equal(r.count, 6);
    await clock.advance(5 * SECOND); // 9s after run 6
    assert.equal(r.count, 6);
    await clock.advance(SECOND); // maxInterval after run 6
    assert.equal(r.count, 7);
    assert.deepEqual(r.last(), { at: 22_000, full: true, reason: 'periodic', attempt: 1 });

    controller.abort();
    await done;
  });

  // Port of upstream Test_BoundedFrequencyRunnerRetryShorterThanMinInterval.
  it('a retry shorter than minInterval waits for minInterval', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: 5 * SECOND, retry: SECOND, max: 10 * SECOND });
    r.fail = true;
    runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    r.fail = false;

    await clock.advance(SECOND);
    assert.equal(r.count, 1, 'still inside minInterval');
    await clock.advance(4 * SECOND - 1);
    assert.equal(r.count, 1);
    await clock.advance(1);
    assert.equal(r.count, 2);
    assert.deepEqual(r.last(), { at: 5000, full: true, reason: 'retry', attempt: 2 });

    await clock.advance(10 * SECOND);
    assert.equal(r.count, 3);
    assert.equal(r.last().reason, 'periodic');

    controller.abort();
    await done;
  });

  it('backs off exponentially while failing, capped at maxInterval, and resets on success', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: SECOND, max: 10 * SECOND });
    assert.equal(runner.retryInterval, SECOND, 'default retry is max(minInterval, 1s)');
    r.fail = true;
    runner.run();
    await clock.advance(40 * SECOND);
    // Failures at 0, then retries 1s, 2s, 4s, 8s, 10s (cap), 10s after each failure.
    assert.deepEqual(r.calls.map((c) => c.at), [0, 1000, 3000, 7000, 15_000, 25_000, 35_000]);
    assert.deepEqual(r.calls.map((c) => c.attempt), [1, 2, 3, 4, 5, 6, 7]);
    assert.ok(r.calls.slice(1).every((c) => c.full && c.reason === 'retry'));
    assert.equal(runner.consecutiveFailures, 7);

    r.fail = false;
    await clock.advance(5 * SECOND); // the next retry (45s) succeeds
    assert.equal(r.count, 8);
    assert.equal(r.last().at, 45_000);
    assert.equal(runner.consecutiveFailures, 0);
    r.fail = true;
    await clock.advance(10 * SECOND); // the periodic run (55s) fails: the backoff starts over at 1s
    assert.equal(r.count, 9);
    assert.deepEqual(r.last(), { at: 55_000, full: true, reason: 'periodic', attempt: 1 });
    await clock.advance(SECOND);
    assert.equal(r.count, 10);
    assert.deepEqual(r.last(), { at: 56_000, full: true, reason: 'retry', attempt: 2 });

    controller.abort();
    await done;
  });

  it('coalesces many requests into one run', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: SECOND, max: 60 * SECOND });
    for (let i = 0; i < 100; i++) runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    for (let i = 0; i < 100; i++) {
      runner.run();
      await clock.advance(5);
    }
    // 500ms of requests inside minInterval: one more run at 1s.
    await clock.advance(SECOND);
    assert.equal(r.count, 2);
    assert.equal(r.last().at, 1000);
    controller.abort();
    await done;
  });

  it('with minInterval 0 runs on request, still coalescing requests made together', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: 0, max: 60 * SECOND });
    runner.run();
    runner.run();
    runner.run();
    await clock.settle();
    assert.equal(r.count, 1);
    runner.run();
    await clock.settle();
    assert.equal(r.count, 2);
    assert.equal(r.last().at, 0);
    assert.equal(clock.pendingTimers, 1, 'only the periodic timer');
    controller.abort();
    await done;
  });

  it('never runs concurrently; a request during a run gets one more run after it', async () => {
    const clock = new FakeClock();
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    const releases: (() => void)[] = [];
    const runner = new BoundedFrequencyRunner({
      name: 'slow',
      clock,
      minInterval: 0,
      maxInterval: 60 * SECOND,
      fn: async () => {
        starts.push(clock.monotonic());
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((resolve) => releases.push(resolve));
        active--;
      },
    });
    const controller = new AbortController();
    const done = runner.start(controller.signal);

    runner.run();
    await clock.settle();
    assert.equal(starts.length, 1);
    assert.equal(runner.running, true);
    runner.run();
    runner.run();
    await clock.advance(5 * SECOND);
    assert.equal(starts.length, 1, 'no second run while the first is in flight');

    releases.shift()?.();
    await clock.settle();
    assert.equal(starts.length, 2, 'exactly one follow-up run');
    assert.equal(maxActive, 1);
    releases.shift()?.();
    await clock.settle();
    assert.equal(runner.running, false);
    await clock.advance(SECOND);
    assert.equal(starts.length, 2);

    controller.abort();
    await done;
  });

  it('measures minInterval from the end of a slow run', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const runner = new BoundedFrequencyRunner({
      name: 'slow',
      clock,
      minInterval: SECOND,
      maxInterval: 60 * SECOND,
      fn: async () => {
        starts.push(clock.monotonic());
        // The sync itself takes 3s of (fake) time.
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 3 * SECOND));
      },
    });
    const controller = new AbortController();
    const done = runner.start(controller.signal);
    const t0 = clock.monotonic();
    runner.run();
    await clock.advance(SECOND);
    runner.run(); // during the run
    await clock.advance(10 * SECOND);
    assert.deepEqual(starts.map((s) => s - t0), [0, 4000], 'next start = end (3s) + minInterval');
    controller.abort();
    await done;
  });

  it('does nothing before start, then serves earlier requests; the first periodic run is full', async () => {
    const clock = new FakeClock();
    const r = new Receiver(clock);
    const runner = new BoundedFrequencyRunner({ name: 't', fn: r.fn, clock, minInterval: SECOND, maxInterval: 10 * SECOND });
    runner.run();
    await clock.advance(30 * SECOND);
    assert.equal(r.count, 0);
    const controller = new AbortController();
    const done = runner.start(controller.signal);
    await clock.settle();
    assert.equal(r.count, 1);
    assert.equal(r.last().full, true);
    controller.abort();
    await done;

    // Without any request the first run is the periodic one, maxInterval after start.
    const s = setup({ min: SECOND, max: 10 * SECOND });
    await s.clock.advance(10 * SECOND - 1);
    assert.equal(s.receiver.count, 0);
    await s.clock.advance(1);
    assert.deepEqual(s.receiver.last(), { at: 10_000, full: true, reason: 'periodic', attempt: 1 });
    s.controller.abort();
    await s.done;
  });

  it('run({ full: true }) makes the requested run full', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: 0, max: 60 * SECOND });
    runner.run();
    await clock.settle();
    runner.run();
    await clock.settle();
    runner.run({ full: true });
    runner.run();
    await clock.settle();
    assert.deepEqual(r.calls.map((c) => c.full), [true, false, true]);
    controller.abort();
    await done;
  });

  it('with fullSyncInterval, periodic runs are partial until the interval has passed', async () => {
    const { clock, receiver: r, runner, controller, done } = setup({ min: SECOND, max: 10 * SECOND, fullSyncInterval: 25 * SECOND });
    runner.run();
    await clock.advance(30 * SECOND);
    // 0 (first: full), 10s, 20s periodic (partial), 30s periodic (30s since last full: full)
    assert.deepEqual(r.calls.map((c) => [c.at, c.full]), [[0, true], [10_000, false], [20_000, false], [30_000, true]]);
    controller.abort();
    await done;
  });

  it('retryAfter() from inside the function brings the next run forward', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    let ask = true;
    const runner: BoundedFrequencyRunner = new BoundedFrequencyRunner({
      name: 't',
      clock,
      minInterval: SECOND,
      maxInterval: 60 * SECOND,
      fn: () => {
        starts.push(clock.monotonic());
        if (ask) runner.retryAfter(3 * SECOND);
        ask = false;
      },
    });
    const controller = new AbortController();
    const done = runner.start(controller.signal);
    const t0 = clock.monotonic();
    runner.run();
    await clock.advance(10 * SECOND);
    assert.deepEqual(starts.map((s) => s - t0), [0, 3000]);
    // retryAfter while idle, shorter than minInterval: minInterval still wins.
    runner.retryAfter(100);
    await clock.advance(SECOND);
    assert.deepEqual(starts.map((s) => s - t0), [0, 3000, 10_100]);
    controller.abort();
    await done;
  });

  it('stops on abort: no more runs, and start() settles after the run in flight', async () => {
    const clock = new FakeClock();
    let release: (() => void) | undefined;
    let sawAbort = false;
    let calls = 0;
    const runner = new BoundedFrequencyRunner({
      name: 't',
      clock,
      minInterval: 0,
      maxInterval: 10 * SECOND,
      fn: async (ctx) => {
        calls++;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        sawAbort = ctx.signal.aborted;
      },
    });
    const controller = new AbortController();
    let settled = false;
    const done = runner.start(controller.signal).then(() => {
      settled = true;
    });
    runner.run();
    await clock.settle();
    assert.equal(calls, 1);
    controller.abort();
    runner.run();
    await clock.settle();
    assert.equal(settled, false, 'waits for the run in flight');
    release?.();
    await done;
    assert.equal(sawAbort, true);
    await clock.advance(60 * SECOND);
    assert.equal(calls, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  it('settles at once when started with an aborted signal', async () => {
    const clock = new FakeClock();
    const runner = new BoundedFrequencyRunner({ name: 't', fn: () => undefined, clock, minInterval: 0, maxInterval: SECOND });
    await runner.start(AbortSignal.abort());
    assert.throws(() => runner.start(new AbortController().signal), /already started/);
  });

  it('rejects bad intervals', () => {
    const clock = new FakeClock();
    const base = { name: 't', fn: () => undefined, clock };
    assert.throws(() => new BoundedFrequencyRunner({ ...base, minInterval: 2 * SECOND, maxInterval: SECOND }), /maxInterval/);
    assert.throws(() => new BoundedFrequencyRunner({ ...base, minInterval: -1, maxInterval: SECOND }), RangeError);
    assert.throws(() => new BoundedFrequencyRunner({ ...base, minInterval: 0, maxInterval: 0 }), RangeError);
    assert.throws(() => new BoundedFrequencyRunner({ ...base, minInterval: 0, maxInterval: Number.NaN }), RangeError);
  });

  it('logs failures and keeps going when the function rejects with a non-Error', async () => {
    const clock = new FakeClock();
    const { logger, records } = memoryLogger(0);
    let calls = 0;
    const runner = new BoundedFrequencyRunner({
      name: 'nft-IPv4',
      clock,
      logger,
      minInterval: 0,
      maxInterval: 10 * SECOND,
      retryInterval: 2 * SECOND,
      fn: () => {
        calls++;
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- deliberately not an Error
        if (calls === 1) return Promise.reject('boom');
        return Promise.resolve();
      },
    });
    const controller = new AbortController();
    const done = runner.start(controller.signal);
    runner.run();
    await clock.advance(2 * SECOND);
    assert.equal(calls, 2);
    const failure = records.find((rec) => rec['msg'] === 'sync failed; will retry with a full sync');
    assert.ok(failure);
    assert.equal(failure['runner'], 'nft-IPv4');
    assert.equal(failure['retryInMs'], 2000);
    controller.abort();
    await done;
  });
});
