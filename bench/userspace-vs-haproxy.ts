// kube-proxy-ts userspace vs HAProxy vs a direct connection, on one lab topology in one run.
//
//   npx node bench/userspace-vs-haproxy.ts [options]        (as root; see bench/README.md)
//
// Three throwaway namespaces (lib/topology.ts): client → proxy node → backend. The backend
// serves small HTTP responses (HAProxy's `http-request return`) and a bulk body
// (lib/bulk-server.ts), the same for every path. On the proxy node: HAProxy (`mode tcp`,
// nbthread = --threads) and kube-proxy-ts in userspace mode (by default the real daemon with its
// embedded control plane, the Service and EndpointSlice created with kubectl). From the client,
// wrk measures keep-alive requests/s and new connections/s ("Connection: close": one request
// per TCP connection), each with p50/p99, and curl a bulk download (MB/s); for the direct path
// the proxy node only routes. Paths are interleaved, each round in a rotated order, and
// medians reported, with where the CPU went. Then the keep-alive latency once more, in many short
// windows per path with the paths taking turns, each path's windows pooled (lib/latency.ts): the
// p99 compared under the same conditions (--aa adds a second, identical HAProxy to show how
// closely). The JSON goes to bench/results/. The last line is
//   ratios vs haproxy: rps=<x> cps=<y> p99=<z>
// (kube-proxy-ts divided by HAProxy; p99 of the keep-alive test, pooled over the windows).

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { liveNamespaces } from '../test/helpers/netns.ts';
import { HAPROXY, httpResponderConfig, startHaproxy, tcpProxyConfig } from './lib/haproxy.ts';
import { startKubeProxy, startUserspaceRunner, type KubeProxyOptions, type RunningKubeProxy } from './lib/kube-proxy.ts';
import { cpuTimes, machineJiffies, until, waitForExit, type CpuTimes } from './lib/process.ts';
import { pooledPercentile, type LatencyGrid } from './lib/latency.ts';
import { ratiosLine, renderLatency, renderReport, summarize, type CpuSplit, type LatencyRatios, type LatencyReport, type PathName, type Sample, type TestName } from './lib/report.ts';
import { fixed, median, ratio, rotate } from './lib/stats.ts';
import { BACKEND_IP, createLab, PROXY_CLIENT_SIDE_IP, type Lab } from './lib/topology.ts';
import { curlSpeed, killRunning, run, wrk } from './lib/wrk.ts';

const USAGE = `usage: npx node bench/userspace-vs-haproxy.ts [options]   (as root)
  --rounds N            interleaved rounds; medians are reported (default 5)
  --seconds S           length of each wrk test (default 4)
  --connections C       wrk connections (default 50)
  --threads T           HAProxy nbthread and kube-proxy-ts serving threads (default: the
                        number of CPUs, as HAProxy's own default nbthread)
  --kube-proxy K        daemon: the real daemon, objects via kubectl (--userspace-threads T);
                        dataplane: UserspaceDataplane alone (lib/userspace-runner.ts) with
                        redirect and Prometheus metrics as the daemon wires it;
                        auto (default): the daemon, unless T > 1 and it has no
                        --userspace-threads flag yet
  --latency-windows N   keep-alive latency windows per path, interleaved and pooled (default
                        20; 0: none, the p99 is then the median over rounds)
  --latency-seconds S   length of each latency window (default 1)
  --aa                  A/A: also measure a second HAProxy identical to the first (haproxy-b):
                        how far apart two equal proxies come out
  --haproxy-nat         also measure HAProxy reached through an nftables redirect (a
                        ClusterIP-like address), as kube-proxy-ts is: the redirect's own cost
  --pin                 pin the proxies to the last CPU(s), wrk and the backend to CPU 0
  --tests LIST          rps,cps,bulk (default all)
  --only LIST           direct,haproxy,kube-proxy-ts (haproxy-b with --aa; default all)
  --bulk-mb M           bulk body size (default 200)
  --backend-threads B   the backend responder's nbthread (default 1)
  --profile DIR         run kube-proxy-ts with --cpu-prof into DIR
  --kp-arg A            extra daemon flag (repeatable); --kp-node-arg A: extra node flag`;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '50' },
    threads: { type: 'string' },
    'kube-proxy': { type: 'string', default: 'auto' },
    pin: { type: 'boolean', default: false },
    'haproxy-nat': { type: 'boolean', default: false },
    'latency-windows': { type: 'string', default: '20' },
    'latency-seconds': { type: 'string', default: '1' },
    aa: { type: 'boolean', default: false },
    tests: { type: 'string', default: 'rps,cps,bulk' },
    only: { type: 'string' },
    'bulk-mb': { type: 'string', default: '200' },
    'backend-threads': { type: 'string', default: '1' },
    profile: { type: 'string' },
    'kp-arg': { type: 'string', multiple: true, default: [] },
    'kp-node-arg': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const ROUNDS = positive('rounds', opt.rounds);
