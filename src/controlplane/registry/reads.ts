// Reads: get, list (selectors, pagination, resourceVersion semantics) and watch, all served
// from the committed state, like kube-apiserver's watch cache.

import { ApiError, badRequest, expired, notFound } from '../errors.ts';
import type { FieldSelector } from '../selectors/fields.ts';
import type { LabelSelector } from '../selectors/labels.ts';
import { objectKey, type Store, type StoredObject } from '../storage/store.ts';
import type { Watch, WatchHub, WatchSink, WatchSpec } from '../watch/hub.ts';
import { metaOf } from './meta.ts';
import type { Strategy } from './types.ts';

export interface Selection {
  /** undefined: all namespaces (or a cluster-scoped resource). */
  readonly namespace: string | undefined;
  readonly label: LabelSelector;
  readonly field: FieldSelector;
}

export interface ListOptions extends Selection {
  readonly limit?: number | undefined;
  readonly continueToken?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly resourceVersionMatch?: string | undefined;
}

export interface ListResult {
  readonly items: readonly StoredObject[];
  readonly rv: number;
  readonly continueToken?: string;
  readonly remainingItemCount?: number;
}

export function fieldValue(st: Strategy, o: StoredObject, field: string): string | undefined {
  if (field === 'metadata.name') return o.name;
  if (field === 'metadata.namespace') return o.namespace;
  return st.fieldSelectors[field]?.(o.obj);
}

export function supportedFields(st: Strategy): Set<string> {
  return new Set(['metadata.name', 'metadata.namespace', ...Object.keys(st.fieldSelectors)]);
}

export function matcher(st: Strategy, sel: Selection): (o: StoredObject) => boolean {
  const ns = sel.namespace;
  const label = sel.label;
  const field = sel.field;
  return (o) => {
    if (ns !== undefined && o.namespace !== ns) return false;
    if (!label.empty && !label.matches(metaOf(o.obj).labels)) return false;
    if (!field.empty && !field.matches((f) => fieldValue(st, o, f))) return false;
    return true;
  };
}

function parseRV(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw badRequest(`invalid ${what}: ${JSON.stringify(text)}`);
  return Number(text);
}

