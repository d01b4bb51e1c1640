import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canCollect, collectAfterLargeSync, collectBeforeLargeSync, LARGE_SYNC_PORTS } from '../../src/cli/heap.ts';

describe('major collection after a large full sync', () => {
  it('can get V8 gc without a command-line flag, and collects only after large syncs', async () => {
    assert.equal(canCollect(), true);
    // Garbage that only a collection frees: a large sync's worth of strings, dropped.
    const makeGarbage = (): number => Array.from({ length: 200_000 }, (_, i) => `element ${String(i)} . 80 : 10.0.0.1 . 8080`).length;
    assert.equal(makeGarbage(), 200_000);
    const before = process.memoryUsage().heapUsed;
    collectAfterLargeSync(LARGE_SYNC_PORTS - 1);
    await new Promise((r) => setImmediate(r));
    collectAfterLargeSync(LARGE_SYNC_PORTS);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const after = process.memoryUsage().heapUsed;
    assert.ok(after < before - 5 * 2 ** 20, `heap ${String(before >> 20)} → ${String(after >> 20)} MiB`);
  });

  it('collects at once before a sync of many changes, not before a small one', () => {
    const makeGarbage = (): number => Array.from({ length: 200_000 }, (_, i) => `slice ${String(i)} . 80 : 10.0.0.1 . 8080`).length;
    assert.equal(makeGarbage(), 200_000);
    const before = process.memoryUsage().heapUsed;
    collectBeforeLargeSync(LARGE_SYNC_PORTS - 1);
    const small = process.memoryUsage().heapUsed;
    assert.ok(small > before - 2 ** 20, 'no collection for a small sync');
    collectBeforeLargeSync(LARGE_SYNC_PORTS);
    const after = process.memoryUsage().heapUsed;
    assert.ok(after < before - 5 * 2 ** 20, `heap ${String(before >> 20)} → ${String(after >> 20)} MiB, synchronously`);
  });
});
