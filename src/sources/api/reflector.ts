// List/watch of one resource, kept in a local store, fed to a sink: our own client-go reflector.
//
// - LIST in pages (limit 500 + continue, like client-go's pager); a 410 on a continue token
//   falls back to one unpaginated LIST (pager.FullListIfExpired).
// - WATCH from the list's resourceVersion with allowWatchBookmarks and a random timeoutSeconds
//   in [5, 10) min; every event, BOOKMARKs included, moves the resourceVersion on. A watch
//   that ends cleanly is re-opened at once from that resourceVersion, no relist.
// - 410 Gone / Expired (HTTP status or ERROR event): LIST again and diff against the store:
//   delete what vanished, update what changed (resourceVersion differs), add what is new.
// - Errors: jittered exponential backoff (./backoff.ts, client-go's numbers) with an early wake
//   when the server comes back. The first error, and separately the first 410, since the last
//   healthy watch (one that delivered an event or bookmark, or lived ≥ minHealthyWatchMs) are
//   retried at once: a dropped connection needs a new watch, and an API server back from an
//   outage answers the first watch with 410. Repeats back off, so a server that keeps failing
//   (or keeps expiring every watch) is never spun on. Retry-After is honoured. A watch refused
//   with an HTTP status other than 410/429 relists (as client-go does); transport errors, bad
//   lines and ERROR events re-watch from the last resourceVersion. Nothing is emitted while the
//   server is unreachable: state is never flushed.
// - An inactivity watchdog restarts a watch that has sent nothing, not even a bookmark, for
//   longer than a threshold (a half-open connection through a load balancer).
// - `synced()` once, after the events of the first complete list were delivered.

import type { KubeObject } from '../handlers.ts';
import type { Logger } from '../../util/logger.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import type { ApiClient } from './client.ts';
import { Backoff, CLIENT_GO_REFLECTOR_BACKOFF, waitForRetry, type BackoffPolicy, type ReachabilityProbe } from './backoff.ts';
import { ApiError, describeError, errorCode, isAborted, isApiError, isTransportError, parseRetryAfter, statusError } from './errors.ts';
import { resourceQuery, type ResourceSpec } from './resources.ts';
import { ObjectStore, isRecord, validateObject, type ReplaceResult, type StoreSink } from './store.ts';

export interface ReflectorSink extends StoreSink {
  /** The first complete list has been delivered. Called once. */
  synced(): void;
}

export type ListReason = 'initial' | 'expired' | 'error';
export type WatchEndReason = 'closed' | 'idle' | 'expired' | 'error';

/** Counters for metrics; every method optional. `resource` is the plural name ("services"). */
export interface ReflectorObserver {
  listed?(resource: string, reason: ListReason, result: ReplaceResult): void;
  watchRestarted?(resource: string, reason: WatchEndReason): void;
  error?(resource: string, op: 'list' | 'watch', code: string): void;
  invalidObject?(resource: string): void;
}

export interface ReflectorTuning {
  /** LIST page size (client-go pager default 500); 0 lists in one go. */
  readonly pageSize: number;
  /**
   * The first LIST asks for resourceVersion "0", as client-go's reflector does
   * (relistResourceVersion with no previous list): an API server answers it from its watch
   * cache in one response, ignoring the page size. Relists (after an error or 410) are paged
   * and consistent. Without this, 30k Services are 60 pages, each waiting for the client rate
   * limiter (qps 5): 12 s before the first sync.
   */
  readonly initialListFromCache: boolean;
  readonly backoff: BackoffPolicy;
  /** timeoutSeconds is random in [min, 2·min) (client-go: 5 min). */
  readonly minWatchTimeoutSeconds: number;
  /**
   * Restart a watch silent for this long. API servers ≥ 1.27 send a bookmark about every minute
   * (older ones shortly before timeoutSeconds), so the default is twice that: 2 min.
   */
  readonly inactivityTimeoutMs: number;
  /** Deadline per LIST page. */
  readonly listTimeoutMs: number;
  /** How often a backoff wait probes the server (see ./backoff.ts). */
  readonly probeIntervalMs: number;
  /** A watch that ends sooner than this without any event counts as a failure. */
  readonly minHealthyWatchMs: number;
}

