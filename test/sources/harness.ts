// Runs an ApiSource against a FakeApiServer with small, test-sized timings.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { memoryLogger } from '../../src/util/logger.ts';
import { createApiClient, type ApiClient } from '../../src/sources/api/client.ts';
import { ApiSource } from '../../src/sources/api/api-source.ts';
import type { ReachabilityProbe } from '../../src/sources/api/backoff.ts';
import type { ReflectorObserver, ReflectorTuning } from '../../src/sources/api/reflector.ts';
import {
  ENDPOINT_SLICES_LABEL_SELECTOR, SERVICES_FIELD_SELECTOR, SERVICES_LABEL_SELECTOR,
} from '../../src/sources/api/resources.ts';
import { ENDPOINT_SLICES, FakeApiServer, NODES, SERVICES, type FakeApiServerOptions } from './fake-apiserver.ts';
import { RecordingHandlers, waitFor, type Kind } from './fixtures.ts';

export const NODE_NAME = 'node-a';

export const TEST_TUNING: Partial<ReflectorTuning> = {
  pageSize: 3,
  backoff: { initialMs: 20, factor: 2, maxMs: 200, jitter: 0.5, resetAfterMs: 10_000 },
  inactivityTimeoutMs: 10_000,
  probeIntervalMs: 50,
  minHealthyWatchMs: 200,
};

export interface Counters {
  readonly listed: string[];
  readonly restarts: string[];
  readonly errors: string[];
  invalid: number;
}

export interface Harness {
  readonly fake: FakeApiServer;
  readonly handlers: RecordingHandlers;
  readonly counters: Counters;
  readonly logs: Record<string, unknown>[];
  readonly client: ApiClient;
  readonly source: ApiSource;
  readonly stop: () => Promise<void>;
}

export interface HarnessOptions {
  readonly fake?: FakeApiServerOptions;
  readonly tuning?: Partial<ReflectorTuning>;
  readonly seed?: (fake: FakeApiServer) => void;
  readonly before?: (fake: FakeApiServer) => void;
  readonly handlers?: RecordingHandlers;
  readonly probe?: ReachabilityProbe | false;
  /** ApiSource's serviceCIDRs option. */
  readonly serviceCIDRs?: boolean;
}

export async function startHarness(t: TestContext, opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await FakeApiServer.start(opts.fake);
  opts.seed?.(fake);
  opts.before?.(fake);
  const { logger, records } = memoryLogger();
  const client = createApiClient({ master: fake.url, userAgent: 'kube-proxy-ts/test', qps: -1 }, logger);
  const handlers = opts.handlers ?? new RecordingHandlers();
  const counters: Counters = { listed: [], restarts: [], errors: [], invalid: 0 };
  const observer: ReflectorObserver = {
    listed: (r, reason) => { counters.listed.push(`${r}:${reason}`); },
    watchRestarted: (r, reason) => { counters.restarts.push(`${r}:${reason}`); },
    error: (r, op, code) => { counters.errors.push(`${r}:${op}:${code}`); },
    invalidObject: () => { counters.invalid++; },
  };
  const source = new ApiSource({
    client, nodeName: NODE_NAME, logger, observer, tuning: { ...TEST_TUNING, ...opts.tuning },
    ...(opts.probe === undefined ? {} : { probe: opts.probe }),
    ...(opts.serviceCIDRs === undefined ? {} : { serviceCIDRs: opts.serviceCIDRs }),
  });
  const ctrl = new AbortController();
  const done = source.run(handlers, ctrl.signal);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    ctrl.abort();
    await done;
    client.close();
    await fake.close();
  };
  t.after(stop);
  return { fake, handlers, counters, logs: records, client, source, stop };
}

/** Standard contents: some objects every selector must hide. */
export function seedCluster(fake: FakeApiServer): void {
  for (let i = 0; i < 7; i++) fake.upsert(SERVICES, svc('default', `svc-${i}`));
  fake.upsert(SERVICES, svc('default', 'other-proxy', { 'service.kubernetes.io/service-proxy-name': 'foo' }));
  fake.upsert(SERVICES, { ...svc('default', 'headless'), spec: { clusterIP: 'None' } });
  for (let i = 0; i < 4; i++) fake.upsert(ENDPOINT_SLICES, sl('default', `svc-${i}-abc`, `svc-${i}`));
  fake.upsert(ENDPOINT_SLICES, sl('default', 'headless-xyz', 'headless', { 'service.kubernetes.io/headless': '' }));
  fake.upsert(NODES, { metadata: { name: NODE_NAME, labels: { 'topology.kubernetes.io/zone': 'a' } } });
  fake.upsert(NODES, { metadata: { name: 'node-b' } });
}

function svc(ns: string, name: string, labels: Record<string, string> = {}): { metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: Record<string, unknown> } {
  return { metadata: { name, namespace: ns, labels }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } };
}

function sl(ns: string, name: string, service: string, labels: Record<string, string> = {}): { metadata: { name: string; namespace: string; labels: Record<string, string> } } {
  return { metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service, ...labels } } };
}

/** What the handlers should hold, per kind, given the server's state and upstream's selectors. */
export function serverView(fake: FakeApiServer, kind: Kind): Record<string, string> {
  switch (kind) {
    case 'Service': return fake.view(SERVICES, SERVICES_LABEL_SELECTOR, SERVICES_FIELD_SELECTOR);
    case 'EndpointSlice': return fake.view(ENDPOINT_SLICES, ENDPOINT_SLICES_LABEL_SELECTOR);
    case 'Node': return fake.view(NODES, '', `metadata.name=${NODE_NAME}`);
  }
}

const KINDS: readonly Kind[] = ['Service', 'EndpointSlice', 'Node'];

function equalViews(h: Harness): boolean {
  return KINDS.every((k) => JSON.stringify(sorted(h.handlers.view(k))) === JSON.stringify(sorted(serverView(h.fake, k))));
}

function sorted(r: Record<string, string>): [string, string][] {
  return Object.entries(r).sort(([a], [b]) => a.localeCompare(b));
}

/** Waits until every kind is synced and the handler-side view equals the server's. */
export async function converged(h: Harness, timeoutMs = 5000): Promise<void> {
  await waitFor('handlers converge on the server state', () => KINDS.every((k) => h.handlers.syncedCount[k] === 1) && equalViews(h), timeoutMs)
    .catch((err: unknown) => {
      for (const k of KINDS) assert.deepEqual(h.handlers.view(k), serverView(h.fake, k), `${k} view`);
      throw err;
    });
  assert.deepEqual(h.handlers.problems, []);
}

export function resourceRequests(h: Harness, path: string, watch: boolean): URLSearchParams[] {
  return h.fake.requests.filter((r) => r.path === path && r.watch === watch).map((r) => r.query);
}
