// The durable object store. Writers see the latest state (including writes not yet on disk)
// so that conflicts and allocations are decided in order; readers see the committed state,
// which only ever contains writes whose WAL records are fsync'ed. Every write gets the next
// resourceVersion (one counter for all resources, like etcd's revision).
//
// Group commit: writes queue up while an fsync is in flight and go out together in the next
// one. After each commit the committed state is updated and listeners get the events in
// resourceVersion order. When the WAL grows past `compactBytes`, a new segment is started and
// the committed state is written as a snapshot in the background; older segments are then
// removed. See README.md for the on-disk format.

import type { Logger } from '../../util/logger.ts';
import { isObject, type JsonObject } from '../json.ts';
import { frame } from './framing.ts';
import { ensureDir } from './fsutil.ts';
import { readSnapshot, writeSnapshot, type SnapshotEntry } from './snapshot.ts';
import { listSegments, readSegment, removeSegments, StoreCorruptError, WalWriter } from './wal.ts';

export interface StoredObject {
  readonly resource: string;
  /** '' for cluster-scoped objects. */
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
  readonly rv: number;
  /** Immutable by convention: copy before changing. */
  readonly obj: JsonObject;
  readonly json: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  readonly resource: string;
  /** For DELETED: the last state, with resourceVersion set to the deletion's. */
  readonly object: StoredObject;
  readonly prev: StoredObject | undefined;
}

export interface StoreOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** fsync WAL appends and snapshots (default true). Only tests may turn this off. */
  readonly fsync?: boolean;
  /** Start a new WAL segment and snapshot once the current one exceeds this (default 64 MiB). */
  readonly compactBytes?: number;
}

export interface WriteResult {
  readonly object: StoredObject;
  /** Resolves once the write is durable and visible to readers and watchers. */
  readonly committed: Promise<void>;
}

