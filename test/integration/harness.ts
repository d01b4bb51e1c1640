// Integration harness: the real API source (ApiSource → ProxyState → ProxyLoop) against the real
// embedded control plane, over HTTPS with its CA and token.
//
// Three views are compared after every fault:
//   1. the server's state, listed over HTTP and filtered by the test's own reading of upstream's
//      selectors (no service-proxy-name label, not headless; EndpointSlices not labelled
//      headless);
//   2. what the handlers were told: RecordingHandlers (test/sources/fixtures.ts) teed in front of
//      ProxyState, which also flags protocol violations (duplicate adds, updates whose `old` is
//      not the last delivered object, deletes of unknown objects, synced twice), and the tee
//      itself flags updates that go back to an older resourceVersion;
//   3. what the dataplane was asked to program: the last snapshot handed to a recording
//      dataplane by the real ProxyLoop, compared with the snapshot of an independent ProxyState
//      fed the server's list directly.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/index.ts';
import type { Dataplane, SyncRequest } from '../../src/dataplanes/dataplane.ts';
import { ProxyState } from '../../src/model/proxy-state.ts';
import type { FamilySnapshot } from '../../src/model/types.ts';
import { ProxyHealth } from '../../src/server/proxy-health.ts';
import { ApiSource, createApiClient, type ApiClient, type ApiRequestOptions, type ApiResponse, type ReflectorTuning } from '../../src/sources/api/index.ts';
import type { KubeObject, ObjectMeta, ProxyHandlers } from '../../src/sources/handlers.ts';
import { ProxyLoop } from '../../src/sync/proxy-loop.ts';
import { systemClock } from '../../src/util/clock.ts';
import { memoryLogger, silentLogger } from '../../src/util/logger.ts';
import { Client, removeDir, tempDir } from '../controlplane/helpers.ts';
import { RecordingHandlers } from '../sources/fixtures.ts';
import { prng } from '../helpers/prng.ts';

export const NODE = 'node-a';
export const SERVICES_PATH = '/api/v1/services';
export const SLICES_PATH = '/apis/discovery.k8s.io/v1/endpointslices';
export const PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** Small enough that every list in these tests is paginated. */
export const FAST_TUNING: Partial<ReflectorTuning> = {
  pageSize: 50,
  backoff: { initialMs: 50, factor: 2, maxMs: 400, jitter: 0.5, resetAfterMs: 10_000 },
  inactivityTimeoutMs: 10_000,
  probeIntervalMs: 50,
  minHealthyWatchMs: 200,
};

export function startPlane(dataDir: string, extra: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  return startControlPlane({ dataDir, listen: '127.0.0.1:0', logger: silentLogger(), bookmarkIntervalMs: 1000, ...extra });
}

// ---- API objects ----

export function serviceBody(name: string, port = 80, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, labels },
    spec: { ports: [{ name: 'http', port, targetPort: 8080, protocol: 'TCP' }] },
  };
}

export function sliceBody(service: string, name: string, ips: readonly string[], labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service, ...labels } },
    addressType: 'IPv4',
    endpoints: ips.map((ip, i) => ({ addresses: [ip], conditions: { ready: i % 3 !== 2 }, nodeName: i % 2 === 0 ? NODE : 'node-b' })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

export const servicesOf = (ns: string): string => `/api/v1/namespaces/${ns}/services`;
export const slicesOf = (ns: string): string => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

/** Throws unless the response has one of the expected statuses. */
export async function expectStatus(p: Promise<{ status: number; text: string }>, ...ok: number[]): Promise<void> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
}

export function mergePatch(client: Client, path: string, body: unknown): Promise<{ status: number; text: string }> {
  return client.patch(path, body, 'application/merge-patch+json');
}

// ---- the server's view ----

