// DeadlineQueue: the connect timeouts of a listener, all of one duration, as one FIFO with one
// timer. Never early, late by at most the granularity, cancelled entries never fire and are not
// retained, retries added while expiring are honoured, and one timer at a time.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineQueue } from '../../../src/dataplanes/userspace/deadlines.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

interface Item { readonly id: string }

function kit(durationMs = 1000, granularityMs = 50): { clock: FakeClock; q: DeadlineQueue<Item>; fired: { id: string; at: number }[] } {
  const clock = new FakeClock();
  const start = clock.monotonic();
  const fired: { id: string; at: number }[] = [];
  const q = new DeadlineQueue<Item>(clock, durationMs, (item) => { fired.push({ id: item.id, at: clock.monotonic() - start }); }, granularityMs);
  return { clock, q, fired };
}

describe('DeadlineQueue', () => {
  it('expires entries in order, never early and at most one granularity late', async () => {
    const { clock, q, fired } = kit(1000, 50);
    q.add({ id: 'a' });
    await clock.advance(300);
    q.add({ id: 'b' });
    await clock.advance(999 - 300);
    assert.equal(fired.length, 0, 'nothing before its deadline');
    await clock.advance(2000);
    assert.deepEqual(fired.map((f) => f.id), ['a', 'b']);
    const [a, b] = fired;
    assert.ok(a !== undefined && a.at >= 1000 && a.at <= 1050, `a at ${String(a?.at)}`);
    assert.ok(b !== undefined && b.at >= 1300 && b.at <= 1350, `b at ${String(b?.at)}`);
    assert.equal(q.size, 0);
    assert.equal(clock.pendingTimers, 0, 'no timer left once empty');
  });

  it('a cancelled entry never fires; cancelling the last one drops the timer', async () => {
    const { clock, q, fired } = kit();
    const ta = q.add({ id: 'a' });
    const tb = q.add({ id: 'b' });
    q.cancel(ta);
    await clock.advance(2000);
    assert.deepEqual(fired.map((f) => f.id), ['b']);
    q.cancel(tb); // already expired: ignored
    const tc = q.add({ id: 'c' });
    assert.equal(clock.pendingTimers, 1);
    q.cancel(tc);
    assert.equal(q.size, 0);
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(5000);
    assert.deepEqual(fired.map((f) => f.id), ['b']);
  });

  it('keeps a single timer however many entries are pending', async () => {
    const { clock, q, fired } = kit(1000, 10);
    for (let i = 0; i < 500; i++) {
      q.add({ id: String(i) });
      await clock.advance(7);
    }
    assert.ok(clock.pendingTimers <= 1, `${clock.pendingTimers} timers`);
    await clock.advance(2000);
    assert.equal(fired.length, 500);
    assert.deepEqual(fired.map((f) => f.id), Array.from({ length: 500 }, (_, i) => String(i)));
  });

  it('honours an entry added by the expiry callback (a retry), at its own deadline', async () => {
    const clock = new FakeClock();
    const start = clock.monotonic();
    const fired: string[] = [];
    let retried = false;
    const q: DeadlineQueue<Item> = new DeadlineQueue<Item>(clock, 1000, (item) => {
      fired.push(`${item.id}@${clock.monotonic() - start}`);
      if (!retried) {
        retried = true;
        q.add({ id: 'retry' });
      }
    }, 10);
    q.add({ id: 'first' });
    await clock.advance(1500);
    assert.deepEqual(fired, ['first@1010']);
    await clock.advance(1000);
    assert.deepEqual(fired, ['first@1010', 'retry@2020']);
  });

  it('tickets stay valid across compaction of the queue', async () => {
    const { clock, q, fired } = kit(100, 1);
    const tickets: number[] = [];
    for (let i = 0; i < 3000; i++) tickets.push(q.add({ id: `old${i}` }));
    await clock.advance(50);
    const late = q.add({ id: 'late' });
    await clock.advance(60); // the 3000 expire, 'late' stays: the arrays are compacted under it
    assert.equal(fired.length, 3000);
    assert.equal(q.size, 1);
    q.cancel(tickets[5] ?? -1); // a stale ticket cancels nothing
    assert.equal(q.size, 1);
    q.cancel(late);
    assert.equal(q.size, 0);
    const t = q.add({ id: 'new' });
    q.cancel(late);
    assert.equal(q.size, 1, 'an old ticket does not hit a new entry');
    q.cancel(t);
    await clock.advance(500);
    assert.equal(fired.length, 3000);
  });

  it('clear() drops everything without firing', async () => {
    const { clock, q, fired } = kit();
    q.add({ id: 'a' });
    q.add({ id: 'b' });
    q.clear();
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(5000);
    assert.equal(fired.length, 0);
  });
});