export const DEFAULT_REFLECTOR_TUNING: ReflectorTuning = {
  pageSize: 500,
  initialListFromCache: true,
  backoff: CLIENT_GO_REFLECTOR_BACKOFF,
  minWatchTimeoutSeconds: 300,
  inactivityTimeoutMs: 120_000,
  listTimeoutMs: 60_000,
  // Half a second keeps convergence after an outage well inside 2 s (probe + relist + sync).
  probeIntervalMs: 500,
  minHealthyWatchMs: 1_000,
};

/** Retry-After beyond this is treated as this (a misbehaving proxy should not park us for hours). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

export interface ReflectorOptions {
  readonly client: ApiClient;
  readonly resource: ResourceSpec;
  readonly sink: ReflectorSink;
  readonly logger: Logger;
  readonly clock?: Clock | undefined;
  readonly random?: (() => number) | undefined;
  /** Wakes backoff waits early when the server answers again. */
  readonly probe?: ReachabilityProbe | undefined;
  readonly observer?: ReflectorObserver | undefined;
  readonly tuning?: Partial<ReflectorTuning> | undefined;
  /**
   * A resource the server may not serve: a 404 on the initial LIST means it does not (an older
   * API server, a feature turned off). It is logged once and the reflector stops: run()
   * resolves, and the sink never hears of it (no synced()).
   */
  readonly optional?: boolean | undefined;
}

type WatchOutcome =
  | { readonly kind: 'aborted' }
  | { readonly kind: 'closed'; readonly healthy: boolean }
  | { readonly kind: 'idle'; readonly healthy: boolean }
  | { readonly kind: 'expired' | 'error'; readonly healthy: boolean; readonly err: unknown; readonly relist: boolean };

/** `progress`: a valid event or bookmark (what makes a watch count as healthy). */
type LineResult = { readonly end: false; readonly progress: boolean } | { readonly end: true; readonly err: ApiError };

export class Reflector {
  private readonly client: ApiClient;
  private readonly spec: ResourceSpec;
  private readonly optional: boolean;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly probe: ReachabilityProbe | undefined;
  private readonly observer: ReflectorObserver;
  private readonly tuning: ReflectorTuning;
  private readonly backoff: Backoff;
  private readonly store = new ObjectStore();
  private readonly sink: ReflectorSink;
  private rv = '';
  private hasSynced = false;
  /** Errors since the last healthy watch. */
  private failures = 0;
  /** 410s since the last healthy watch: kept apart, a 410 after an outage is expected. */
  private expirations = 0;
  /** One early wake without an observed outage is allowed per healthy period. */
  private wakeWithoutOutage = true;

