import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/controlplane/storage/store.ts';
import { History } from '../../src/controlplane/watch/history.ts';

const ev = (rv: number, size = 10): StoreEvent => ({
  type: 'MODIFIED', rv, resource: 'services', prev: undefined,
  object: { resource: 'services', namespace: 'default', name: 'x', key: 'default/x', rv, obj: {}, json: 'x'.repeat(size) },
});

describe('watch history', () => {
  it('returns the events after a revision, or undefined when they are gone', () => {
    const h = new History(10, 3);
    for (const rv of [11, 12, 15, 16]) h.push(ev(rv));
    assert.equal(h.startRV, 11, 'the oldest event was evicted');
    assert.equal(h.since(10), undefined);
    assert.deepEqual(h.since(11)?.map((e) => e.rv), [12, 15, 16]);
    assert.deepEqual(h.since(13)?.map((e) => e.rv), [15, 16]);
    assert.deepEqual(h.since(16), []);
    assert.deepEqual(h.since(99), []);
  });
  it('is bounded by bytes too', () => {
    const h = new History(0, 1000, 100);
    for (let rv = 1; rv <= 20; rv++) h.push(ev(rv, 30));
    assert.equal(h.size, 3);
    assert.equal(h.startRV, 17);
  });
  it('compaction forgets everything up to a revision', () => {
    const h = new History(0, 100);
    for (let rv = 1; rv <= 5; rv++) h.push(ev(rv));
    h.compact(5);
    assert.equal(h.since(4), undefined);
    assert.deepEqual(h.since(5), []);
  });
});