export interface ServerState {
  readonly services: readonly KubeObject[];
  readonly slices: readonly KubeObject[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asKubeObject(raw: unknown, namespaced: boolean): KubeObject {
  assert.ok(isRecord(raw) && isRecord(raw['metadata']), 'list item has metadata');
  const meta = raw['metadata'];
  const { name, namespace, resourceVersion, labels } = meta;
  assert.ok(typeof name === 'string' && typeof resourceVersion === 'string');
  assert.ok(!namespaced || typeof namespace === 'string');
  const metadata: ObjectMeta = {
    ...meta, name, namespace: typeof namespace === 'string' ? namespace : undefined, resourceVersion,
    labels: isRecord(labels) ? Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) : undefined,
  };
  return { ...raw, metadata };
}

async function listItems(client: Client, path: string): Promise<unknown[]> {
  const r = await client.get(path);
  assert.equal(r.status, 200, r.text);
  const items: unknown = r.json()['items'];
  assert.ok(Array.isArray(items));
  return items as unknown[];
}

/**
 * Everything the server holds, listed namespace by namespace (not through the all-namespace
 * collections the proxy uses, so faults injected on those never hit this), then filtered the
 * way kube-proxy's selectors filter.
 */
export async function serverState(client: Client): Promise<ServerState> {
  const namespaces = (await listItems(client, '/api/v1/namespaces')).map((n) => asKubeObject(n, false).metadata.name);
  const services: KubeObject[] = [];
  const slices: KubeObject[] = [];
  await Promise.all(namespaces.map(async (ns) => {
    for (const o of await listItems(client, servicesOf(ns))) services.push(asKubeObject(o, true));
    for (const o of await listItems(client, slicesOf(ns))) slices.push(asKubeObject(o, true));
  }));
  return {
    services: services.filter((s) => {
      const spec = s['spec'];
      return s.metadata.labels?.[PROXY_NAME_LABEL] === undefined && !(isRecord(spec) && spec['clusterIP'] === 'None');
    }),
    slices: slices.filter((s) => s.metadata.labels?.[HEADLESS_LABEL] === undefined),
  };
}

export function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** key → resourceVersion. */
export function viewOf(objs: readonly KubeObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of [...objs].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) out[keyOf(o)] = o.metadata.resourceVersion ?? '';
  return out;
}

function sortedView(m: ReadonlyMap<string, KubeObject>): Record<string, string> {
  return viewOf([...m.values()]);
}

// ---- the model's view ----

const described = new WeakMap<FamilySnapshot, Record<string, string>>();

/** Port key → the ServicePort and its endpoints, as comparable text. */
export function describeFamily(f: FamilySnapshot): Record<string, string> {
  const cached = described.get(f);
  if (cached !== undefined) return cached;
  const out: Record<string, string> = {};
  for (const key of [...f.services.keys()].sort()) {
    const sp = f.services.get(key);
    const eps = (f.endpoints.get(key) ?? []).map((e) => JSON.stringify({ ...e, zoneHints: [...e.zoneHints].sort(), nodeHints: [...e.nodeHints].sort() })).sort();
    out[key] = JSON.stringify({ sp, eps });
  }
  described.set(f, out);
  return out;
}

const quiet = silentLogger();

/** The IPv4 snapshot an independent ProxyState builds from `state` in one go. */
export function expectedModel(state: ServerState): Record<string, string> {
  const model = new ProxyState({ nodeName: NODE, families: ['IPv4'], logger: quiet });
  for (const s of state.services) model.onServiceAdd(s);
  for (const s of state.slices) model.onEndpointSliceAdd(s);
  model.onServicesSynced();
  model.onEndpointSlicesSynced();
  const f = model.takeSnapshots().families[0];
  assert.ok(f !== undefined);
  return describeFamily(f);
}

// ---- the proxy ----

/**
 * Tells the recorder first, then the real model; flags updates that go back in time (a
 * resourceVersion not newer than the one they replace: the API never does that to a watcher).
 */