  constructor(opts: ReflectorOptions) {
    this.client = opts.client;
    this.spec = opts.resource;
    this.optional = opts.optional === true;
    this.logger = opts.logger.child({ resource: opts.resource.name });
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.probe = opts.probe;
    this.observer = opts.observer ?? {};
    this.tuning = { ...DEFAULT_REFLECTOR_TUNING, ...opts.tuning };
    this.backoff = new Backoff(this.tuning.backoff, this.clock, this.random);
    this.sink = guardSink(opts.sink, this.logger);
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  /** The resourceVersion the next watch starts from. */
  get resourceVersion(): string {
    return this.rv;
  }

  /** The objects as last delivered to the sink. */
  objects(): KubeObject[] {
    return this.store.list();
  }

  /** Lists and watches until `signal` aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let reason: ListReason = 'initial';
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.listAndReplace(signal, reason);
          needList = false;
        } catch (err) {
          if (isAborted(signal)) break;
          if (this.optional && !this.hasSynced && isApiError(err) && err.status === 404) {
            this.logger.info({ resource: this.spec.name, path: this.spec.path, server: this.client.describe() }, `${this.spec.name} are not served by this API server: not watched`);
            return;
          }
          this.failures++;
          this.report('list', err);
          if (this.hasSynced) reason = 'error';
          await this.pause(err, signal, this.failures === 1);
          continue;
        }
      }
      const out = await this.watch(signal);
      if (out.kind === 'aborted') break;
      if (out.healthy) {
        this.failures = 0;
        this.expirations = 0;
        this.wakeWithoutOutage = true;
      }
      this.observer.watchRestarted?.(this.spec.name, out.kind);
      if (out.kind === 'idle') {
        this.logger.info({ afterMs: this.tuning.inactivityTimeoutMs, resourceVersion: this.rv }, 'watch sent nothing, not even a bookmark: restarting it');
        continue;
      }
      if (out.kind === 'closed') {
        this.logger.debug({ resourceVersion: this.rv }, 'watch closed by the server: re-watching');
        if (!out.healthy) {
          this.failures++;
          await this.pause(new ApiError('API_TRANSPORT', 'watch closed immediately without events'), signal, this.failures === 1);
        }
        continue;
      }
      if (out.kind === 'expired') {
        this.expirations++;
        this.logger.info({ resourceVersion: this.rv, err: describeError(out.err) }, 'watch resourceVersion expired: relisting');
        needList = true;
        reason = 'expired';
        await this.pause(out.err, signal, this.expirations === 1);
        continue;
      }
      this.failures++;
      this.report('watch', out.err);
      if (out.relist) {
        needList = true;
        reason = 'error';
      }
      await this.pause(out.err, signal, this.failures === 1);
    }
  }

  private report(op: 'list' | 'watch', err: unknown): void {
    const code = errorCode(err);
    this.observer.error?.(this.spec.name, op, code);
    this.logger.warn({ op, code, err: describeError(err), failures: this.failures, server: this.client.describe() }, `${op} ${this.spec.name} failed`);
  }

  /**
   * Waits before the next attempt, per the retry policy in the header comment. `first`: the
   * first failure of its kind since the last healthy watch, retried at once (unless the server
   * sent Retry-After).
   */
  private async pause(err: unknown, signal: AbortSignal, first: boolean): Promise<void> {
    const retryAfter = isApiError(err) ? err.retryAfterMs : undefined;
    if (first && retryAfter === undefined) return;
    let delay = this.backoff.next();
    if (retryAfter !== undefined) delay = Math.max(delay, Math.min(retryAfter, MAX_RETRY_AFTER_MS));
    const serverTrouble = isTransportError(err) || (isApiError(err) && err.status !== undefined && err.status >= 500);
    const wake = this.probe !== undefined && retryAfter === undefined && serverTrouble
      ? { probe: this.probe, intervalMs: this.tuning.probeIntervalMs, withoutOutage: this.wakeWithoutOutage }
      : undefined;
    this.logger.debug({ delayMs: Math.round(delay), failures: this.failures }, 'backing off');
    const result = await waitForRetry(delay, this.clock, signal, wake);
    if (result === 'recovered') {
      this.wakeWithoutOutage = false;
      this.logger.info({ server: this.client.describe() }, 'API server answers again: retrying now');
    }
  }

  private async listAndReplace(signal: AbortSignal, reason: ListReason): Promise<void> {
    const replacement = this.store.beginReplace(this.sink);
    const offer = (raw: unknown): void => {
      const v = validateObject(raw, this.spec);
      if (v.ok) replacement.offer(v.obj);
      else this.invalid(v.name, v.field, v.value, 'list');
    };
    // Before the first sync nothing is programmed from this resource, so items go to the
    // handlers as they stream in. A relist must reach the handlers all at once (no sync may see
    // half of it): its items wait as JSON text (a few bytes per byte of body, against tens for
    // the parsed objects) and are decoded in one synchronous run at the end.
    const streaming = !this.hasSynced;
    const held: string[] = [];
    const rv = await this.list(signal, reason === 'initial' && !this.hasSynced && this.tuning.initialListFromCache, {
      item: (json) => {
        if (streaming) offer(this.parseItem(json));
        else held.push(json);
      },
      page: (items) => {
        if (streaming) for (const raw of items) offer(raw);
        else for (const raw of items) held.push(JSON.stringify(raw));
      },
      restart: () => {
        held.length = 0;
        replacement.restart();
      },
    });
    for (let i = 0; i < held.length; i++) {
      offer(this.parseItem(held[i] ?? ''));
      held[i] = '';
    }
    const result = replacement.finish();
    this.rv = rv;
    this.observer.listed?.(this.spec.name, reason, result);
    this.logger.info({ reason, resourceVersion: rv, ...result }, `listed ${this.spec.name}`);
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.sink.synced();
    }
  }

