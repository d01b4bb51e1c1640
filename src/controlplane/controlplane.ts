// startControlPlane: the embedded Kubernetes-compatible API server. It owns a data dir
// (store, PKI, token), serves HTTPS on loopback by default, and writes a kubeconfig that
// kubectl and client libraries use unchanged.

import { createServer, type Server } from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { systemClock, type Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { Faults, type FailOptions } from './faults.ts';
import { buildOpenAPI } from './http/openapi.ts';
import { createRequestHandler } from './http/server.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { ManifestLoader } from './manifests.ts';
import { parsePortRange } from './registry/allocator.ts';
import { endpointSliceStrategy } from './registry/endpointslice.ts';
import { formatIP, parseCIDR } from './registry/ip.ts';
import { namespaceStrategy } from './registry/namespace.ts';
import { nodeStrategy } from './registry/node.ts';
import { Reads } from './registry/reads.ts';
import { Registry } from './registry/registry.ts';
import { ALL_RESOURCES } from './registry/resources.ts';
import { ServiceAllocators } from './registry/service/allocation.ts';
import { serviceStrategy } from './registry/service/strategy.ts';
import { atomicWrite, ensureDir } from './storage/fsutil.ts';
import { Store } from './storage/store.ts';
import { loadOrCreatePKI } from './tls/certs.ts';
import { WatchHub } from './watch/hub.ts';

export interface ControlPlaneOptions {
  /** Holds the store, the PKI and the token (created with mode 0700). */
  readonly dataDir: string;
  /** "host:port" to listen on (default "127.0.0.1:0": loopback, a free port). */
  readonly listen?: string;
  /** Where to write the kubeconfig (default <dataDir>/kubeconfig). */
  readonly kubeconfigOut?: string;
  /** Service CIDRs, one per IP family, primary first (default ["10.96.0.0/12"]). */
  readonly serviceCIDRs?: readonly string[];
  /** NodePort range "min-max" (default "30000-32767"). */
  readonly nodePortRange?: string;
  /** Directory of YAML manifests to keep applied. */
  readonly manifestsDir?: string;
  /** Periodic manifest rescan (default 10 s). */
  readonly manifestRescanMs?: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Events kept per resource for watches from a past resourceVersion (default 50000)... */
  readonly historyLimit?: number;
  /** ...and at most this many bytes of them (default 64 MiB). */
  readonly historyBytes?: number;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (default 60 s). */
  readonly bookmarkIntervalMs?: number;
  /** Watches without timeoutSeconds end after a random time in [d/2, d) (default 60 min). */
  readonly defaultWatchTimeoutMs?: number;
  /** Snapshot and start a new WAL segment past this size (default 64 MiB). */
  readonly compactWalBytes?: number;
  /** fsync writes (default true; turning it off loses durability, for tests only). */
  readonly fsync?: boolean;
}

export interface ControlPlane {
  /** https://host:port */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly kubeconfigPath: string;
  /** The CA certificate (PEM) clients must trust. */
  readonly caPem: string;
  readonly token: string;
  readonly dataDir: string;
  close(): Promise<void>;

  // ---- test hooks (fault injection); not reachable over HTTP ----
  /** Forgets watch history: watches and continue tokens from older revisions now get 410. Returns the current rv. */
  compactHistory(): number;
  /** Drops every open watch connection abruptly. Returns how many. */
  dropWatches(): number;
  /** Open watches stay connected but send nothing more; with includeFuture, new ones too (until clearFaults). */
  silenceWatches(opts?: { includeFuture?: boolean }): number;
  /** The next `n` (matching) requests fail with 500 (default), 503 or 429 + Retry-After. */
  failNextRequests(n: number, opts?: FailOptions): void;
  /** Removes pending injected failures and stops silencing new watches. */
  clearFaults(): void;
  /** Closes and starts again on the same port and data dir. */
  restart(): Promise<void>;
  /** Current (committed) resourceVersion. */
  resourceVersion(): number;
  openWatches(): number;
  /** Requests served so far by the current instance. */
  requestCount(): number;
  /** Writes a snapshot now and starts a new WAL segment. */
  snapshotNow(): Promise<void>;
  /** Re-reads the manifests directory now (resolves when applied). */
  rescanManifests(): Promise<void>;
}

interface Listen {
  readonly host: string;
  readonly port: number;
}

export function parseListen(text: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(text)} (want host:port)`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(text)}`);
  return { host: host === '' ? '127.0.0.1' : host, port };
}

function urlHost(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return isIP(h) === 6 ? `[${h}]` : h;
}

function certHosts(listenHost: string, serviceCIDRs: readonly string[]): string[] {
  const hosts = ['127.0.0.1', '::1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  for (const c of serviceCIDRs) {
    const p = parseCIDR(c);
    if (p) hosts.push(formatIP(p.family, p.base + 1n));
  }
  if (listenHost === '0.0.0.0' || listenHost === '::') {
    hosts.push(hostname());
    for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) hosts.push(a.address.split('%')[0] ?? a.address);
  } else {
    hosts.push(listenHost);
  }
  return [...new Set(hosts)];
}

async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = join(dataDir, 'token');
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (t.length >= 32) return t;
  } catch {
    // create below
  }
  const token = randomBytes(32).toString('base64url');
  await atomicWrite(path, `${token}\n`, 0o600);
  return token;
}

