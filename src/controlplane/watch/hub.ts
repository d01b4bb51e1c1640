// Watch fan-out. Committed store events go into a per-resource history and out to the open
// watches of that resource (indexed by namespace, so an event only visits the watches that can
// want it). Each watch filters by namespace/labels/fields and translates MODIFIED into ADDED
// or DELETED when an object enters or leaves its selection, like kube-apiserver's cacher.

import type { Logger } from '../../util/logger.ts';
import { isObject } from '../json.ts';
import type { StoredObject, StoreEvent, EventType } from '../storage/store.ts';
import { History } from './history.ts';

export type WatchEventType = EventType | 'BOOKMARK' | 'ERROR';

/** Where a watch writes: the HTTP response in production, an array in tests. */
export interface WatchSink {
  write(chunk: string): void;
  /** Bytes queued but not yet sent (for slow-client protection). */
  buffered(): number;
  end(): void;
  destroy(): void;
}

export interface WatchSpec {
  readonly resource: string;
  readonly kind: string;
  readonly apiVersion: string;
  /** undefined: all namespaces. */
  readonly namespace: string | undefined;
  readonly matches: (o: StoredObject) => boolean;
  /** Encodes one event line (newline-terminated). */
  readonly encode: (type: EventType, o: StoredObject) => string;
  readonly bookmarks: boolean;
  /** Close (after a bookmark, if enabled) after this long. */
  readonly timeoutMs: number;
}

export class Watch {
  readonly spec: WatchSpec;
  private readonly sink: WatchSink;
  private readonly hub: WatchHub;
  private timer: NodeJS.Timeout | undefined;
  silenced = false;
  closed = false;

  constructor(hub: WatchHub, spec: WatchSpec, sink: WatchSink) {
    this.hub = hub;
    this.spec = spec;
    this.sink = sink;
  }

  /** Writes raw text unless silenced; drops the watch when the client cannot keep up. */
  send(text: string): void {
    if (this.closed || this.silenced || text === '') return;
    this.sink.write(text);
    if (this.sink.buffered() > this.hub.maxBufferedBytes) {
      this.hub.logger.warn({ resource: this.spec.resource, buffered: this.sink.buffered() }, 'watch: client too slow, closing');
      this.drop();
    }
  }

  deliver(ev: StoreEvent, cache: Map<string, string>): string {
    const cur = ev.type !== 'DELETED' && this.spec.matches(ev.object);
    const prev = ev.prev !== undefined && this.spec.matches(ev.prev);
    if (ev.type === 'MODIFIED' && !cur && !prev) return '';
    let type: EventType;
    let obj = ev.object;
    if (ev.type === 'ADDED') {
      if (!cur) return '';
      type = 'ADDED';
    } else if (ev.type === 'DELETED') {
      if (!prev && !this.spec.matches(ev.object)) return '';
      type = 'DELETED';
    } else if (cur && prev) {
      type = 'MODIFIED';
    } else if (cur) {
      type = 'ADDED';
    } else if (ev.prev) {
      // Left the selection: DELETED carrying the previous state at the new revision.
      type = 'DELETED';
      const meta = ev.prev.obj['metadata'];
      const stamped = { ...ev.prev.obj, metadata: { ...(isObject(meta) ? meta : {}), resourceVersion: String(ev.rv) } };
      obj = { ...ev.prev, rv: ev.rv, obj: stamped, json: JSON.stringify(stamped) };
    } else {
      return '';
    }
    if (obj !== ev.object || this.spec.encode !== this.hub.jsonEncoder) return this.spec.encode(type, obj);
    let line = cache.get(type);
    if (line === undefined) {
      line = this.spec.encode(type, obj);
      cache.set(type, line);
    }
    return line;
  }

