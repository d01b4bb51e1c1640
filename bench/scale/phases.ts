// The measured steps of one shape: bulk creation, a full sync, single edits (one Service added,
// one endpoint changed) and churn. Every latency runs from just before the API write to the
// moment `nft monitor` in the node namespace prints the change: observed from outside the proxy.

import type { EndpointSlice } from '../../test/lab/objects.ts';
import { ApiStatusError, pool, type BulkApi } from './api.ts';
import { KernelMonitor } from './monitor.ts';
import { bulkObjects, namespaceOf, namespaces, ourNode, probeObjects, type FreshIPs, type Shape } from './objects.ts';
import { procSample, type ProxyDaemon } from './proxy.ts';
import { percentile, round, shuffled, sleep } from './stats.ts';

export interface CreateResult {
  readonly seconds: number;
  readonly objects: number;
  readonly objectsPerSecond: number;
}

/** Namespaces, our Node, then every Service and every slice, `api.concurrency` requests at a time. */
export async function bulkCreate(api: BulkApi, shape: Shape): Promise<CreateResult> {
  for (const ns of namespaces()) await api.create(ns);
  await api.create(ourNode());
  const t0 = performance.now();
  const indices = Array.from({ length: shape.services }, (_, i) => i);
  await pool(indices, api.concurrency, async (i) => { await api.create(bulkObjects(i, shape.endpoints).svc); });
  const slices = indices.flatMap((i) => bulkObjects(i, shape.endpoints).slices);
  await pool(slices, api.concurrency, async (s) => { await api.create(s); });
  const seconds = (performance.now() - t0) / 1000;
  const objects = shape.services + slices.length;
  return { seconds: round(seconds, 2), objects, objectsPerSecond: round(objects / seconds, 0) };
}

export interface FullSyncResult {
  /** Process spawn → rules complete in the kernel. */
  readonly totalSeconds: number;
  /** Spawn → initial lists decoded into the model (node start, nft probe, LIST, decode). */
  readonly startupAndListSeconds: number;
  /** Initial state complete → sync done (runner, snapshot, render, plan, apply). */
  readonly syncSeconds: number;
  /** The daemon's own split of that sync (kubeproxy_sync_proxy_rules_phase_seconds). */
  readonly phases: Readonly<Record<string, number>>;
}

const PHASES = ['snapshot', 'render', 'plan', 'kernel_read', 'apply'] as const;

export async function fullSync(proxy: ProxyDaemon, timeoutMs: number): Promise<FullSyncResult> {
  const done = await proxy.firstSync(timeoutMs);
  const m = await proxy.metrics();
  const initial = m.get('kubeproxy_sync_proxy_rules_initial_state_timestamp_seconds') ?? Number.NaN;
  const phases: Record<string, number> = {};
  for (const p of PHASES) phases[p] = round(m.get(`kubeproxy_sync_proxy_rules_phase_seconds{kind="full",phase="${p}"}`) ?? Number.NaN, 3);
  return {
    totalSeconds: round(done - proxy.spawnedAt / 1000, 3),
    startupAndListSeconds: round(initial - proxy.spawnedAt / 1000, 3),
    syncSeconds: round(done - initial, 3),
    phases,
  };
}

/** ClusterIPs for added services, picked where the random allocator is unlikely to have been. */
function candidateIP(n: number): string {
  return `10.96.${String(250 - (n >> 8))}.${String(n & 255)}`;
}

let probeCounter = 0;

/**
 * Adds one Service (with a ClusterIP of our choosing, so the monitor line can be awaited before
 * the write) and its EndpointSlice pointing at the real pod. Returns ms from the first write to
 * the service-ips element in the kernel, and the ClusterIP.
 */