const LATENCY_WINDOWS = opt['latency-windows'] === '0' ? 0 : positive('latency-windows', opt['latency-windows']);
const LATENCY_SECONDS = positive('latency-seconds', opt['latency-seconds']);
const SECONDS = positive('seconds', opt.seconds);
const CONNECTIONS = positive('connections', opt.connections);
const THREADS = opt.threads === undefined ? availableParallelism() : positive('threads', opt.threads);
const BACKEND_THREADS = positive('backend-threads', opt['backend-threads']);
const BULK_BYTES = positive('bulk-mb', opt['bulk-mb']) * 1024 * 1024;
const CPUS = availableParallelism();
const KUBE_PROXY_OPT = opt['kube-proxy'];
if (KUBE_PROXY_OPT !== 'daemon' && KUBE_PROXY_OPT !== 'dataplane' && KUBE_PROXY_OPT !== 'auto') {
  throw new Error(`--kube-proxy must be auto, daemon or dataplane, got ${JSON.stringify(KUBE_PROXY_OPT)}`);
}
const BIN = join(import.meta.dirname, '../src/cli/bin.ts');
/** Whether the daemon can run serving threads (the flag the bench passes for --threads > 1). */
function daemonHasThreads(): boolean {
  return spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout.includes('--userspace-threads');
}
const KUBE_PROXY: 'daemon' | 'dataplane' = KUBE_PROXY_OPT === 'auto' ? (THREADS === 1 || daemonHasThreads() ? 'daemon' : 'dataplane') : KUBE_PROXY_OPT;
if (KUBE_PROXY === 'daemon' && THREADS > 1 && !daemonHasThreads()) {
  throw new Error('this kube-proxy-ts daemon has no --userspace-threads flag: use --kube-proxy dataplane (or auto) for --threads > 1');
}
const PATHS: readonly PathName[] = ['direct', 'haproxy', ...(opt.aa ? ['haproxy-b' as const] : []), ...(opt['haproxy-nat'] ? ['haproxy-nat' as const] : []), 'kube-proxy-ts'];
const ONLY = opt.only?.split(',') ?? PATHS;
const TESTS = new Set(opt.tests.split(','));
for (const p of ONLY) if (!(PATHS as readonly string[]).includes(p)) throw new Error(`--only: unknown path ${JSON.stringify(p)}`);
for (const t of TESTS) if (!['rps', 'cps', 'bulk'].includes(t)) throw new Error(`--tests: unknown test ${JSON.stringify(t)}`);