export class TeeHandlers implements ProxyHandlers {
  readonly problems: string[] = [];
  readonly #a: ProxyHandlers;
  readonly #b: ProxyHandlers;
  constructor(a: ProxyHandlers, b: ProxyHandlers) {
    this.#a = a;
    this.#b = b;
  }
  #check(kind: string, old: KubeObject, o: KubeObject): void {
    const before = Number(old.metadata.resourceVersion);
    const now = Number(o.metadata.resourceVersion);
    if (!(now > before)) this.problems.push(`${kind} ${keyOf(o)} updated from resourceVersion ${before} to ${now}`);
  }
  onServiceAdd(o: KubeObject): void { this.#a.onServiceAdd(o); this.#b.onServiceAdd(o); }
  onServiceUpdate(x: KubeObject, o: KubeObject): void { this.#check('Service', x, o); this.#a.onServiceUpdate(x, o); this.#b.onServiceUpdate(x, o); }
  onServiceDelete(o: KubeObject): void { this.#a.onServiceDelete(o); this.#b.onServiceDelete(o); }
  onServicesSynced(): void { this.#a.onServicesSynced(); this.#b.onServicesSynced(); }
  onEndpointSliceAdd(o: KubeObject): void { this.#a.onEndpointSliceAdd(o); this.#b.onEndpointSliceAdd(o); }
  onEndpointSliceUpdate(x: KubeObject, o: KubeObject): void { this.#check('EndpointSlice', x, o); this.#a.onEndpointSliceUpdate(x, o); this.#b.onEndpointSliceUpdate(x, o); }
  onEndpointSliceDelete(o: KubeObject): void { this.#a.onEndpointSliceDelete(o); this.#b.onEndpointSliceDelete(o); }
  onEndpointSlicesSynced(): void { this.#a.onEndpointSlicesSynced(); this.#b.onEndpointSlicesSynced(); }
  onNodeAdd(o: KubeObject): void { this.#a.onNodeAdd(o); this.#b.onNodeAdd(o); }
  onNodeUpdate(x: KubeObject, o: KubeObject): void { this.#check('Node', x, o); this.#a.onNodeUpdate(x, o); this.#b.onNodeUpdate(x, o); }
  onNodeDelete(o: KubeObject): void { this.#a.onNodeDelete(o); this.#b.onNodeDelete(o); }
  onNodesSynced(): void { this.#a.onNodesSynced(); this.#b.onNodesSynced(); }
}

export interface RecordedSync {
  readonly at: number;
  readonly full: boolean;
  readonly family: FamilySnapshot;
  /** What the handlers had been given when the snapshot was taken. */
  readonly inputs: ServerState;
}

/** Keeps every snapshot it is asked to program, with the handler inputs it came from. */
export class RecordingDataplane implements Dataplane {
  readonly mode = 'nftables' as const;
  readonly syncs: RecordedSync[] = [];
  readonly #inputs: () => ServerState;
  constructor(inputs: () => ServerState) {
    this.#inputs = inputs;
  }
  sync(request: SyncRequest): Promise<void> {
    // ProxyLoop calls this synchronously after takeSnapshots(), and the handlers feed the
    // recorder and the model in the same call: these are exactly the model's inputs.
    const family = request.families[0];
    assert.ok(family !== undefined);
    this.syncs.push({ at: performance.now(), full: request.full, family, inputs: this.#inputs() });
    return Promise.resolve();
  }
  cleanup(): Promise<void> { return Promise.resolve(); }
  close(): Promise<void> { return Promise.resolve(); }
  get last(): RecordedSync | undefined {
    return this.syncs[this.syncs.length - 1];
  }
}

export interface RequestRecord {
  readonly at: number;
  readonly path: string;
  readonly watch: boolean;
  /** HTTP status for lists; for watches the status of a refused watch, 200 once lines flow. */
  status?: number;
  error?: string;
}

/** An ApiClient wrapper that records every request and can hold some back. */
export class TappedClient implements ApiClient {
  readonly requests: RequestRecord[] = [];
  /** Called before each request; a returned promise delays it. */
  gate: ((path: string) => Promise<void> | undefined) | undefined;
  readonly #inner: ApiClient;

  constructor(inner: ApiClient) {
    this.#inner = inner;
  }

  describe(): string { return this.#inner.describe(); }
  close(): void { this.#inner.close(); }

  async request(path: string, opts?: ApiRequestOptions): Promise<ApiResponse> {
    await this.gate?.(path);
    const rec: RequestRecord = { at: performance.now(), path, watch: false };
    this.requests.push(rec);
    try {
      const res = await this.#inner.request(path, opts);
      rec.status = res.status;
      return res;
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  async *stream(path: string, signal: AbortSignal): AsyncGenerator<string> {
    await this.gate?.(path);
    const rec: RequestRecord = { at: performance.now(), path, watch: true };
    this.requests.push(rec);
    try {
      for await (const line of this.#inner.stream(path, signal)) {
        rec.status ??= 200;
        yield line;
      }
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number') rec.status = err.status;
      throw err;
    }
  }

  /** Requests for a collection (lists or watches), in order. */
  of(collection: string, watch: boolean): RequestRecord[] {
    return this.requests.filter((r) => r.watch === watch && r.path.split('?')[0] === collection);
  }
}

export interface Counters {
  readonly listed: string[];
  readonly restarts: string[];
  readonly errors: string[];
}

export interface Proxy {
  readonly rec: RecordingHandlers;
  readonly tee: TeeHandlers;
  readonly state: ProxyState;
  readonly dataplane: RecordingDataplane;
  readonly loop: ProxyLoop;
  readonly source: ApiSource;
  readonly client: TappedClient;
  readonly counters: Counters;
  readonly logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface ProxyOptions {
  readonly tuning?: Partial<ReflectorTuning>;
  /** Set up the tapped client before the source sends anything. */
  readonly beforeStart?: (client: TappedClient) => void;
}

/** ApiSource → (recorder, ProxyState) → ProxyLoop (minSyncPeriod 0) → RecordingDataplane. */
export function startProxy(cp: ControlPlane, opts: ProxyOptions = {}): Proxy {
  const { logger, records } = memoryLogger(0);
  const client = new TappedClient(createApiClient({ kubeconfigPath: cp.kubeconfigPath, userAgent: 'kube-proxy-ts/integration', qps: -1 }, logger));
  opts.beforeStart?.(client);
  const rec = new RecordingHandlers();
  const dataplane = new RecordingDataplane(() => ({ services: [...rec.state.Service.values()], slices: [...rec.state.EndpointSlice.values()] }));
  const ref: { loop?: ProxyLoop } = {};
  const state = new ProxyState({ nodeName: NODE, families: ['IPv4'], logger, onChange: () => ref.loop?.notifyChange() });
  const health = new ProxyHealth({ clock: systemClock, healthTimeout: 60_000 });
  const loop = new ProxyLoop({ model: state, dataplane, families: ['IPv4'], clock: systemClock, logger, health, minSyncPeriodMs: 0, syncPeriodMs: 30_000 });
  ref.loop = loop;
  const counters: Counters = { listed: [], restarts: [], errors: [] };
  const source = new ApiSource({
    client, nodeName: NODE, logger, clock: systemClock, tuning: { ...FAST_TUNING, ...opts.tuning },
    observer: {
      listed: (r, reason) => { counters.listed.push(`${r}:${reason}`); },
      watchRestarted: (r, reason) => { counters.restarts.push(`${r}:${reason}`); },
      error: (r, op, code) => { counters.errors.push(`${r}:${op}:${code}`); },
    },
  });
  const ac = new AbortController();
  const tee = new TeeHandlers(rec, state);
  const done = Promise.all([loop.start(ac.signal), source.run(tee, ac.signal)]);
  let stopped = false;
  return {
    rec, tee, state, dataplane, loop, source, client, counters, logs: records,
    async stop() {
      if (stopped) return;
      stopped = true;
      ac.abort();
      await done;
      client.close();
    },
  };
}

export async function poll(what: string, cond: () => boolean, timeoutMs: number, intervalMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until the handlers hold exactly the server's objects (same resourceVersions) and the
 * last programmed snapshot equals an independent model of the server's state; fails with a diff
 * otherwise. Call when writers have stopped. Returns the server's state.
 */
export async function assertConverged(p: Proxy, http: Client, timeoutMs = 10_000): Promise<ServerState> {
  const server = await serverState(http);
  const wantServices = viewOf(server.services);
  const wantSlices = viewOf(server.slices);
  const wantModel = expectedModel(server);
  const handlersMatch = (): boolean =>
    p.rec.syncedCount.Service === 1 && p.rec.syncedCount.EndpointSlice === 1
    && sameRecord(sortedView(p.rec.state.Service), wantServices) && sameRecord(sortedView(p.rec.state.EndpointSlice), wantSlices);
  const modelMatches = (): boolean => {
    const last = p.dataplane.last;
    return last !== undefined && sameRecord(describeFamily(last.family), wantModel);
  };
  try {
    await poll('the proxy to converge on the server state', () => handlersMatch() && modelMatches(), timeoutMs);
  } catch (err) {
    assert.deepEqual(sortedView(p.rec.state.Service), wantServices, 'Services the handlers hold');
    assert.deepEqual(sortedView(p.rec.state.EndpointSlice), wantSlices, 'EndpointSlices the handlers hold');
    assert.deepEqual(p.dataplane.last === undefined ? undefined : describeFamily(p.dataplane.last.family), wantModel, 'programmed snapshot');
    throw err;
  }
  assert.deepEqual([...p.rec.problems, ...p.tee.problems], [], 'handler protocol violations');
  const errors = p.logs.filter((r) => typeof r['level'] === 'number' && r['level'] >= 50);
  assert.deepEqual(errors, [], 'nothing logged at error level (handler failures, decode bugs)');
  return server;
}

/** Waits until the three reflectors have their watches open. */
export async function watching(cp: ControlPlane, n = 3): Promise<void> {
  await poll(`${n} open watches`, () => cp.openWatches() >= n, 5000);
}

/**
 * Every sync from `from` on: (1) the Services, and separately the EndpointSlices, the model had
 * been given were either the complete old list or the complete new one (never part of a
 * relist; the two resources are separate reflectors, as upstream's informers, so they may
 * switch at different syncs), and (2) the programmed snapshot equals an independent model of
 * exactly those inputs. The last sync programmed the new state.
 */
export function assertWholeListsOnly(p: Proxy, from: number, before: ServerState, after: ServerState): void {
  const allowed = (pick: (s: ServerState) => readonly KubeObject[]): string[] => [before, after].map((s) => JSON.stringify(viewOf(pick(s))));
  const services = allowed((s) => s.services);
  const slices = allowed((s) => s.slices);
  const syncs = p.dataplane.syncs.slice(from);
  assert.ok(syncs.length > 0, 'a sync ran after the change');
  for (const [i, s] of syncs.entries()) {
    assert.ok(services.includes(JSON.stringify(viewOf(s.inputs.services))), `sync #${from + i}: Services were neither the old nor the new list`);
    assert.ok(slices.includes(JSON.stringify(viewOf(s.inputs.slices))), `sync #${from + i}: EndpointSlices were neither the old nor the new list`);
    assert.deepEqual(describeFamily(s.family), expectedModel(s.inputs), `sync #${from + i}: programmed snapshot = model of its inputs`);
  }
  const last = syncs[syncs.length - 1];
  assert.equal(JSON.stringify(viewOf(last?.inputs.services ?? [])), services[1]);
  assert.equal(JSON.stringify(viewOf(last?.inputs.slices ?? [])), slices[1]);
}

/**
 * Syncs from `from` on programmed exactly the model of what the handlers had been given: all of
 * them when there are at most `budget`, else an evenly spread sample of that many and the last.
 */
export function assertSyncsMatchInputs(p: Proxy, from = 0, budget = 300): void {
  const syncs = p.dataplane.syncs.slice(from);
  const step = Math.max(1, Math.ceil(syncs.length / budget));
  for (let i = 0; i < syncs.length; i++) {
    const s = syncs[i];
    if (s === undefined || (i % step !== 0 && i !== syncs.length - 1)) continue;
    assert.deepEqual(describeFamily(s.family), expectedModel(s.inputs), `sync #${from + i}: programmed snapshot = model of its inputs`);
  }
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

// ---- writers ----


/**
 * A writer that creates, updates, relabels and deletes Services and their EndpointSlices in its
 * own pool of names (so writers never conflict), one operation at a time.
 */
export class Churn {
  ops = 0;
  readonly #http: Client;
  readonly #ns: string;
  readonly #prefix: string;
  readonly #random: () => number;
  readonly #live = new Map<string, { hidden: boolean; headless: boolean }>();
  readonly #pool: number;

  constructor(http: Client, ns: string, prefix: string, seed: number, pool = 30) {
    this.#http = http;
    this.#ns = ns;
    this.#prefix = prefix;
    this.#random = prng(seed);
    this.#pool = pool;
  }

  #ip(): string {
    return `10.${1 + Math.floor(this.#random() * 200)}.${Math.floor(this.#random() * 250)}.${1 + Math.floor(this.#random() * 250)}`;
  }

  #ips(): string[] {
    return Array.from({ length: 1 + Math.floor(this.#random() * 4) }, () => this.#ip());
  }

  async step(): Promise<void> {
    const name = `${this.#prefix}-${Math.floor(this.#random() * this.#pool)}`;
    const svcPath = `${servicesOf(this.#ns)}/${name}`;
    const slicePath = `${slicesOf(this.#ns)}/${name}-a`;
    const cur = this.#live.get(name);
    const r = this.#random();
    this.ops++;
    if (cur === undefined) {
      await expectStatus(this.#http.post(servicesOf(this.#ns), serviceBody(name, 80 + Math.floor(this.#random() * 10))), 201);
      await expectStatus(this.#http.post(slicesOf(this.#ns), sliceBody(name, `${name}-a`, this.#ips())), 201);
      this.#live.set(name, { hidden: false, headless: false });
    } else if (r < 0.35) {
      await expectStatus(mergePatch(this.#http, slicePath, { endpoints: sliceBody(name, '', this.#ips())['endpoints'] }), 200);
    } else if (r < 0.5) {
      await expectStatus(mergePatch(this.#http, svcPath, { spec: { ports: [{ name: 'http', port: 80 + Math.floor(this.#random() * 10), targetPort: 8080, protocol: 'TCP' }] } }), 200);
    } else if (r < 0.6) {
      // Hand the Service to another proxy (it leaves our selection), or take it back.
      cur.hidden = !cur.hidden;
      await expectStatus(mergePatch(this.#http, svcPath, { metadata: { labels: { [PROXY_NAME_LABEL]: cur.hidden ? 'other' : null } } }), 200);
    } else if (r < 0.7) {
      cur.headless = !cur.headless;
      await expectStatus(mergePatch(this.#http, slicePath, { metadata: { labels: { [HEADLESS_LABEL]: cur.headless ? '' : null } } }), 200);
    } else if (r < 0.85) {
      await expectStatus(this.#http.delete(slicePath), 200);
      await expectStatus(this.#http.delete(svcPath), 200);
      this.#live.delete(name);
    } else {
      // A second slice for the same Service, created and deleted again (endpoints merge).
      const extra = `${slicesOf(this.#ns)}/${name}-b`;
      const got = await this.#http.get(extra);
      if (got.status === 404) await expectStatus(this.#http.post(slicesOf(this.#ns), sliceBody(name, `${name}-b`, this.#ips())), 201);
      else await expectStatus(this.#http.delete(extra), 200);
    }
  }

  /** Runs until `signal` aborts (finishing the current operation). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) await this.step();
  }
}

/** Runs `n` Churn writers until `ms` passed, calling `during` at each of `faultsAt` ms. */
export async function churnWhile(http: Client, opts: { writers: number; ms: number; seed: number; faultsAt?: readonly number[]; fault?: () => void }): Promise<number> {
  const ac = new AbortController();
  const namespaces = ['default', 'kube-system'];
  const writers = Array.from({ length: opts.writers }, (_, i) => new Churn(http, namespaces[i % namespaces.length] ?? 'default', `w${i}`, opts.seed + i));
  const running = Promise.all(writers.map((w) => w.run(ac.signal)));
  running.catch(() => undefined); // awaited below; keeps an early failure from being "unhandled"
  const timers = (opts.faultsAt ?? []).map((at) => setTimeout(() => { opts.fault?.(); }, at));
  await new Promise((r) => setTimeout(r, opts.ms));
  ac.abort();
  for (const t of timers) clearTimeout(t);
  await running;
  return writers.reduce((n, w) => n + w.ops, 0);
}

export function dataDirIn(dir: string): string {
  return join(dir, 'data');
}

/** Cleanups run last-in first-out (proxy before control plane before temp dir), errors collected. */
export class Scope {
  readonly #fns: (() => unknown)[] = [];
  defer(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.#fns.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

export interface Env {
  readonly dir: string;
  readonly dataDir: string;
  cp: ControlPlane;
  http: Client;
}

/** A temp dir and a control plane in it, all released by `scope`. */
export async function openEnv(scope: Scope, prefix: string, extra: Partial<ControlPlaneOptions> = {}): Promise<Env> {
  const dir = await tempDir(prefix);
  scope.defer(() => removeDir(dir));
  const dataDir = dataDirIn(dir);
  const cp = await startPlane(dataDir, extra);
  const env: Env = { dir, dataDir, cp, http: new Client(cp) };
  scope.defer(async () => {
    env.http.close();
    await env.cp.close();
  });
  return env;
}

/** Creates `n` objects from `workers` parallel clients (one connection each). */
export async function createMany(cp: ControlPlane, n: number, workers: number, make: (i: number) => { path: string; body: unknown }): Promise<void> {
  const clients = Array.from({ length: workers }, () => new Client(cp, 1));
  let next = 0;
  try {
    await Promise.all(clients.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const { path, body } = make(i);
        await expectStatus(c.post(path, body), 201);
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
}

/** `n` Services svc-<i> in `ns`, and a slice for each of the first `slices`. */
export async function seed(cp: ControlPlane, ns: string, n: number, slices: number, prefix = 'svc'): Promise<void> {
  await createMany(cp, n, 20, (i) => ({ path: servicesOf(ns), body: serviceBody(`${prefix}-${i}`, 80 + (i % 7)) }));
  await createMany(cp, slices, 20, (i) => ({ path: slicesOf(ns), body: sliceBody(`${prefix}-${i}`, `${prefix}-${i}-a`, [`10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, `10.200.${(i >> 8) & 255}.${i & 255}`]) }));
}
