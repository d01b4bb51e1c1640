import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canCollect, collectAfterLargeSync, LARGE_SYNC_PORTS } from '../../src/cli/heap.ts';

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
});