const CLUSTER_IP = '10.96.0.80';
/** --haproxy-nat: a service-like address redirected to HAProxy's frontends. */
const HAPROXY_NAT_IP = '10.96.0.90';
const PORTS = { small: 8080, bulk: 8081, haproxySmall: 18080, haproxyBulk: 18081, haproxyBSmall: 18090, haproxyBBulk: 18091, serviceSmall: 80, serviceBulk: 81 };
const TARGETS: Record<PathName, { readonly small: string; readonly bulk: string }> = {
  direct: { small: `http://${BACKEND_IP}:${PORTS.small}/`, bulk: `http://${BACKEND_IP}:${PORTS.bulk}/` },
  haproxy: { small: `http://${PROXY_CLIENT_SIDE_IP}:${PORTS.haproxySmall}/`, bulk: `http://${PROXY_CLIENT_SIDE_IP}:${PORTS.haproxyBulk}/` },
  'haproxy-nat': { small: `http://${HAPROXY_NAT_IP}:${PORTS.serviceSmall}/`, bulk: `http://${HAPROXY_NAT_IP}:${PORTS.serviceBulk}/` },
  'haproxy-b': { small: `http://${PROXY_CLIENT_SIDE_IP}:${PORTS.haproxyBSmall}/`, bulk: `http://${PROXY_CLIENT_SIDE_IP}:${PORTS.haproxyBBulk}/` },
  'kube-proxy-ts': { small: `http://${CLUSTER_IP}:${PORTS.serviceSmall}/`, bulk: `http://${CLUSTER_IP}:${PORTS.serviceBulk}/` },
};

// --pin: the proxy under test gets the last CPU (one thread) or all of them; the load generator
// and the backend share CPU 0. Without --pin the scheduler places everything.
const PIN = opt.pin
  ? { proxy: THREADS === 1 ? String(CPUS - 1) : `0-${CPUS - 1}`, client: '0', backend: '0' }
  : { proxy: undefined, client: undefined, backend: undefined };

const log = (s: string): void => { process.stderr.write(`${s}\n`); };

interface Running {
  readonly lab: Lab;
  readonly proxyPid: Record<PathName, number | undefined>;
  readonly responderPid: number;
  readonly bulkPid: number | undefined;
  readonly kubeProxy: RunningKubeProxy;
}

