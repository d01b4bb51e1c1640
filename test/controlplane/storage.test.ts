import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Store, type StoreEvent } from '../../src/controlplane/storage/store.ts';
import { segmentName } from '../../src/controlplane/storage/wal.ts';
import { frame, readFrames } from '../../src/controlplane/storage/framing.ts';
import { memoryLogger, silentLogger } from '../../src/util/logger.ts';
import { removeDir, tempDir } from './helpers.ts';

const obj = (name: string, v: number): Record<string, never> => ({ metadata: { name, namespace: 'default' }, spec: { v } }) as unknown as Record<string, never>;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir('store');
  try {
    await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('wal-')).sort();
}

describe('storage: framing', () => {
  it('round-trips records and detects torn or corrupted ones', () => {
    const a = frame('{"a":1}');
    const b = frame('{"b":2}');
    const both = Buffer.concat([a, b]);
    assert.deepEqual(readFrames(both, 0), { payloads: ['{"a":1}', '{"b":2}'], goodEnd: both.length, bad: false });
    const torn = both.subarray(0, both.length - 3);
    assert.deepEqual(readFrames(torn, 0), { payloads: ['{"a":1}'], goodEnd: a.length, bad: true });
    const flipped = Buffer.from(both);
    flipped[a.length + 9] = (flipped[a.length + 9] ?? 0) ^ 0xff;
    assert.equal(readFrames(flipped, 0).bad, true);
    assert.equal(readFrames(flipped, 0).payloads.length, 1);
  });
});