  private parseItem(json: string): unknown {
    try {
      return JSON.parse(json);
    } catch (err) {
      throw new ApiError('API_DECODE', `list ${this.spec.name}: an item is not JSON`, { cause: err });
    }
  }

  /**
   * LISTs in pages; each item goes to `to.item` as JSON text while the body streams in (one
   * item's object graph at a time, never the whole list's), or to `to.page` if the client
   * returned it inside the body. Returns the list's resourceVersion. `to.restart` is called when
   * the list starts over (an expired continue token).
   */
  private async list(signal: AbortSignal, fromCache: boolean, to: ListConsumer): Promise<string> {
    let limit = this.tuning.pageSize;
    let cont: string | undefined;
    for (;;) {
      const rv = fromCache && cont === undefined && limit === this.tuning.pageSize ? '0' : undefined;
      const path = resourceQuery(this.spec, { resourceVersion: rv, limit: limit > 0 ? String(limit) : undefined, continue: cont });
      const res = await this.client.request(path, { signal, timeoutMs: this.tuning.listTimeoutMs, onListItem: to.item });
      if (res.status === 410 && cont !== undefined) {
        this.logger.info('list continue token expired: listing again without pagination');
        to.restart();
        cont = undefined;
        limit = 0;
        continue;
      }
      if (res.status !== 200) {
        throw statusError(res.status, res.body, parseRetryAfter(res.header('retry-after'), this.clock.now()), `list ${this.spec.name}`);
      }
      const page = parseListPage(res.body, this.spec.name);
      to.page(page.items);
      if (page.cont === undefined) return page.rv;
      cont = page.cont;
    }
  }

  private async watch(signal: AbortSignal): Promise<WatchOutcome> {
    const ctrl = new AbortController();
    const onAbort = (): void => { ctrl.abort(); };
    signal.addEventListener('abort', onAbort, { once: true });
    const timeoutSeconds = Math.floor(this.tuning.minWatchTimeoutSeconds * (1 + this.random()));
    const path = resourceQuery(this.spec, {
      watch: 'true',
      resourceVersion: this.rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(Math.max(1, timeoutSeconds)),
    });
    const started = this.clock.monotonic();
    let events = 0;
    // An object, not a `let`: TypeScript does not see the watchdog's write and would call the
    // later reads always-false.
    const watchdogFired = { value: false };
    const arm = (): { cancel(): void } => this.clock.setTimeout(() => { watchdogFired.value = true; ctrl.abort(); }, this.tuning.inactivityTimeoutMs);
    let watchdog = arm();
    const healthy = (): boolean => events > 0 || this.clock.monotonic() - started >= this.tuning.minHealthyWatchMs;
    try {
      for await (const line of this.client.stream(path, ctrl.signal)) {
        watchdog.cancel();
        watchdog = arm();
        if (line.trim() === '') continue;
        const r = this.handleLine(line);
        if (!r.end) {
          if (r.progress) events++;
        } else {
          return r.err.code === 'API_EXPIRED'
            ? { kind: 'expired', healthy: healthy(), err: r.err, relist: true }
            : { kind: 'error', healthy: healthy(), err: r.err, relist: false };
        }
      }
      if (isAborted(signal)) return { kind: 'aborted' };
      return watchdogFired.value ? { kind: 'idle', healthy: healthy() } : { kind: 'closed', healthy: healthy() };
    } catch (err) {
      if (isAborted(signal)) return { kind: 'aborted' };
      if (watchdogFired.value) return { kind: 'idle', healthy: healthy() };
      if (isApiError(err) && err.code === 'API_EXPIRED') return { kind: 'expired', healthy: healthy(), err, relist: true };
      // A watch refused with an HTTP status (other than 429) is not retried as a watch: client-go
      // relists then, which also copes with "resourceVersion too large" after an etcd restore.
      const relist = isApiError(err) && err.code === 'API_STATUS' && err.status !== 429;
      return { kind: 'error', healthy: healthy(), err, relist };
    } finally {
      watchdog.cancel();
      signal.removeEventListener('abort', onAbort);
      ctrl.abort();
    }
  }