async function setUp(lab: Lab, stops: (() => Promise<unknown>)[]): Promise<Running> {
  log(`lab: client ${lab.client.name}, proxy node ${lab.proxy.name}, backend ${lab.backend.name}`);
  const responder = await startHaproxy(lab.backend, httpResponderConfig(BACKEND_THREADS, BACKEND_IP, PORTS.small), PIN.backend);
  stops.push(() => responder.stop());
  const bulkArgs = [join(import.meta.dirname, 'lib/bulk-server.ts'), BACKEND_IP, String(PORTS.bulk), String(BULK_BYTES)];
  const bulk = PIN.backend === undefined
    ? lab.backend.spawn(process.execPath, bulkArgs)
    : lab.backend.spawn('taskset', ['-c', PIN.backend, process.execPath, ...bulkArgs]);
  stops.push(async () => { bulk.kill('SIGTERM'); await waitForExit(bulk, 3000); });
  let bulkOut = '';
  bulk.stdout?.on('data', (b: Buffer) => { bulkOut += b.toString(); });
  await until('the bulk server', () => { if (bulk.exitCode !== null) throw new Error('the bulk server exited'); return bulkOut.includes('ready') ? true : undefined; });

  const haproxy = await startHaproxy(lab.proxy, tcpProxyConfig(THREADS, [
    { name: 'small', bind: PROXY_CLIENT_SIDE_IP, port: PORTS.haproxySmall, server: BACKEND_IP, serverPort: PORTS.small },
    { name: 'bulk', bind: PROXY_CLIENT_SIDE_IP, port: PORTS.haproxyBulk, server: BACKEND_IP, serverPort: PORTS.bulk },
  ]), PIN.proxy);
  stops.push(() => haproxy.stop());
  let haproxyB: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  if (opt.aa) {
    // Another process with the same configuration on other ports: the A of an A/A comparison.
    haproxyB = await startHaproxy(lab.proxy, tcpProxyConfig(THREADS, [
      { name: 'small', bind: PROXY_CLIENT_SIDE_IP, port: PORTS.haproxyBSmall, server: BACKEND_IP, serverPort: PORTS.small },
      { name: 'bulk', bind: PROXY_CLIENT_SIDE_IP, port: PORTS.haproxyBBulk, server: BACKEND_IP, serverPort: PORTS.bulk },
    ]), PIN.proxy);
    const b = haproxyB;
    stops.push(() => b.stop());
  }
  if (opt['haproxy-nat']) {
    // The same kind of entry as kube-proxy-ts's ClusterIP: nat prerouting redirect (conntrack + NAT on every packet).
    lab.proxy.exec('nft', ['-f', '-'], [
      'table ip kpt-bench-nat {',
      '  chain prerouting {',
      '    type nat hook prerouting priority -110; policy accept;',
      `    ip daddr ${HAPROXY_NAT_IP} tcp dport ${PORTS.serviceSmall} redirect to :${PORTS.haproxySmall}`,
      `    ip daddr ${HAPROXY_NAT_IP} tcp dport ${PORTS.serviceBulk} redirect to :${PORTS.haproxyBulk}`,
      '  }',
      '}', '',
    ].join('\n'));
  }

  const kpOptions: KubeProxyOptions = {
    nodeIP: PROXY_CLIENT_SIDE_IP,
    clusterIP: CLUSTER_IP,
    endpointIP: BACKEND_IP,
    ports: [
      { name: 'small', port: PORTS.serviceSmall, targetPort: PORTS.small },
      { name: 'bulk', port: PORTS.serviceBulk, targetPort: PORTS.bulk },
    ],
    extraArgs: [...(THREADS > 1 ? ['--userspace-threads', String(THREADS)] : []), ...opt['kp-arg']],
    nodeArgs: [...opt['kp-node-arg'], ...(opt.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opt.profile])],
    cpus: PIN.proxy,
  };
  const kubeProxy = KUBE_PROXY === 'daemon'
    ? await startKubeProxy(lab.proxy, lab.client, kpOptions)
    : await startUserspaceRunner(lab.proxy, lab.client, { ...kpOptions, threads: THREADS });
  stops.push(() => kubeProxy.stop());
  // Short connections leave conntrack entries in TIME_WAIT on the proxy node (two per proxied
  // connection); keep the table from filling up across rounds (this namespace's value only).
  lab.proxy.tryExec('sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=5']);
  return { lab, proxyPid: { direct: undefined, haproxy: haproxy.pid, 'haproxy-nat': haproxy.pid, 'haproxy-b': haproxyB?.pid, 'kube-proxy-ts': kubeProxy.pid }, responderPid: responder.pid, bulkPid: bulk.pid, kubeProxy };
}

interface Outcome {
  readonly value: number;
  readonly units: number;
  readonly loadgenSeconds: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly latencyUs?: Sample['latencyUs'];
  readonly errors?: number;
  readonly errorKinds?: Sample['errorKinds'];
}

/** Packets (received + sent) on the proxy node's client-side (p0) and backend-side (p1) links. */
function packets(lab: Lab): { clientSide: number; backendSide: number } {
  const out = lab.proxy.tryExec('cat', ['/sys/class/net/p0/statistics/rx_packets', '/sys/class/net/p0/statistics/tx_packets',
    '/sys/class/net/p1/statistics/rx_packets', '/sys/class/net/p1/statistics/tx_packets']).stdout.trim().split('\n').map(Number);
  return { clientSide: (out[0] ?? Number.NaN) + (out[1] ?? Number.NaN), backendSide: (out[2] ?? Number.NaN) + (out[3] ?? Number.NaN) };
}

/**
 * kube-proxy-ts's refusal and connect-failure counters at the end of the run, from its
 * /metrics (the daemon's default address; empty without one): what a connection reset right
 * after accept is counted as (wrk's `write` errors).
 */