describe('storage: store', () => {
  it('assigns increasing resourceVersions, commits in order and survives a restart', () => withDir(async (dir) => {
    const s1 = await Store.open({ dir, logger: silentLogger() });
    const seen: StoreEvent[] = [];
    s1.onCommit((evs) => seen.push(...evs));
    const a = s1.put('services', 'default', 'a', obj('a', 1));
    const b = s1.put('services', 'default', 'b', obj('b', 1));
    const a2 = s1.put('services', 'default', 'a', obj('a', 2));
    const d = s1.delete('services', 'default', 'b');
    assert.equal(s1.committedRV, 0, 'nothing is visible to readers before the fsync');
    await Promise.all([a.committed, b.committed, a2.committed, d.committed]);
    assert.deepEqual(seen.map((e) => [e.type, e.rv, e.object.name]), [['ADDED', 1, 'a'], ['ADDED', 2, 'b'], ['MODIFIED', 3, 'a'], ['DELETED', 4, 'b']]);
    assert.equal(s1.getCommitted('services', 'default/a')?.obj['metadata'] !== undefined, true);
    await s1.close();

    const s2 = await Store.open({ dir, logger: silentLogger() });
    assert.equal(s2.committedRV, 4, 'the deletion revision is not lost');
    const got = s2.getCommitted('services', 'default/a');
    assert.equal(got?.rv, 3);
    assert.deepEqual(got.obj['spec'], { v: 2 });
    assert.equal(s2.getCommitted('services', 'default/b'), undefined);
    const next = s2.put('services', 'default', 'c', obj('c', 1));
    assert.equal(next.object.rv, 5, 'resourceVersion continues after restart');
    await next.committed;
    await s2.close();
  }));

  it('groups concurrent writes into few fsyncs (group commit)', () => withDir(async (dir) => {
    const s = await Store.open({ dir, logger: silentLogger() });
    const before = s.commitBatches;
    const writes = Array.from({ length: 500 }, (_, i) => s.put('services', 'default', `s${String(i)}`, obj(`s${String(i)}`, i)).committed);
    await Promise.all(writes);
    const batches = s.commitBatches - before;
    assert.ok(batches <= 5, `500 writes took ${String(batches)} fsync batches`);
    assert.equal(s.index('services').size, 500);
    await s.close();
  }));

  it('discards a torn WAL tail on load and keeps everything before it', () => withDir(async (dir) => {
    const { logger, records } = memoryLogger(0);
    const s1 = await Store.open({ dir, logger: silentLogger() });
    for (let i = 0; i < 5; i++) await s1.put('services', 'default', `s${String(i)}`, obj(`s${String(i)}`, i)).committed;
    await s1.close();
    // Simulate a crash in the middle of the next append: half a record at the end.
    const [seg] = (await walFiles(dir)).slice(-1);
    assert.ok(seg);
    const partial = frame('{"rv":6,"op":"put","r":"services","ns":"default","n":"torn","o":{}}');
    await appendFile(join(dir, seg), partial.subarray(0, partial.length - 10));
    const s2 = await Store.open({ dir, logger });
    assert.equal(s2.index('services').size, 5);
    assert.equal(s2.getCommitted('services', 'default/torn'), undefined);
    assert.equal(s2.committedRV, 5);
    assert.ok(records.some((r) => String(r['msg']).includes('torn')), 'the dropped tail is logged');
    const w = s2.put('services', 'default', 'after', obj('after', 1));
    assert.equal(w.object.rv, 6);
    await w.committed;
    await s2.close();
    const s3 = await Store.open({ dir, logger: silentLogger() });
    assert.equal(s3.index('services').size, 6);
    await s3.close();
  }));

  it('refuses to load a WAL segment corrupted in the middle', () => withDir(async (dir) => {
    const s1 = await Store.open({ dir, logger: silentLogger(), compactBytes: 1 << 30 });
    for (let i = 0; i < 3; i++) await s1.put('services', 'default', `s${String(i)}`, obj(`s${String(i)}`, i)).committed;
    await s1.close();
    // Two segments: corrupt the first one (not a torn tail: something after it exists).
    const files = await walFiles(dir);
    const last = files[files.length - 1];
    assert.ok(last);
    const seq = Number(/wal-(\d+)/.exec(last)?.[1]);
    await writeFile(join(dir, segmentName(seq + 1)), Buffer.concat([Buffer.from('KPTSWAL1'), frame('{"rv":100,"op":"del","r":"services","ns":"default","n":"s0"}')]));
    const fh = await open(join(dir, last), 'r+');
    const size = (await fh.stat()).size;
    assert.ok(size > 12, 'the first segment holds records');
    await fh.write(Buffer.from([0xde, 0xad]), 0, 2, size - 2);
    await fh.close();
    await assert.rejects(Store.open({ dir, logger: silentLogger() }), (err: Error & { code?: string }) => err.code === 'StoreCorrupt');
  }));

  it('compacts into a snapshot and removes old segments', () => withDir(async (dir) => {
    const s = await Store.open({ dir, logger: silentLogger(), compactBytes: 4096 });
    for (let i = 0; i < 200; i++) await s.put('services', 'default', `s${String(i % 50)}`, obj(`s${String(i % 50)}`, i)).committed;
    await s.snapshotNow();
    const files = await readdir(dir);
    assert.ok(files.includes('snapshot'));
    assert.ok((await walFiles(dir)).length <= 2, `old segments removed: ${files.join(',')}`);
    const rv = s.committedRV;
    await s.close();
    const s2 = await Store.open({ dir, logger: silentLogger() });
    assert.equal(s2.committedRV, rv);
    assert.equal(s2.index('services').size, 50);
    assert.deepEqual(s2.getCommitted('services', 'default/s49')?.obj['spec'], { v: 199 });
    await s2.close();
  }));

  it('loads from a snapshot plus the WAL written after it', () => withDir(async (dir) => {
    const s = await Store.open({ dir, logger: silentLogger() });
    await s.put('services', 'default', 'a', obj('a', 1)).committed;
    await s.snapshotNow();
    await s.put('services', 'default', 'b', obj('b', 1)).committed;
    await s.delete('services', 'default', 'a').committed;
    await s.close();
    const s2 = await Store.open({ dir, logger: silentLogger() });
    assert.deepEqual([...s2.index('services').byKey.keys()], ['default/b']);
    assert.equal(s2.committedRV, 3);
    await s2.close();
  }));

  it('ignores a leftover temp snapshot and a half-created segment', () => withDir(async (dir) => {
    const s = await Store.open({ dir, logger: silentLogger() });
    await s.put('services', 'default', 'a', obj('a', 1)).committed;
    await s.close();
    await writeFile(join(dir, 'snapshot.tmp'), 'garbage');
    const files = await walFiles(dir);
    const seq = Number(/wal-(\d+)/.exec(files[files.length - 1] ?? '')?.[1]);
    await writeFile(join(dir, segmentName(seq + 1)), 'KPTS');
    const s2 = await Store.open({ dir, logger: silentLogger() });
    assert.equal(s2.index('services').size, 1);
    await s2.close();
  }));

  it('writes the store with private permissions', () => withDir(async (dir) => {
    const sub = join(dir, 'store');
    const s = await Store.open({ dir: sub, logger: silentLogger() });
    await s.put('services', 'default', 'a', obj('a', 1)).committed;
    await s.close();
    assert.equal((await stat(sub)).mode & 0o777, 0o700);
    for (const f of await walFiles(sub)) assert.equal((await stat(join(sub, f))).mode & 0o077, 0);
  }));
});