export function objectKey(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function byKey(a: StoredObject, b: StoredObject): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Index of `key` in an array sorted by key, or -1. */
function findSorted(arr: readonly StoredObject[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const k = arr[mid]?.key ?? '';
    if (k < key) lo = mid + 1;
    else hi = mid;
  }
  return arr[lo]?.key === key ? lo : -1;
}

/**
 * Committed objects of one resource, indexed by key and by namespace. Key-sorted arrays (etcd's
 * order, for lists and pagination) are cached: rebuilt lazily after an add or delete, patched
 * in place on updates.
 */
export class ResourceIndex {
  readonly byKey = new Map<string, StoredObject>();
  readonly byNamespace = new Map<string, Map<string, StoredObject>>();
  private sortedAll: StoredObject[] | undefined;
  private readonly sortedByNs = new Map<string, StoredObject[]>();

  set(o: StoredObject): void {
    const had = this.byKey.has(o.key);
    this.byKey.set(o.key, o);
    let ns = this.byNamespace.get(o.namespace);
    if (!ns) {
      ns = new Map();
      this.byNamespace.set(o.namespace, ns);
    }
    ns.set(o.name, o);
    if (!had) {
      this.sortedAll = undefined;
      this.sortedByNs.delete(o.namespace);
      return;
    }
    for (const arr of [this.sortedAll, this.sortedByNs.get(o.namespace)]) {
      if (!arr) continue;
      const i = findSorted(arr, o.key);
      if (i >= 0) arr[i] = o;
    }
  }

  delete(o: StoredObject): void {
    this.byKey.delete(o.key);
    const ns = this.byNamespace.get(o.namespace);
    ns?.delete(o.name);
    if (ns?.size === 0) this.byNamespace.delete(o.namespace);
    this.sortedAll = undefined;
    this.sortedByNs.delete(o.namespace);
  }

  /** Objects in key order, optionally of one namespace. Do not modify the result. */
  sorted(namespace?: string): readonly StoredObject[] {
    if (namespace !== undefined) {
      let arr = this.sortedByNs.get(namespace);
      if (!arr) {
        const ns = this.byNamespace.get(namespace);
        if (!ns) return [];
        arr = [...ns.values()].sort(byKey);
        this.sortedByNs.set(namespace, arr);
      }
      return arr;
    }
    this.sortedAll ??= [...this.byKey.values()].sort(byKey);
    return this.sortedAll;
  }

  get size(): number {
    return this.byKey.size;
  }
}

interface Pending {
  readonly event: StoreEvent;
  readonly buf: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

function rvOf(obj: JsonObject): number {
  const m = obj['metadata'];
  const rv = isObject(m) ? m['resourceVersion'] : undefined;
  return typeof rv === 'string' ? Number(rv) || 0 : 0;
}

function withRV(obj: JsonObject, rv: number): JsonObject {
  const meta = isObject(obj['metadata']) ? obj['metadata'] : {};
  return { ...obj, metadata: { ...meta, resourceVersion: String(rv) } };
}

export class Store {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly sync: boolean;
  private readonly compactBytes: number;
  private readonly latest = new Map<string, Map<string, StoredObject>>();
  private readonly committed = new Map<string, ResourceIndex>();
  private readonly listeners: ((events: readonly StoreEvent[]) => void)[] = [];
  private wal: WalWriter;
  private rvCounter: number;
  private committedRvValue: number;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private snapshotting: Promise<void> | undefined;
  private rotateWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private closed = false;
  /** Number of fsync'ed batches (for tests and metrics). */
  commitBatches = 0;

  private constructor(opts: StoreOptions, wal: WalWriter, rv: number) {
    this.dir = opts.dir;
    this.logger = opts.logger;
    this.sync = opts.fsync ?? true;
    this.compactBytes = opts.compactBytes ?? 64 * 1024 * 1024;
    this.wal = wal;
    this.rvCounter = rv;
    this.committedRvValue = rv;
  }

  /** Opens (or creates) the store in `opts.dir`: snapshot + WAL replay, torn tail dropped. */
  static async open(opts: StoreOptions): Promise<Store> {
    const sync = opts.fsync ?? true;
    await ensureDir(opts.dir, 0o700);
    const snap = await readSnapshot(opts.dir);
    const state = new Map<string, Map<string, { namespace: string; name: string; obj: JsonObject }>>();
    let rv = 0;
    if (snap) {
      rv = snap.rv;
      for (const e of snap.entries) {
        let m = state.get(e.resource);
        if (!m) state.set(e.resource, (m = new Map<string, { namespace: string; name: string; obj: JsonObject }>()));
        m.set(objectKey(e.namespace, e.name), e);
      }
    }
    const segments = (await listSegments(opts.dir)).filter((s) => !snap || s.seq > snap.walSeq);
    const stale = (await listSegments(opts.dir)).filter((s) => snap && s.seq <= snap.walSeq);
    let replayed = 0;
    for (const [i, seg] of segments.entries()) {
      const contents = await readSegment(seg, i === segments.length - 1);
      if (contents.droppedBytes > 0) opts.logger.warn({ segment: seg.path, droppedBytes: contents.droppedBytes }, 'store: discarded torn write-ahead log tail');
      for (const text of contents.payloads) {
        const rec: unknown = JSON.parse(text);
        if (!isObject(rec) || typeof rec['rv'] !== 'number' || typeof rec['r'] !== 'string' || typeof rec['ns'] !== 'string' || typeof rec['n'] !== 'string') {
          throw new StoreCorruptError(`${seg.path}: malformed record`);
        }
        if (rec['rv'] <= rv) continue;
        rv = rec['rv'];
        replayed++;
        let m = state.get(rec['r']);
        if (!m) state.set(rec['r'], (m = new Map<string, { namespace: string; name: string; obj: JsonObject }>()));
        const key = objectKey(rec['ns'], rec['n']);
        if (rec['op'] === 'del') m.delete(key);
        else if (rec['op'] === 'put' && isObject(rec['o'])) m.set(key, { namespace: rec['ns'], name: rec['n'], obj: rec['o'] });
        else throw new StoreCorruptError(`${seg.path}: malformed record`);
      }
    }
    const lastSeq = Math.max(snap?.walSeq ?? 0, ...segments.map((s) => s.seq));
    const wal = await WalWriter.create(opts.dir, lastSeq + 1, sync);
    const store = new Store(opts, wal, rv);
    let count = 0;
    for (const [resource, m] of state) {
      const latest = new Map<string, StoredObject>();
      const idx = new ResourceIndex();
      for (const [key, e] of m) {
        const o: StoredObject = { resource, namespace: e.namespace, name: e.name, key, rv: rvOf(e.obj), obj: e.obj, json: JSON.stringify(e.obj) };
        latest.set(key, o);
        idx.set(o);
        count++;
      }
      store.latest.set(resource, latest);
      store.committed.set(resource, idx);
    }
    opts.logger.info({ dir: opts.dir, resourceVersion: rv, objects: count, replayed }, 'store: loaded');
    if (replayed > 0 || segments.length > 0 || stale.length > 0) {
      // Fold the replayed log into a fresh snapshot so restarts stay fast.
      await store.snapshotNow();
    }
    return store;
  }

  /** Latest resourceVersion handed out (may not be committed yet). */
  get latestRV(): number {
    return this.rvCounter;
  }

  /** Highest resourceVersion visible to readers. */
  get committedRV(): number {
    return this.committedRvValue;
  }

  onCommit(listener: (events: readonly StoreEvent[]) => void): void {
    this.listeners.push(listener);
  }

  // ---- writer view ----

  getLatest(resource: string, key: string): StoredObject | undefined {
    return this.latest.get(resource)?.get(key);
  }

  /** All latest objects of a resource (optionally of one namespace). */
  latestObjects(resource: string, namespace?: string): StoredObject[] {
    const m = this.latest.get(resource);
    if (!m) return [];
    const all = [...m.values()];
    return namespace === undefined ? all : all.filter((o) => o.namespace === namespace);
  }

  // ---- reader view ----

  index(resource: string): ResourceIndex {
    let idx = this.committed.get(resource);
    if (!idx) {
      idx = new ResourceIndex();
      this.committed.set(resource, idx);
    }
    return idx;
  }

  getCommitted(resource: string, key: string): StoredObject | undefined {
    return this.committed.get(resource)?.byKey.get(key);
  }

  // ---- writes ----

  private checkWritable(): void {
    if (this.failure) throw new Error(`storage failed earlier: ${this.failure.message}`);
    if (this.closed) throw new Error('store is closed');
  }

  /** Stores `obj` (its metadata.resourceVersion is set to the new revision). */
  put(resource: string, namespace: string, name: string, obj: JsonObject): WriteResult {
    this.checkWritable();
    const rv = ++this.rvCounter;
    const stamped = withRV(obj, rv);
    const key = objectKey(namespace, name);
    const json = JSON.stringify(stamped);
    const object: StoredObject = { resource, namespace, name, key, rv, obj: stamped, json };
    let m = this.latest.get(resource);
    if (!m) this.latest.set(resource, (m = new Map<string, StoredObject>()));
    const prev = m.get(key);
    m.set(key, object);
    const payload = `{"rv":${String(rv)},"op":"put","r":${JSON.stringify(resource)},"ns":${JSON.stringify(namespace)},"n":${JSON.stringify(name)},"o":${json}}`;
    const committed = this.enqueue({ type: prev ? 'MODIFIED' : 'ADDED', rv, resource, object, prev }, frame(payload));
    return { object, committed };
  }

  /** Deletes an object; the result carries its last state stamped with the deletion's revision. */
  delete(resource: string, namespace: string, name: string): WriteResult {
    this.checkWritable();
    const key = objectKey(namespace, name);
    const m = this.latest.get(resource);
    const prev = m?.get(key);
    if (!m || !prev) throw new Error(`delete of missing object ${resource} ${key}`);
    const rv = ++this.rvCounter;
    m.delete(key);
    const stamped = withRV(prev.obj, rv);
    const object: StoredObject = { ...prev, rv, obj: stamped, json: JSON.stringify(stamped) };
    const payload = `{"rv":${String(rv)},"op":"del","r":${JSON.stringify(resource)},"ns":${JSON.stringify(namespace)},"n":${JSON.stringify(name)}}`;
    const committed = this.enqueue({ type: 'DELETED', rv, resource, object, prev }, frame(payload));
    return { object, committed };
  }

  private enqueue(event: StoreEvent, buf: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event, buf, resolve, reject });
      this.kick();
    });
  }

  /** Starts the flush loop unless it runs. All WAL appends and rotations happen in it, in order. */
  private kick(): void {
    if (this.flushing) return;
    this.flushing = new Promise<void>((done) => {
      // Let the writes of this I/O turn join the batch.
      setImmediate(() => {
        void this.flushLoop().finally(() => {
          this.flushing = undefined;
          done();
          if (this.pending.length > 0 || this.rotateWaiters.length > 0) this.kick();
        });
      });
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 || this.rotateWaiters.length > 0) {
      if (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          if (this.failure) throw this.failure;
          await this.wal.append(Buffer.concat(batch.map((p) => p.buf)));
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err));
          if (!this.failure) this.logger.error({ err: e }, 'store: write-ahead log append failed; refusing further writes');
          this.failure ??= e;
          for (const p of [...batch, ...this.pending]) p.reject(new Error(`storage failure: ${e.message}`));
          this.pending = [];
          continue;
        }
        this.commitBatches++;
        this.applyCommitted(batch.map((p) => p.event));
        for (const p of batch) p.resolve();
      }
      const requested = this.rotateWaiters.length > 0;
      if (requested || (this.wal.bytes > this.compactBytes && !this.snapshotting)) {
        const waiters = this.rotateWaiters;
        this.rotateWaiters = [];
        try {
          if (this.snapshotting) await this.snapshotting;
          await this.rotate();
        } catch (err) {
          this.logger.error({ err }, 'store: starting a new write-ahead log segment failed');
        }
        for (const w of waiters) w();
      }
    }
  }

  private applyCommitted(events: readonly StoreEvent[]): void {
    for (const ev of events) {
      const idx = this.index(ev.resource);
      if (ev.type === 'DELETED') idx.delete(ev.object);
      else idx.set(ev.object);
      this.committedRvValue = ev.rv;
    }
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        this.logger.error({ err }, 'store: commit listener failed');
      }
    }
  }

  /**
   * Starts a new WAL segment and snapshots the committed state, which is exactly what the old
   * segments hold. Runs only inside the flush loop, so no append can interleave.
   */
  private async rotate(): Promise<void> {
    const entries = this.snapshotEntries();
    const rv = this.committedRvValue;
    const old = this.wal;
    this.wal = await WalWriter.create(this.dir, old.seq + 1, this.sync);
    await old.close();
    const started = Date.now();
    this.snapshotting = (async () => {
      try {
        await writeSnapshot(this.dir, rv, old.seq, entries, this.sync);
        const segs = (await listSegments(this.dir)).filter((s) => s.seq <= old.seq);
        await removeSegments(this.dir, segs);
        this.logger.debug({ resourceVersion: rv, objects: entries.length, ms: Date.now() - started }, 'store: snapshot written');
      } catch (err) {
        this.logger.error({ err }, 'store: snapshot failed (the write-ahead log still has everything)');
      } finally {
        this.snapshotting = undefined;
      }
    })();
  }

  private snapshotEntries(): SnapshotEntry[] {
    const out: SnapshotEntry[] = [];
    for (const [resource, idx] of this.committed) {
      for (const o of idx.byKey.values()) out.push({ resource, namespace: o.namespace, name: o.name, json: o.json });
    }
    return out;
  }

  /** Waits until everything queued is durable. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Compacts now: new segment + snapshot of the committed state; resolves when written. */
  async snapshotNow(): Promise<void> {
    this.checkWritable();
    await new Promise<void>((resolve) => {
      this.rotateWaiters.push(resolve);
      this.kick();
    });
    while (this.snapshotting) await this.snapshotting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    while (this.snapshotting) await this.snapshotting;
    await this.wal.close();
  }
}