function daemonCounters(lab: Lab): string[] {
  const r = lab.proxy.tryExec('curl', ['-s', '--max-time', '5', 'http://127.0.0.1:10249/metrics']);
  return r.stdout.split('\n').filter((l) => /^kubeproxy_userspace_(refused_total|connect_failures_total)\{/.test(l));
}

/** Run one test and account for the CPU time of everyone involved. */
async function measure(r: Running, round: number, path: PathName, test: TestName, fn: () => Promise<Outcome>): Promise<Sample> {
  const proxyPid = r.proxyPid[path];
  const backendPid = test === 'bulk' ? r.bulkPid : r.responderPid;
  const read = (pid: number | undefined): CpuTimes | undefined => (pid === undefined ? undefined : cpuTimes(pid));
  const p0 = read(proxyPid);
  const b0 = read(backendPid);
  const n0 = packets(r.lab);
  const m0 = machineJiffies();
  const o = await fn();
  const m1 = machineJiffies();
  const n1 = packets(r.lab);
  const p1 = read(proxyPid);
  const b1 = read(backendPid);
  const spent = (a: CpuTimes | undefined, b: CpuTimes | undefined): number => (a === undefined || b === undefined ? Number.NaN : b.user + b.system - a.user - a.system);
  const proxy = spent(p0, p1);
  const backend = spent(b0, b1);
  const per = (seconds: number): number => (seconds * 1e6) / o.units;
  const cpu: CpuSplit = {
    ...(Number.isFinite(proxy) ? { proxy: per(proxy), proxyKernelShare: proxy > 0 && p0 !== undefined && p1 !== undefined ? (p1.system - p0.system) / proxy : Number.NaN } : {}),
    backend: per(backend),
    loadgen: per(o.loadgenSeconds),
  };
  // /proc/stat counts in USER_HZ (100 per second), summed over CPUs.
  const ours = ((Number.isFinite(proxy) ? proxy : 0) + backend + o.loadgenSeconds) * 100;
  const total = m1.total - m0.total;
  return {
    round, path, test, value: o.value, cpu, machineBusy: (m1.busy - m0.busy) / total, othersBusy: Math.max(0, m1.busy - m0.busy - ours) / total,
    packets: { clientSide: (n1.clientSide - n0.clientSide) / o.units, backendSide: (n1.backendSide - n0.backendSide) / o.units },
    ...(o.p50Us !== undefined ? { p50Us: o.p50Us } : {}), ...(o.p99Us !== undefined ? { p99Us: o.p99Us } : {}),
    ...(o.latencyUs !== undefined ? { latencyUs: o.latencyUs } : {}), ...(o.errors !== undefined ? { errors: o.errors } : {}),
    ...(o.errorKinds !== undefined ? { errorKinds: o.errorKinds } : {}),
  };
}

async function wrkTest(r: Running, path: PathName, close: boolean, seconds: number): Promise<Outcome> {
  const w = await wrk(r.lab.client, { url: TARGETS[path].small, threads: 1, connections: CONNECTIONS, seconds, close, cpus: PIN.client });
  const e = w.errors;
  const errors = e.connect + e.read + e.write + e.status + e.timeout;
  return {
    value: w.requests / (w.durationUs / 1e6), units: w.requests, loadgenSeconds: w.cpuSeconds,
    p50Us: w.latencyUs.p50, p99Us: w.latencyUs.p99, errors, ...(errors > 0 ? { errorKinds: e } : {}),
    latencyUs: { mean: w.latencyUs.mean, p90: w.latencyUs.p90, p999: w.latencyUs.p999, max: w.latencyUs.max },
  };
}

/**
 * The keep-alive test in LATENCY_WINDOWS short windows per path, the paths taking turns (each
 * window in a rotated order), each path's windows pooled.
 */
async function latencyWindows(r: Running, paths: readonly PathName[], roundsP99: (a: PathName, b: PathName) => number): Promise<LatencyReport> {
  const runs = new Map<PathName, LatencyGrid[]>();
  /** window → path → that window's p99 */
  const windowP99: Map<PathName, number>[] = [];
  for (let w = 0; w < LATENCY_WINDOWS; w++) {
    const mine = new Map<PathName, number>();
    windowP99.push(mine);
    for (const path of rotate(paths, w)) {
      const res = await wrk(r.lab.client, { url: TARGETS[path].small, threads: 1, connections: CONNECTIONS, seconds: LATENCY_SECONDS, close: false, cpus: PIN.client, grid: true });
      if (res.grid === undefined) throw new Error('wrk reported no latency grid');
      const list = runs.get(path) ?? [];
      list.push({ requests: res.requests, grid: res.grid });
      mine.set(path, res.latencyUs.p99);
      if (process.env['KPT_BENCH_DEBUG'] === '1') {
        const at = (p: number): number => res.grid?.find(([q]) => q >= p)?.[1] ?? Number.NaN;
        log(`window ${String(w + 1)} ${path}: ${String(res.requests)} requests p50 ${String(at(50))} p90 ${String(at(90))} p95 ${String(at(95))} p98 ${String(at(98))} p99 ${String(at(99))} p99.5 ${String(at(99.5))} max ${String(res.latencyUs.max)} µs`);
      }
      runs.set(path, list);
    }
    if ((w + 1) % 5 === 0) log(`latency windows: ${String(w + 1)}/${String(LATENCY_WINDOWS)}`);
  }
  const pooled: LatencyReport['pooled'] = {};
  for (const [path, list] of runs) {
    pooled[path] = {
      requests: list.reduce((n, x) => n + x.requests, 0),
      p50Us: pooledPercentile(list, 50), p99Us: pooledPercentile(list, 99), p999Us: pooledPercentile(list, 99.9),
    };
  }
  const vs = (a: PathName, b: PathName): LatencyRatios => ({
    p50: ratio(pooled[a]?.p50Us ?? Number.NaN, pooled[b]?.p50Us ?? Number.NaN),
    p99: ratio(pooled[a]?.p99Us ?? Number.NaN, pooled[b]?.p99Us ?? Number.NaN),
    p999: ratio(pooled[a]?.p999Us ?? Number.NaN, pooled[b]?.p999Us ?? Number.NaN),
    // Per window: robust to a few windows a disturbance hit (which dominate a pooled tail).
    medianP99: ratio(median(windowP99.map((m) => m.get(a) ?? Number.NaN)), median(windowP99.map((m) => m.get(b) ?? Number.NaN))),
    pairedP99: median(windowP99.map((m) => ratio(m.get(a) ?? Number.NaN, m.get(b) ?? Number.NaN))),
  });
  return {
    windows: LATENCY_WINDOWS, seconds: LATENCY_SECONDS, pooled, vsHaproxy: vs('kube-proxy-ts', 'haproxy'),
    windowP99: windowP99.map((m) => Object.fromEntries(m)),
    ...(paths.includes('haproxy-b') ? { aa: { ...vs('haproxy-b', 'haproxy'), roundsP99: roundsP99('haproxy-b', 'haproxy') } } : {}),
  };
}

async function bulkTest(r: Running, path: PathName): Promise<Outcome> {
  const c = await curlSpeed(r.lab.client, TARGETS[path].bulk, PIN.client);
  if (c.bytes !== BULK_BYTES) throw new Error(`${path}: bulk download got ${c.bytes} of ${BULK_BYTES} bytes`);
  return { value: c.bytesPerSecond / 1e6, units: c.bytes / 1e6, loadgenSeconds: c.cpuSeconds };
}

async function bench(lab: Lab, stops: (() => Promise<unknown>)[]): Promise<string> {
  const r = await setUp(lab, stops);
  const paths = PATHS.filter((p) => ONLY.includes(p));
  for (const p of paths) {
    const body = await run(lab.client, 'curl', ['-sS', '--fail', '--max-time', '2', TARGETS[p].small]);
    if (body.trim() !== 'ok') throw new Error(`${p}: unexpected reply ${JSON.stringify(body)}`);
  }
  log(`warming up (JIT, caches): ${paths.join(', ')}`);
  for (const p of paths) {
    await wrkTest(r, p, false, 2);
    await wrkTest(r, p, true, 1);
  }
  const samples: Sample[] = [];
  const unit: Record<TestName, string> = { rps: 'req/s ', cps: 'conn/s', bulk: 'MB/s  ' };
  const note = (s: Sample): void => {
    const lat = s.p50Us === undefined ? '' : `  p50 ${s.p50Us} µs  p99 ${s.p99Us ?? Number.NaN} µs  errors ${s.errors ?? 0}`;
    log(`round ${s.round + 1} ${s.test.padEnd(4)} ${s.path.padEnd(13)} ${fixed(s.value, 0).padStart(7)} ${unit[s.test]}${lat}`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Each test rotates the path order differently, so no path is always first or last.
    const plan: [TestName, number][] = [['rps', round], ['cps', round + 1], ['bulk', round + 2]];
    for (const [test, shift] of plan) {
      if (!TESTS.has(test)) continue;
      for (const path of rotate(paths, shift)) {
        const s = await measure(r, round, path, test, () => (test === 'bulk' ? bulkTest(r, path) : wrkTest(r, path, test === 'cps', SECONDS)));
        samples.push(s);
        note(s);
      }
    }
  }
  const rep = summarize(samples, paths, ROUNDS);
  const latency = LATENCY_WINDOWS > 0 && TESTS.has('rps')
    ? await latencyWindows(r, paths.filter((p) => p !== 'direct' || paths.length === 1), (a, b) => ratio(rep.summary[a]?.rps?.p99Us ?? Number.NaN, rep.summary[b]?.rps?.p99Us ?? Number.NaN))
    : undefined;
  const title = `userspace vs haproxy — ${ROUNDS} round(s) × ${SECONDS} s per test, wrk -t1 -c${CONNECTIONS}, proxy threads ${THREADS}, `
    + `kube-proxy-ts as ${KUBE_PROXY === 'daemon' ? 'the daemon' : 'the bare dataplane'}, ${CPUS} CPUs${opt.pin ? ', pinned' : ''}; medians`;
  const lines = ['', ...renderReport(rep, paths, title), ...(latency === undefined ? [] : ['', ...renderLatency(latency, paths)])];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `userspace-vs-haproxy-${stamp}.json`);
  writeFileSync(file, JSON.stringify({
    benchmark: 'userspace-vs-haproxy',
    date: new Date().toISOString(),
    settings: {
      rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, threads: THREADS, kubeProxy: KUBE_PROXY, pinned: opt.pin,
      latencyWindows: LATENCY_WINDOWS, latencySeconds: LATENCY_SECONDS, aa: opt.aa,
      tests: [...TESTS], paths, backendThreads: BACKEND_THREADS, bulkBytes: BULK_BYTES, cpus: CPUS,
      kubeProxyArgs: opt['kp-arg'], kubeProxyNodeArgs: opt['kp-node-arg'],
    },
    versions: { node: process.version, haproxy: lab.proxy.exec(HAPROXY, ['-v']).split('\n')[0] ?? '' },
    ratios: { vsHaproxy: rep.vsHaproxy, vsDirect: rep.vsDirect, perRound: rep.perRound },
    ...(latency === undefined ? {} : { latency }),
    summary: rep.summary,
    samples,
    kubeProxyWarnings: r.kubeProxy.log().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-20),
    kubeProxyCounters: daemonCounters(lab),
  }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  lines.push(`results: ${file}`);
  lines.push(ratiosLine(rep, latency));
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  if (opt.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('run as root: the bench builds network namespaces');
  const lab = createLab();
  const stops: (() => Promise<unknown>)[] = [];
  // Interrupted: kill what runs (load generators, and every process started in a namespace:
  // destroy() kills them before deleting the namespaces), then exit.
  const onSignal = (): void => {
    log('interrupted: killing the bench\'s processes and deleting its namespaces');
    killRunning();
    lab.destroy();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    process.stdout.write(await bench(lab, stops));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    lab.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  const left = liveNamespaces();
  if (left.length > 0) process.stderr.write(`namespaces still present (deleted at exit): ${left.join(', ')}\n`);
}