  private handleLine(line: string): LineResult {
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      return { end: true, err: new ApiError('API_DECODE', `watch ${this.spec.name}: not JSON: ${line.slice(0, 120)}`) };
    }
    if (!isRecord(ev) || typeof ev['type'] !== 'string' || !isRecord(ev['object'])) {
      return { end: true, err: new ApiError('API_DECODE', `watch ${this.spec.name}: not a watch event: ${line.slice(0, 120)}`) };
    }
    const type = ev['type'];
    const obj = ev['object'];
    switch (type) {
      case 'BOOKMARK': {
        const meta = obj['metadata'];
        const rv = isRecord(meta) ? meta['resourceVersion'] : undefined;
        if (typeof rv === 'string' && rv !== '') {
          this.rv = rv;
          return { end: false, progress: true };
        }
        this.invalid('', 'metadata.resourceVersion', rv, 'BOOKMARK');
        return { end: false, progress: false };
      }
      case 'ERROR': {
        const code = typeof obj['code'] === 'number' ? obj['code'] : 0;
        const message = typeof obj['message'] === 'string' ? obj['message'] : line.slice(0, 200);
        const reason = typeof obj['reason'] === 'string' ? obj['reason'] : undefined;
        return code === 410 || reason === 'Expired' || reason === 'Gone'
          ? { end: true, err: new ApiError('API_EXPIRED', `watch ${this.spec.name}: ${message}`, { status: 410, reason }) }
          : { end: true, err: new ApiError('API_WATCH_ERROR', `watch ${this.spec.name}: ERROR ${code}: ${message}`, { status: code, reason }) };
      }
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        const v = validateObject(obj, this.spec);
        if (!v.ok) {
          this.invalid(v.name, v.field, v.value, type);
          const meta = obj['metadata'];
          const rv = isRecord(meta) ? meta['resourceVersion'] : undefined;
          if (typeof rv === 'string' && rv !== '') this.rv = rv;
          return { end: false, progress: false };
        }
        if (type === 'DELETED') this.store.remove(v.obj, this.sink);
        else this.store.upsert(v.obj, this.sink);
        this.rv = v.obj.metadata.resourceVersion ?? this.rv;
        return { end: false, progress: true };
      }
      default:
        this.logger.warn({ type }, 'unknown watch event type: skipped');
        return { end: false, progress: false };
    }
  }

  private invalid(name: string, field: string, value: unknown, where: string): void {
    this.observer.invalidObject?.(this.spec.name);
    this.logger.warn({ kind: this.spec.kind, name, field, value: preview(value), where, code: 'INVALID_OBJECT' }, `invalid ${this.spec.kind} skipped`);
  }
}

interface ListConsumer {
  readonly item: (json: string) => void;
  readonly page: (items: readonly unknown[]) => void;
  readonly restart: () => void;
}

function parseListPage(body: string, what: string): { items: unknown[]; rv: string; cont: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new ApiError('API_DECODE', `list ${what}: body is not JSON`, { cause: err });
  }
  if (!isRecord(parsed)) throw new ApiError('API_DECODE', `list ${what}: body is not an object`);
  const meta = parsed['metadata'];
  const items = parsed['items'];
  if (!isRecord(meta) || typeof meta['resourceVersion'] !== 'string' || meta['resourceVersion'] === '') {
    throw new ApiError('API_DECODE', `list ${what}: metadata.resourceVersion missing`);
  }
  if (items !== null && items !== undefined && !Array.isArray(items)) throw new ApiError('API_DECODE', `list ${what}: items is not an array`);
  const cont = meta['continue'];
  return {
    items: Array.isArray(items) ? (items as unknown[]) : [],
    rv: meta['resourceVersion'],
    cont: typeof cont === 'string' && cont !== '' ? cont : undefined,
  };
}

function preview(v: unknown): unknown {
  if (typeof v === 'string') return v.slice(0, 100);
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? '[array]' : '[object]';
  return v;
}

/** A handler that throws is a bug there; it must not stop the reflector. */
function guardSink(sink: ReflectorSink, logger: Logger): ReflectorSink {
  const guard = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      logger.error({ code: 'HANDLER_ERROR', handler: what, err: describeError(err) }, 'event handler threw');
    }
  };
  return {
    add: (o) => { guard('add', () => { sink.add(o); }); },
    update: (a, b) => { guard('update', () => { sink.update(a, b); }); },
    delete: (o) => { guard('delete', () => { sink.delete(o); }); },
    synced: () => { guard('synced', () => { sink.synced(); }); },
  };
}
