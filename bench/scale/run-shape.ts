// One shape from start to end, in a fresh environment (own control plane, own namespaces):
//
//   1 bulk creation through the API (parallel clients)
//   2 cold full syncs: the daemon starts with every object present and an empty kernel
//   3 minSyncPeriod 0: one Service added, one endpoint changed (repeated, medians)
//   4 restart with the default minSyncPeriod (1 s): the full sync of a restart (rules present),
//     the same edits, then churn (20 endpoint changes/s for 60 s)
//   5 memory of the proxy (steady, peak) and of the control plane
//   6 per-packet cost against the 10-service reference node

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { measureDataplane, type DataplaneResult } from './dataplane.ts';
import { ScaleEnv } from './env.ts';
import { FreshIPs, type Shape } from './objects.ts';
import { addService, bulkCreate, churn, endpointChanges, fullSync, KernelMonitor, type ChurnResult, type CreateResult, type FullSyncResult } from './phases.ts';
import { procSample, ProxyDaemon } from './proxy.ts';
import { programReference, REFERENCE_CLUSTER_IP } from './reference.ts';
import { median, round, sleep } from './stats.ts';

export interface RunOptions {
  readonly concurrency: number;
  readonly edits: number;
  readonly fullRepeats: number;
  readonly churnRate: number;
  readonly churnSeconds: number;
  readonly rounds: number;
  readonly connects: number;
  readonly bulkSeconds: number;
  readonly skip: ReadonlySet<string>;
  readonly log: (line: string) => void;
}

export interface EditResult {
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
}

export interface ShapeResult {
  readonly shape: string;
  readonly services: number;
  readonly endpointsPerService: number;
  readonly create: CreateResult;
  readonly fullSync: { readonly cold: readonly FullSyncResult[]; readonly coldMedianSeconds: number; readonly restart: FullSyncResult | undefined };
  readonly serviceIpsElements: number;
  readonly addService: { readonly minSync0: EditResult; readonly minSync1s: EditResult };
  readonly endpointChange: { readonly minSync0: EditResult; readonly minSync1s: EditResult };
  readonly addedServiceReachable: boolean;
  readonly churn: ChurnResult | undefined;
  readonly memory: {
    readonly proxySteadyMiB: number; readonly proxyPeakMiB: number; readonly controlPlaneMiB: number; readonly controlPlanePeakMiB: number;
    readonly proxyHeap?: { readonly usedMiB: number; readonly totalMiB: number; readonly externalMiB: number };
  };
  readonly dataplane: DataplaneResult | undefined;
}

const edit = (samples: readonly number[]): EditResult => ({ samplesMs: samples, medianMs: round(median(samples), 1) });

