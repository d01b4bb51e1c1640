// Offline profile of the daemon's CPU path for one shape, without kernel or network: API JSON
// lists → reflector store → ProxyState → snapshot → full render and plan (recording runner).
//
//   npx node --cpu-prof --cpu-prof-dir=/tmp/prof bench/scale/profile-model.ts 10000x10
//   KPT_DUMP_SCRIPT=/tmp/full.nft npx node bench/scale/profile-model.ts 10000x10   (the nft script)
//
// Prints the time of each step; with --cpu-prof the profile shows where it goes.

import { NftablesDataplane } from '../../src/dataplanes/nftables/nftables-dataplane.ts';
import { scriptText, type NftRunner } from '../../src/dataplanes/nftables/runner.ts';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { ObjectStore, validateObject } from '../../src/sources/api/store.ts';
import { endpointSlicesResource, servicesResource } from '../../src/sources/api/resources.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { bulkObjects, parseShape } from './objects.ts';

const shape = parseShape(process.argv[2] ?? '10000x10');
// With --expose-gc, each step also prints the heap in use before and after a full collection:
// the difference is the garbage the step left.
const gc = (globalThis as { gc?: () => void }).gc;
const retained = (): string => {
  if (gc === undefined) return '';
  const before = process.memoryUsage().heapUsed;
  gc();
  const m = process.memoryUsage();
  return ` (heap ${(before / 2 ** 20).toFixed(0)} → retained ${(m.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(m.rss / 2 ** 20).toFixed(0)} MiB)`;
};
const t = (label: string, t0: number): number => { const now = performance.now(); process.stdout.write(`${label}: ${(now - t0).toFixed(0)} ms${retained()}\n`); return performance.now(); };

let t0 = performance.now();
const svcs: unknown[] = [];
const slices: unknown[] = [];
for (let i = 0; i < shape.services; i++) {
  const o = bulkObjects(i, shape.endpoints);
  svcs.push({ ...o.svc, metadata: { ...o.svc.metadata, resourceVersion: String(i + 1), uid: `u${String(i)}` }, spec: { ...o.svc.spec, clusterIP: `10.96.${String(i >> 8)}.${String(i & 255)}`, clusterIPs: [`10.96.${String(i >> 8)}.${String(i & 255)}`], type: 'ClusterIP', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster' } });
  for (const s of o.slices) slices.push({ ...s, metadata: { ...s.metadata, resourceVersion: String(100000 + i), uid: `s${String(i)}` } });
}
const svcText = JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '1' }, items: svcs });
const sliceText = JSON.stringify({ kind: 'EndpointSliceList', metadata: { resourceVersion: '1' }, items: slices });
t0 = t(`build ${String(svcText.length + sliceText.length)} bytes of JSON`, t0);

let notified = 0;
const state = new ProxyState({ nodeName: 'scale-node', families: ['IPv4', 'IPv6'], logger: silentLogger(), onChange: () => { notified++; state.pending(); } });
const stores: ObjectStore[] = []; // kept, as the daemon's reflectors keep theirs
const feed = (text: string, spec: ReturnType<typeof servicesResource>, add: (o: Parameters<ProxyState['onServiceAdd']>[0]) => void): void => {
  const doc = JSON.parse(text) as { items: unknown[] };
  const store = new ObjectStore();
  stores.push(store);
  const valid = [];
  for (const raw of doc.items) { const v = validateObject(raw, spec); if (v.ok) valid.push(v.obj); }
  store.replace(valid, { add, update: () => undefined, delete: () => undefined });
};
feed(svcText, servicesResource(), (o) => { state.onServiceAdd(o); });
state.onServicesSynced();
t0 = t('services: parse, validate, decode', t0);
feed(sliceText, endpointSlicesResource(), (o) => { state.onEndpointSliceAdd(o); });
state.onEndpointSlicesSynced();
t0 = t('endpointslices: parse, validate, decode', t0);
const snaps = state.takeSnapshots();
t0 = t('snapshot', t0);

const dump = process.env['KPT_DUMP_SCRIPT'];
// The kernel reads back empty: the daemon's cold start (with KPT_DUMP_SCRIPT the file gets
// every transaction of it, one after the other: prelude, main, bulk elements).
const fs = await import('node:fs');
if (dump !== undefined && dump !== '') fs.writeFileSync(dump, '');
const runner: NftRunner = {
  run: (script) => { if (dump !== undefined && dump !== '') fs.appendFileSync(dump, scriptText(script)); return Promise.resolve(); },
  query: () => Promise.resolve('{"nftables": [{"metainfo": {"json_schema_version": 1}}]}'),
};
const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: { localDetector: { mode: 'ClusterCIDR', cidrs: ['10.0.0.0/8'] } } });
await dp.sync({ full: true, families: snaps.families });
t('full sync (render + plan + script)', t0);
process.stdout.write(`notifications: ${String(notified)}; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB\n`);
{
  const m = process.memoryUsage();
  const mib = (x: number): string => (x / 2 ** 20).toFixed(0);
  process.stdout.write(`memory: rss ${mib(m.rss)} MiB, heapTotal ${mib(m.heapTotal)}, heapUsed ${mib(m.heapUsed)}, external ${mib(m.external)}, arrayBuffers ${mib(m.arrayBuffers)}\n`);
}
// KPT_HEAP_SNAPSHOT=/tmp/x.heapsnapshot writes a heap snapshot at the end (keeps dp and state alive).
const snapshotPath = process.env['KPT_HEAP_SNAPSHOT'];
if (snapshotPath !== undefined && snapshotPath !== '') {
  (await import('node:v8')).writeHeapSnapshot(snapshotPath);
  process.stdout.write(`heap snapshot: ${snapshotPath} (${dp.mode}, ${String(state.takeSnapshots().families.length)} families)\n`);
}
