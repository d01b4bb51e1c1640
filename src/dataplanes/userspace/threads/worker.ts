// A serving thread of the userspace dataplane (worker_threads). It runs the same forwarding
// code as the main thread — PortRuntime, pools, balancers, TcpFrontend — for the TCP service
// ports the main thread hands it, listening on the very ports the main thread bound, with
// SO_REUSEPORT: the kernel spreads new connections over the threads' listening sockets; or,
// in redirect mode (ownPorts), on ports of its own, which nftables picks round robin.
// Per-thread state (see README "Serving threads"): balancer rotation, least-connections and
// power-of-two counts, passive health. Shared: the connection cap (one Atomics cell). Metrics
// and logs go to the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { systemClock } from '../../../util/clock.ts';
import { categorizeEndpoints } from '../../nftables/categorize.ts';
import { PassiveHealth } from '../balancers/index.ts';
import { ConnectionBudget } from '../budget.ts';
import { PortRuntime, RetiredFrontends, type PortRuntimeDeps } from '../port-runtime.ts';
import { TcpFrontend } from '../tcp.ts';
import { DeltaMetrics } from './delta-metrics.ts';
import { isToWorker, isWorkerInit, type BoundPort, type FromWorker, type PortMessage, type ThreadListen } from './protocol.ts';

const port = parentPort;
const init: unknown = workerData;
if (port === null || !isWorkerInit(init)) throw new Error('userspace serving thread started without its workerData');

const send = (m: FromWorker): void => { port.postMessage(m); };
const ownPorts = init.ownPorts;
const logger = pino({ level: init.logLevel, base: { thread: init.thread } }, { write: (line: string) => { send({ type: 'log', line }); } });
const metrics = new DeltaMetrics();
const health = new PassiveHealth(systemClock, init.backoff);
const budget = new ConnectionBudget(init.maxConnections, systemClock, logger, metrics, 10_000, init.budgetCell);
const local = new Set(init.localAddresses);
const deps: PortRuntimeDeps = {
  pool: { clock: systemClock, random: Math.random, health, metrics },
  forwarder: { clock: systemClock, logger, metrics, budget, health, settings: init.settings },
  categorize: categorizeEndpoints,
  defaultAlgorithm: init.defaultAlgorithm,
  udpIdleTimeoutMs: 30_000,
  isNodeLocal: (ip) => local.has(ip) || ip.startsWith('127.') || ip === '::1',
  reusePort: !ownPorts,
};
const ports = new Map<string, PortRuntime>();
/** Listeners no longer wanted whose connections drain; closed by closeAll(). */
const retired = new RetiredFrontends();

function flushMetrics(): void {
  const deltas = metrics.take();
  if (deltas.length > 0) send({ type: 'metrics', deltas });
}
setInterval(flushMetrics, init.metricsIntervalMs).unref();

async function applyPort(m: PortMessage): Promise<BoundPort[]> {
  let rt = ports.get(m.key);
  if (rt === undefined) {
    rt = new PortRuntime(m.sp, deps);
    ports.set(m.key, rt);
  }
  rt.update(m.sp, m.endpoints, { nodeName: m.nodeName, nodeLabels: m.nodeLabels });
  const wanted = new Map(m.listens.map((l) => [l.key, l]));
  for (const [k, f] of rt.frontends) {
    // The same listener: asked for the same port, or (own ports) for the one it got.
    const port = wanted.get(k)?.port;
    if (port !== undefined && (port === f.requestedPort || (f.port !== 0 && port === f.port))) continue;
    rt.frontends.delete(k);
    void retired.retire(f);
  }
  const owner = rt;
  await Promise.all(m.listens.filter((l) => !owner.frontends.has(l.key)).map((l) => listen(owner, m.key, l)));
  const bound: BoundPort[] = [];
  for (const [listenKey, f] of rt.frontends) if (f instanceof TcpFrontend && f.port !== 0) bound.push({ listen: listenKey, port: f.port });
  return bound;
}

async function listen(rt: PortRuntime, key: string, l: ThreadListen): Promise<void> {
  const f = rt.createFrontend(l);
  if (!(f instanceof TcpFrontend)) return;
  rt.frontends.set(l.key, f);
  try {
    await f.listen();
  } catch (err) {
    if (rt.frontends.get(l.key) === f) rt.frontends.delete(l.key);
    // A port of our own that is taken now (a restarted thread, a previous process's port): any.
    if (ownPorts && l.port !== 0) {
      await listen(rt, key, { ...l, port: 0 });
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? 'ERROR';
    send({ type: 'listen-failed', key, listen: `${l.host}:${String(l.port)}`, code });
  }
}

function removePort(key: string): void {
  const rt = ports.get(key);
  if (rt === undefined) return;
  ports.delete(key);
  rt.internal.pool = undefined;
  rt.external.pool = undefined;
  rt.external.localClientPool = undefined;
  for (const f of rt.frontends.values()) void retired.retire(f);
  rt.frontends.clear();
}

async function closeAll(): Promise<void> {
  const frontends = [...ports.values()].flatMap((rt) => [...rt.frontends.values()]);
  ports.clear();
  await Promise.all(frontends.map((f) => f.close(false)));
  const tcp = [...frontends.filter((f) => f instanceof TcpFrontend), ...await retired.closeAll()];
  // Destroyed connections report their close on a later turn of the loop: wait (briefly) so
  // the last metrics include them.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(tcp.map((f) => f.drained())),
    new Promise((resolve) => { timer = setTimeout(resolve, 500); }),
  ]);
  clearTimeout(timer);
  flushMetrics();
  send({ type: 'closed' });
}

port.on('message', (m: unknown) => {
  if (!isToWorker(m)) {
    logger.error({ message: m }, 'userspace serving thread: unexpected message from the main thread');
    return;
  }
  switch (m.type) {
    case 'port': {
      const seq = m.seq;
      void applyPort(m).then(
        (bound) => { send({ type: 'applied', seq, key: m.key, ports: bound }); },
        () => { send({ type: 'applied', seq }); });
      break;
    }
    case 'remove':
      removePort(m.key);
      send({ type: 'applied', seq: m.seq });
      break;
    case 'close': void closeAll(); break;
  }
});