interface Instance {
  readonly server: Server;
  readonly port: number;
  readonly store: Store;
  readonly hub: WatchHub;
  readonly manifests: ManifestLoader | undefined;
  readonly stats: { requests: number };
  readonly sockets: Set<Socket>;
}

async function startInstance(opts: ControlPlaneOptions, listen: Listen, token: string, faults: Faults): Promise<{ inst: Instance; caPem: string }> {
  const logger = opts.logger;
  const clock = opts.clock ?? systemClock;
  const serviceCIDRs = opts.serviceCIDRs ?? ['10.96.0.0/12'];
  const pki = await loadOrCreatePKI(opts.dataDir, certHosts(listen.host, serviceCIDRs));
  if (pki.createdCA) logger.info({ dataDir: opts.dataDir }, 'control plane: created a new certificate authority');
  const alloc = new ServiceAllocators({ serviceCIDRs, nodePortRange: parsePortRange(opts.nodePortRange ?? '30000-32767') });
  const storeOpts = { dir: join(opts.dataDir, 'store'), logger, fsync: opts.fsync ?? true, ...(opts.compactWalBytes !== undefined ? { compactBytes: opts.compactWalBytes } : {}) };
  const store = await Store.open(storeOpts);
  const hub = new WatchHub({
    logger,
    historyLimit: opts.historyLimit ?? 50_000,
    ...(opts.historyBytes !== undefined ? { historyBytes: opts.historyBytes } : {}),
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000,
    committedRV: () => store.committedRV,
  });
  store.onCommit((events) => { hub.onCommit(events); });
  const registry = new Registry(store, [namespaceStrategy(), nodeStrategy(), serviceStrategy(alloc), endpointSliceStrategy()], clock, logger);
  const reads = new Reads(store, hub);
  try {
    await registry.init();
  } catch (err) {
    hub.closeAll();
    await store.close();
    throw err;
  }
  const stats = { requests: 0 };
  let boundPort = listen.port;
  const handler = createRequestHandler({
    registry, reads, clock, defs: ALL_RESOURCES, token, faults, logger, stats,
    openapi: buildOpenAPI(ALL_RESOURCES),
    defaultWatchTimeoutMs: opts.defaultWatchTimeoutMs ?? 60 * 60 * 1000,
    serverAddress: () => `${urlHost(listen.host)}:${String(boundPort)}`,
  });
  const server = createServer({ key: pki.serving.keyPem, cert: pki.serving.certPem, minVersion: 'TLSv1.2' }, handler);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (err) => { logger.debug({ err: err.message }, 'control plane: TLS handshake failed'); });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    hub.closeAll();
    await store.close();
    throw err;
  }
  const addr = server.address();
  boundPort = typeof addr === 'object' && addr ? addr.port : listen.port;
  let manifests: ManifestLoader | undefined;
  if (opts.manifestsDir) {
    manifests = new ManifestLoader({ dir: opts.manifestsDir, registry, logger, rescanMs: opts.manifestRescanMs ?? 10_000 });
    await manifests.start();
  }
  return { inst: { server, port: boundPort, store, hub, manifests, stats, sockets }, caPem: pki.ca.certPem };
}

async function stopInstance(inst: Instance): Promise<void> {
  inst.manifests?.stop();
  inst.hub.closeAll();
  await new Promise<void>((resolve) => {
    inst.server.close(() => { resolve(); });
    inst.server.closeAllConnections();
    for (const s of inst.sockets) s.destroy();
  });
  await inst.store.close();
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const listen = parseListen(opts.listen ?? '127.0.0.1:0');
  await ensureDir(opts.dataDir, 0o700);
  const token = await loadOrCreateToken(opts.dataDir);
  const faults = new Faults();
  let { inst, caPem } = await startInstance(opts, listen, token, faults);
  const host = urlHost(listen.host);
  const url = `https://${host}:${String(inst.port)}`;
  const kubeconfigPath = opts.kubeconfigOut ?? join(opts.dataDir, 'kubeconfig');
  try {
    await writeKubeconfig(kubeconfigPath, url, caPem, token);
  } catch (err) {
    await stopInstance(inst);
    throw err;
  }
  opts.logger.info({ url, kubeconfig: kubeconfigPath, dataDir: opts.dataDir }, 'control plane: serving');
  let closed = false;
  const cp: ControlPlane = {
    url, host, port: inst.port, kubeconfigPath, caPem, token, dataDir: opts.dataDir,
    async close() {
      if (closed) return;
      closed = true;
      await stopInstance(inst);
    },
    compactHistory: () => inst.hub.compact(),
    dropWatches: () => inst.hub.dropAll(),
    silenceWatches: (o) => inst.hub.silence(o?.includeFuture ?? false),
    failNextRequests: (n, o) => { faults.failNext(n, o); },
    clearFaults: () => {
      faults.clear();
      inst.hub.unsilenceFuture();
    },
    async restart() {
      if (closed) throw new Error('control plane is closed');
      await stopInstance(inst);
      const next = await startInstance(opts, { host: listen.host, port: cp.port }, token, faults);
      inst = next.inst;
      caPem = next.caPem;
    },
    resourceVersion: () => inst.store.committedRV,
    openWatches: () => inst.hub.all().length,
    requestCount: () => inst.stats.requests,
    snapshotNow: () => inst.store.snapshotNow(),
    rescanManifests: async () => { await inst.manifests?.scan(); },
  };
  return cp;
}