  bookmark(rv: number, initialEventsEnd = false): void {
    if (!this.spec.bookmarks) return;
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEventsEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    this.send(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: this.spec.kind, apiVersion: this.spec.apiVersion, metadata } })}\n`);
  }

  startTimer(): void {
    this.timer = setTimeout(() => {
      if (this.silenced) return;
      this.bookmark(this.hub.committedRV());
      this.close();
    }, this.spec.timeoutMs);
    this.timer.unref();
  }

  /** Ends the response normally. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.hub.remove(this);
    this.sink.end();
  }

  /** Drops the connection abruptly. */
  drop(): void {
    if (this.closed) {
      this.sink.destroy();
      return;
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.hub.remove(this);
    this.sink.destroy();
  }

  /** The client went away. */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.hub.remove(this);
  }
}

export interface HubOptions {
  readonly logger: Logger;
  readonly historyLimit: number;
  /** Bytes (of event JSON) kept per resource (default 64 MiB). */
  readonly historyBytes?: number;
  readonly bookmarkIntervalMs: number;
  readonly maxBufferedBytes?: number;
  readonly committedRV: () => number;
}

export class WatchHub {
  readonly logger: Logger;
  readonly maxBufferedBytes: number;
  readonly committedRV: () => number;
  private readonly historyLimit: number;
  private readonly historyBytes: number;
  private readonly histories = new Map<string, History>();
  /** resource → namespace ('' for cluster-scoped, '*' for all-namespace watches) → watches */
  private readonly watches = new Map<string, Map<string, Set<Watch>>>();
  private readonly bookmarkTimer: NodeJS.Timeout;
  private silenceNew = false;
  private initialRV: number;

  readonly jsonEncoder = (type: EventType, o: StoredObject): string => `{"type":"${type}","object":${o.json}}\n`;

  constructor(opts: HubOptions) {
    this.logger = opts.logger;
    this.historyLimit = opts.historyLimit;
    this.historyBytes = opts.historyBytes ?? 64 * 1024 * 1024;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 256 * 1024 * 1024;
    this.committedRV = opts.committedRV;
    this.initialRV = opts.committedRV();
    this.bookmarkTimer = setInterval(() => { this.sendBookmarks(); }, opts.bookmarkIntervalMs);
    this.bookmarkTimer.unref();
  }

  history(resource: string): History {
    let h = this.histories.get(resource);
    if (!h) {
      h = new History(this.initialRV, this.historyLimit, this.historyBytes);
      this.histories.set(resource, h);
    }
    return h;
  }

  onCommit(events: readonly StoreEvent[]): void {
    const byResource = new Map<string, StoreEvent[]>();
    for (const ev of events) {
      this.history(ev.resource).push(ev);
      let list = byResource.get(ev.resource);
      if (!list) byResource.set(ev.resource, (list = []));
      list.push(ev);
    }
    for (const [resource, evs] of byResource) {
      const byNs = this.watches.get(resource);
      if (!byNs || byNs.size === 0) continue;
      // Batch per watch: one write per commit.
      const out = new Map<Watch, string>();
      for (const ev of evs) {
        const cache = new Map<string, string>();
        const targets = [byNs.get('*'), byNs.get(ev.object.namespace)];
        for (const set of targets) {
          if (!set) continue;
          for (const w of set) {
            const line = w.deliver(ev, cache);
            if (line) out.set(w, (out.get(w) ?? '') + line);
          }
        }
      }
      for (const [w, text] of out) w.send(text);
    }
  }

  /**
   * Opens a watch. `replay` are past events to send first (from history), `initial` objects to
   * send as ADDED first (rv "" / "0" semantics). The caller has already checked expiry.
   */
  open(spec: WatchSpec, sink: WatchSink, initial: readonly StoredObject[], replay: readonly StoreEvent[], initialEventsEnd: boolean): Watch {
    const w = new Watch(this, spec, sink);
    if (this.silenceNew) w.silenced = true;
    let text = '';
    for (const o of initial) text += spec.encode('ADDED', o);
    const cache = new Map<string, string>();
    for (const ev of replay) {
      cache.clear();
      text += w.deliver(ev, cache);
    }
    w.send(text);
    if (initialEventsEnd) w.bookmark(this.committedRV(), true);
    let byNs = this.watches.get(spec.resource);
    if (!byNs) this.watches.set(spec.resource, (byNs = new Map<string, Set<Watch>>()));
    const key = spec.namespace ?? '*';
    let set = byNs.get(key);
    if (!set) byNs.set(key, (set = new Set()));
    set.add(w);
    w.startTimer();
    return w;
  }

  remove(w: Watch): void {
    const byNs = this.watches.get(w.spec.resource);
    const key = w.spec.namespace ?? '*';
    const set = byNs?.get(key);
    set?.delete(w);
    if (set?.size === 0) byNs?.delete(key);
  }

  all(): Watch[] {
    const out: Watch[] = [];
    for (const byNs of this.watches.values()) for (const set of byNs.values()) out.push(...set);
    return out;
  }

  sendBookmarks(): void {
    const rv = this.committedRV();
    for (const w of this.all()) w.bookmark(rv);
  }

  /** Test hook: forget history up to now, so watches from older revisions get 410. */
  compact(): number {
    const rv = this.committedRV();
    this.initialRV = rv;
    for (const h of this.histories.values()) h.compact(rv);
    return rv;
  }

  /** Test hook: drop every open watch connection. Returns how many. */
  dropAll(): number {
    const all = this.all();
    for (const w of all) w.drop();
    return all.length;
  }

  /** Test hook: open watches (and, with includeFuture, new ones) stop sending anything. */
  silence(includeFuture: boolean): number {
    const all = this.all();
    for (const w of all) w.silenced = true;
    if (includeFuture) this.silenceNew = true;
    return all.length;
  }

  unsilenceFuture(): void {
    this.silenceNew = false;
  }

  /** Ends every watch (server shutdown). */
  closeAll(): void {
    for (const w of this.all()) w.drop();
    clearInterval(this.bookmarkTimer);
  }
}