export async function addService(api: BulkApi, monitor: KernelMonitor, tag: string): Promise<{ ms: number; clusterIP: string }> {
  for (;;) {
    const n = ++probeCounter;
    const clusterIP = candidateIP(n);
    const ns = namespaceOf(0);
    const { svc, slice } = probeObjects(ns, `probe-${tag}-${String(n)}`, clusterIP);
    const seen = monitor.waitForIP(clusterIP, 30_000, 'service-ips');
    const t0 = performance.now();
    try {
      await api.create(svc);
    } catch (err) {
      if (err instanceof ApiStatusError && err.status === 422) continue; // address taken: next one
      throw err;
    }
    await api.create(slice);
    const at = await seen;
    if (at === undefined) throw new Error(`service ${clusterIP} never reached the kernel`);
    return { ms: round(at - t0, 1), clusterIP };
  }
}

async function readSlice(api: BulkApi, i: number): Promise<EndpointSlice> {
  const r = await api.request('GET', `/apis/discovery.k8s.io/v1/namespaces/${namespaceOf(i)}/endpointslices/svc-${String(i)}-0`);
  if (r.status !== 200) throw new ApiStatusError('GET', `slice of svc-${String(i)}`, r.status, r.text);
  return JSON.parse(r.text) as EndpointSlice;
}

/** Replaces endpoint `which` of the slice with a fresh address; resolves with ms to the kernel. */
async function changeEndpoint(api: BulkApi, monitor: KernelMonitor, slice: EndpointSlice, which: number, fresh: FreshIPs): Promise<{ ms: number | undefined; slice: EndpointSlice }> {
  const ip = fresh.next();
  const next: EndpointSlice = { ...slice, endpoints: slice.endpoints.map((e, k) => (k === which % slice.endpoints.length ? { ...e, addresses: [ip] } : e)) };
  const seen = monitor.waitForIP(ip, 30_000);
  const t0 = performance.now();
  const updated = await api.update(next);
  const at = await seen;
  return { ms: at === undefined ? undefined : round(at - t0, 1), slice: updated };
}

export async function endpointChanges(api: BulkApi, monitor: KernelMonitor, shape: Shape, count: number, fresh: FreshIPs, seed: number): Promise<number[]> {
  const out: number[] = [];
  for (const i of shuffled(shape.services, seed).slice(0, count)) {
    const slice = await readSlice(api, i);
    const r = await changeEndpoint(api, monitor, slice, 0, fresh);
    if (r.ms !== undefined) out.push(r.ms);
    await sleep(1500);
  }
  return out;
}

export interface ChurnResult {
  readonly changes: number;
  readonly seen: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly cpuSecondsPer1000: number;
  readonly cpuSeconds: number;
}

/** `rate` endpoint changes per second for `seconds`, each to a different Service where possible. */
export async function churn(api: BulkApi, monitor: KernelMonitor, proxy: ProxyDaemon, shape: Shape, rate: number, seconds: number, fresh: FreshIPs): Promise<ChurnResult> {
  const total = Math.round(rate * seconds);
  const order = shuffled(shape.services, 7);
  const targets = Array.from({ length: total }, (_, k) => order[k % order.length] ?? 0);
  const cache = new Map<number, EndpointSlice>();
  await pool([...new Set(targets)], api.concurrency, async (i) => { cache.set(i, await readSlice(api, i)); });
  const busy = new Set<number>();
  const cpu0 = procSample(proxy.pid).cpuSeconds;
  const latencies: number[] = [];
  let missed = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const i = targets[k] ?? 0;
    if (busy.has(i)) { missed++; continue; }
    const slice = cache.get(i);
    if (slice === undefined) continue;
    busy.add(i);
    inflight.push(changeEndpoint(api, monitor, slice, k, fresh).then((r) => {
      cache.set(i, r.slice);
      if (r.ms === undefined) missed++;
      else latencies.push(r.ms);
    }).finally(() => { busy.delete(i); }));
  }
  await Promise.all(inflight);
  const cpuSeconds = procSample(proxy.pid).cpuSeconds - cpu0;
  return {
    changes: total, seen: latencies.length,
    p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)), maxMs: round(Math.max(...latencies)),
    cpuSeconds: round(cpuSeconds, 2), cpuSecondsPer1000: round((cpuSeconds / Math.max(1, latencies.length + missed)) * 1000, 2),
  };
}

export { KernelMonitor };