interface ContinueToken {
  readonly rv: number;
  readonly start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && 'rv' in v && 'start' in v && typeof v.rv === 'number' && typeof v.start === 'string') {
      return { rv: v.rv, start: v.start };
    }
  } catch {
    // fall through
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

export class Reads {
  private readonly store: Store;
  private readonly hub: WatchHub;
  private readonly waiters: { rv: number; resolve: () => void }[] = [];

  constructor(store: Store, hub: WatchHub) {
    this.store = store;
    this.hub = hub;
    store.onCommit(() => {
      const rv = store.committedRV;
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i];
        if (w && w.rv <= rv) {
          this.waiters.splice(i, 1);
          w.resolve();
        }
      }
    });
  }

  get(st: Strategy, namespace: string, name: string): StoredObject {
    const o = this.store.getCommitted(st.def.resource, objectKey(st.def.namespaced ? namespace : '', name));
    if (!o) throw notFound(st.def, name);
    return o;
  }

  /** Waits (up to timeoutMs) until the committed revision reaches rv. */
  private async waitFor(rv: number, timeoutMs: number): Promise<boolean> {
    if (this.store.committedRV >= rv) return true;
    if (this.store.latestRV < rv) {
      // Nothing in flight will get there: kube-apiserver waits 3 s then gives up.
      await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 3000)).unref());
      return this.store.committedRV >= rv;
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(this.store.committedRV >= rv); }, timeoutMs);
      timer.unref();
      this.waiters.push({ rv, resolve: () => { clearTimeout(timer); resolve(true); } });
    });
  }

  async list(st: Strategy, opts: ListOptions): Promise<ListResult> {
    const rvText = opts.resourceVersion ?? '';
    const match = opts.resourceVersionMatch ?? '';
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
    }
    if (match !== '' && rvText === '') throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    let token: ContinueToken | undefined;
    if (opts.continueToken) {
      if (rvText !== '' && rvText !== '0') throw badRequest('specifying resource version is not allowed when using continue');
      token = decodeContinue(opts.continueToken);
      if (token.rv < this.hub.history(st.def.resource).startRV) {
        throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
    }
    if (rvText !== '' && rvText !== '0') {
      const want = parseRV(rvText, 'resourceVersion');
      if (match === 'Exact' && want < this.store.committedRV) {
        throw expired(`too old resource version: ${String(want)} (${String(this.store.committedRV)})`);
      }
      if (want > this.store.committedRV && !(await this.waitFor(want, 3000))) {
        throw new ApiError(504, 'Timeout', `Too large resource version: ${String(want)}, current: ${String(this.store.committedRV)}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1,
        });
      }
    }
    const rv = token?.rv ?? this.store.committedRV;
    const matches = matcher(st, opts);
    const idx = this.store.index(st.def.resource);
    const name = opts.field.name;
    let candidates: readonly StoredObject[];
    if (name !== undefined) {
      if (opts.namespace !== undefined || !st.def.namespaced) {
        const o = idx.byKey.get(objectKey(opts.namespace ?? '', name));
        candidates = o ? [o] : [];
      } else {
        candidates = idx.sorted().filter((o) => o.name === name);
      }
    } else {
      candidates = opts.namespace !== undefined && st.def.namespaced ? idx.sorted(opts.namespace) : idx.sorted();
    }
    // Continue pages are served as of the first page's revision (etcd serves them from that
    // snapshot): otherwise a paginated list mixes revisions, and a watch from the list's
    // resourceVersion replays events older than objects the list already returned.
    if (token) candidates = this.asOf(st, token.rv, candidates, st.def.namespaced ? opts.namespace : undefined);
    // rv "0" may be served from the cache without paging, like kube-apiserver.
    const limit = rvText === '0' ? 0 : (opts.limit ?? 0);
    let start = 0;
    if (token) {
      const from = token.start;
      let lo = 0;
      let hi = candidates.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const c = candidates[mid];
        if (c !== undefined && c.key < from) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const items: StoredObject[] = [];
    let i = start;
    for (; i < candidates.length; i++) {
      const o = candidates[i];
      if (o === undefined || !matches(o)) continue;
      if (limit > 0 && items.length >= limit) break;
      items.push(o);
    }
    const more = limit > 0 && items.length >= limit && candidates.slice(i).some(matches);
    if (!more) return { items, rv };
    const last = items[items.length - 1];
    const result: ListResult = { items, rv, continueToken: encodeContinue({ rv, start: `${last?.key ?? ''}\u0000` }) };
    return opts.label.empty && opts.field.empty ? { ...result, remainingItemCount: candidates.length - i } : result;
  }

  /**
   * `current` (key-sorted) as it was at revision `rv`: the retained events after `rv` are undone,
   * newest first, so each key ends at its state before the first of them (absent for an ADDED).
   * The caller has checked that the history still covers `rv`. `namespace` limits what comes
   * back from the past to the namespace `current` was taken from.
   */
  private asOf(st: Strategy, rv: number, current: readonly StoredObject[], namespace: string | undefined): readonly StoredObject[] {
    const events = this.hub.history(st.def.resource).since(rv);
    if (!events || events.length === 0) return current;
    const then = new Map<string, StoredObject | undefined>();
    for (let i = events.length - 1; i >= 0; i--) {
      const ev = events[i];
      if (ev) then.set(ev.object.key, ev.type === 'ADDED' ? undefined : ev.prev);
    }
    const out = current.filter((o) => !then.has(o.key));
    for (const o of then.values()) if (o && (namespace === undefined || o.namespace === namespace)) out.push(o);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Starts a watch. rv ""/"0" (or sendInitialEvents) first sends the current objects as ADDED;
   * a specific rv replays the retained events after it, or answers 410 when they are gone.
   */
  watch(st: Strategy, sel: Selection, opts: { resourceVersion: string; sendInitialEvents: boolean | undefined; spec: Omit<WatchSpec, 'matches' | 'resource' | 'kind' | 'apiVersion' | 'namespace' | 'encode'> & { readonly encode: WatchSpec['encode'] | undefined } }, sink: WatchSink): Watch | ApiError {
    const matches = matcher(st, sel);
    const spec: WatchSpec = { ...opts.spec, encode: opts.spec.encode ?? this.hub.jsonEncoder, matches, resource: st.def.resource, kind: st.def.kind, apiVersion: st.def.apiVersion, namespace: st.def.namespaced ? sel.namespace : undefined };
    const rvText = opts.resourceVersion;
    const fromNow = rvText === '' || rvText === '0';
    if (opts.sendInitialEvents === true || (fromNow && opts.sendInitialEvents !== false)) {
      const idx = this.store.index(st.def.resource);
      const base = sel.namespace !== undefined && st.def.namespaced ? idx.sorted(sel.namespace) : idx.sorted();
      return this.hub.open(spec, sink, base.filter(matches), [], opts.sendInitialEvents === true);
    }
    if (fromNow) return this.hub.open(spec, sink, [], [], false);
    const rv = parseRV(rvText, 'resourceVersion');
    const history = this.hub.history(st.def.resource);
    const events = history.since(rv);
    if (!events) return expired(`too old resource version: ${String(rv)} (${String(history.startRV + 1)})`);
    return this.hub.open(spec, sink, [], events, false);
  }
}