function countServiceIps(env: ScaleEnv): number {
  const out = execFileSync('ip', ['netns', 'exec', env.big.node.name, 'nft', '-j', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const doc = JSON.parse(out) as { nftables?: { map?: { elem?: unknown[] } }[] };
  return (doc.nftables ?? []).reduce((n, o) => n + (o.map?.elem?.length ?? 0), 0);
}

export async function runShape(shape: Shape, o: RunOptions): Promise<ShapeResult> {
  const env = await ScaleEnv.create(o.concurrency);
  const procs: ProxyDaemon[] = [];
  let monitor: KernelMonitor | undefined;
  const start = (minSyncPeriod: string): ProxyDaemon => {
    const p = ProxyDaemon.start({ ns: env.big.node, agent: env.nodeAgent, kubeconfig: env.kubeconfig, logFile: join(env.dir, 'kube-proxy.log'), minSyncPeriod });
    procs.push(p);
    return p;
  };
  const syncTimeout = 30 * 60_000;
  try {
    await programReference(env.small.node);
    o.log(`${shape.name}: creating ${String(shape.services)} services × ${String(shape.endpoints)} endpoints`);
    const create = await bulkCreate(env.api, shape);
    o.log(`${shape.name}: created ${String(create.objects)} objects in ${String(create.seconds)} s`);

    const cold: FullSyncResult[] = [];
    let proxy = start('0s');
    for (let r = 0; r < o.fullRepeats; r++) {
      if (r > 0) {
        await proxy.stop();
        // Empty kernel again: every table of ours (kube-proxy, kube-proxy-s1 … when spread).
        const tables = (await env.big.node.run('nft', ['list', 'tables'])).split('\n')
          .map((l) => /^table (ip6?) (kube-proxy(?:-s\d+)?)$/.exec(l.trim())).filter((m) => m !== null);
        for (const m of tables) await env.big.node.run('nft', ['delete', 'table', m[1] ?? 'ip', m[2] ?? 'kube-proxy']);
        proxy = start('0s');
      }
      cold.push(await fullSync(proxy, syncTimeout));
      o.log(`${shape.name}: cold full sync ${String(cold.at(-1)?.totalSeconds)} s ${JSON.stringify(cold.at(-1))}`);
    }
    const serviceIpsElements = countServiceIps(env);

    monitor = await KernelMonitor.start(env.big.node);
    const fresh = new FreshIPs();
    const add0: number[] = [];
    const ep0: number[] = [];
    let probeIP = '';
    for (let k = 0; k < o.edits; k++) {
      await sleep(1500);
      const r = await addService(env.api, monitor, `a${String(k)}`);
      probeIP = r.clusterIP;
      add0.push(r.ms);
    }
    o.log(`${shape.name}: add service (minSyncPeriod 0) ${add0.join(', ')} ms`);
    ep0.push(...await endpointChanges(env.api, monitor, shape, o.edits, fresh, 11));
    o.log(`${shape.name}: endpoint change (minSyncPeriod 0) ${ep0.join(', ')} ms`);
    const once = JSON.parse(await env.big.node.run(process.execPath, [join(import.meta.dirname, 'probe.ts'), 'once', probeIP, '80', '2000'])) as { ok: boolean };
    let steady = procSample(proxy.pid);
    let peak = steady.peakMiB;
    const coldPeak = peak;

    // No netlink listener during the restart, as on a node: a restart of a large ruleset flushes
    // and refills the element maps in one transaction (as upstream's full syncs do), and with a
    // listener the kernel announces every element: 1.3 s → 5.6 s at 10k × 10.
    monitor.stop();
    await proxy.stop();
    proxy = start('1s');
    const restart = await fullSync(proxy, syncTimeout);
    o.log(`${shape.name}: restart full sync ${String(restart.totalSeconds)} s ${JSON.stringify(restart)}`);
    monitor = await KernelMonitor.start(env.big.node);
    const add1: number[] = [];
    for (let k = 0; k < o.edits; k++) {
      await sleep(1500);
      add1.push((await addService(env.api, monitor, `b${String(k)}`)).ms);
    }
    o.log(`${shape.name}: add service (minSyncPeriod 1s) ${add1.join(', ')} ms`);
    await sleep(1500);
    const ep1 = await endpointChanges(env.api, monitor, shape, o.edits, fresh, 13);
    o.log(`${shape.name}: endpoint change (minSyncPeriod 1s) ${ep1.join(', ')} ms`);

    let churnResult: ChurnResult | undefined;
    if (!o.skip.has('churn')) {
      await sleep(2000);
      churnResult = await churn(env.api, monitor, proxy, shape, o.churnRate, o.churnSeconds, fresh);
      o.log(`${shape.name}: churn ${JSON.stringify(churnResult)}`);
    }
    steady = procSample(proxy.pid);
    peak = Math.max(peak, steady.peakMiB);
    // The proxy's own view of its heap (prom-client's nodejs_* gauges), for where RSS goes.
    const m = await proxy.metrics();
    const mib = (k: string): number => round((m.get(k) ?? Number.NaN) / 2 ** 20);
    const heap = { usedMiB: mib('nodejs_heap_size_used_bytes'), totalMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
    o.log(`${shape.name}: proxy RSS ${String(round(steady.rssMiB))} MiB (peak ${String(round(coldPeak))} MiB with a cold start, ${String(round(steady.peakMiB))} with a restart), heap ${JSON.stringify(heap)}`);
    // KPT_SCALE_HEAP_SNAPSHOT=1 together with NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2: the
    // proxy writes a heap snapshot (Heap.*.heapsnapshot in its working directory) at this point.
    if (process.env['KPT_SCALE_HEAP_SNAPSHOT'] === '1') {
      process.kill(proxy.pid, 'SIGUSR2');
      await sleep(30_000);
    }
    // KPT_SCALE_HOLD_S=N: N seconds to look at the proxy from outside (/proc/PID/smaps) here.
    const hold = Number(process.env['KPT_SCALE_HOLD_S'] ?? 0);
    if (hold > 0) {
      o.log(`${shape.name}: holding ${String(hold)} s (proxy pid ${String(proxy.pid)})`);
      await sleep(hold * 1000);
    }

    let dataplane: DataplaneResult | undefined;
    if (!o.skip.has('dataplane')) {
      dataplane = await measureDataplane({
        referenceNode: env.small.node, referenceClusterIP: REFERENCE_CLUSTER_IP, shapeNode: env.big.node, shapeClusterIP: probeIP,
        shapeServices: shape.services, rounds: o.rounds, connects: o.connects, bulkSeconds: o.bulkSeconds,
      });
      o.log(`${shape.name}: dataplane ${JSON.stringify(dataplane)}`);
    }
    const pid = env.cp.child.pid;
    const cp = pid === undefined ? undefined : procSample(pid);
    return {
      shape: shape.name, services: shape.services, endpointsPerService: shape.endpoints, create,
      fullSync: { cold, coldMedianSeconds: round(median(cold.map((c) => c.totalSeconds)), 3), restart },
      serviceIpsElements,
      addService: { minSync0: edit(add0), minSync1s: edit(add1) },
      endpointChange: { minSync0: edit(ep0), minSync1s: edit(ep1) },
      addedServiceReachable: once.ok,
      churn: churnResult,
      memory: {
        proxySteadyMiB: round(steady.rssMiB), proxyPeakMiB: round(peak), proxyHeap: heap,
        controlPlaneMiB: round(cp?.rssMiB ?? Number.NaN), controlPlanePeakMiB: round(cp?.peakMiB ?? Number.NaN),
      },
      dataplane,
    };
  } finally {
    monitor?.stop();
    for (const p of procs) if (p.running) await p.stop();
    // KPT_SCALE_KEEP_LOGS=DIR keeps the proxy's and control plane's logs of this shape.
    const keep = process.env['KPT_SCALE_KEEP_LOGS'];
    if (keep !== undefined && keep !== '') {
      mkdirSync(keep, { recursive: true });
      for (const f of ['kube-proxy.log', 'control-plane.log']) {
        if (existsSync(join(env.dir, f))) copyFileSync(join(env.dir, f), join(keep, `${shape.name}-${f}`));
      }
    }
    await env.destroy();
  }
}
