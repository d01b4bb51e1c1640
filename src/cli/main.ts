// The composition root: the one place that wires real dependencies together, owns the process
// exit code and the signal handling (one AbortController). Everything it calls takes its
// dependencies as arguments.

import { collectAfterLargeSync, collectBeforeLargeSync } from './heap.ts';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import ipaddr from 'ipaddr.js';
import { Registry } from 'prom-client';
import { loadConfiguration, configz, type EffectiveConfig } from './config/index.ts';
import { createDataplane, cleanupAll } from './dataplane-factory.ts';
import { registerNode } from './embedded.ts';
import { detectNodeIPs, interfaceAddresses } from './node-ips.ts';
// The embedded control plane is loaded only when used (~0.1 s of start-up on a real cluster).
import type { ControlPlane } from '../controlplane/index.ts';
import { decodeNode } from '../model/decode/node.ts';
import { ProxyState } from '../model/proxy-state.ts';
import type { IPFamily, NodeInfo } from '../model/types.ts';
import { HealthServer } from '../server/health-server.ts';
import { createProxyMetrics } from '../server/metrics.ts';
import { MetricsServer } from '../server/metrics-server.ts';
import { ProxyHealth, healthTimeoutFor } from '../server/proxy-health.ts';
import { ServiceHealthServer } from '../server/service-health.ts';
import { ApiSource, createApiClient, type ApiClient } from '../sources/api/index.ts';
import { ProxyLoop } from '../sync/proxy-loop.ts';
import { syncServiceHealth } from '../sync/service-health-sync.ts';
import { systemClock } from '../util/clock.ts';
import { createLogger, type Logger } from '../util/logger.ts';

const USER_AGENT = 'kube-proxy-ts';

/** In a pod with a service account: upstream's rest.InClusterConfig condition. */
function inCluster(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['KUBERNETES_SERVICE_HOST']) && Boolean(env['KUBERNETES_SERVICE_PORT']);
}

function nodeFamilies(): IPFamily[] {
  // Both families when the kernel has IPv6 (dual-stack tables are cheap when empty).
  return existsSync('/proc/net/if_inet6') ? ['IPv4', 'IPv6'] : ['IPv4'];
}

/** Our Node as the API has it right now (undefined if it does not exist or cannot be read). */
async function fetchNode(client: ApiClient, nodeName: string, logger: Logger): Promise<NodeInfo | undefined> {
  try {
    const res = await client.request(`/api/v1/nodes/${encodeURIComponent(nodeName)}`, { timeoutMs: 5000 });
    if (res.status !== 200) return undefined;
    return decodeNode(JSON.parse(res.body) as unknown, logger);
  } catch (err) {
    logger.debug({ err }, 'could not read our Node');
    return undefined;
  }
}

/**
 * Where healthCheckNodePort servers listen (upstream: the nodePortAddresses): the node IPs for
 * "primary", else this host's addresses inside the configured CIDRs ("all" covers every one).
 */
function serviceHealthAddresses(config: EffectiveConfig, nodeIPs: readonly string[], local: readonly string[]): string[] {
  const cidrs = config.nodePortAddresses.cidrs;
  if (cidrs.length === 0) return nodeIPs.filter((ip) => ip !== '127.0.0.1' && ip !== '::1');
  if (cidrs.some((c) => c.prefixLength === 0)) return [];
  const parsed = cidrs.map((c) => ipaddr.parseCIDR(c.text));
  return local.filter((ip) => {
    const addr = ipaddr.parse(ip);
    return parsed.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  });
}

/** A failure to reach the embedded control plane we just started, with the likely cause when it is a connect error. */
function unreachablePlane(url: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined || !['ENETUNREACH', 'ECONNREFUSED', 'EADDRNOTAVAIL', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(code)) {
    return err instanceof Error ? err : new Error(String(err));
  }
  return new Error(`cannot reach the embedded control plane at ${url} (${code}): is the loopback interface up?`, { cause: err });
}

async function startEmbedded(config: EffectiveConfig, logger: Logger): Promise<ControlPlane> {
  const cp = config.controlPlane;
  const { startControlPlane } = await import('../controlplane/index.ts');
  const plane = await startControlPlane({
    dataDir: cp.dataDir,
    listen: cp.listen.text,
    serviceCIDRs: cp.serviceCIDRs.map((c) => c.text),
    ...(cp.manifestsDir === undefined ? {} : { manifestsDir: cp.manifestsDir }),
    logger: logger.child({ component: 'control-plane' }),
  });
  logger.info({ url: plane.url, kubeconfig: plane.kubeconfigPath, dataDir: plane.dataDir },
    `no cluster configured: started the embedded control plane; use it with: kubectl --kubeconfig ${plane.kubeconfigPath} ...`);
  return plane;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === 'control-plane') {
    const logger = createLogger({});
    const { runControlPlaneCommand } = await import('../controlplane/index.ts');
    return runControlPlaneCommand(argv.slice(1), logger);
  }
  const loaded = loadConfiguration(argv, env, (p) => readFileSync(p, 'utf8'));
  switch (loaded.kind) {
    case 'help':
      process.stdout.write(loaded.text);
      return 0;
    case 'version':
      process.stdout.write(`${loaded.text}\n`);
      return 0;
    case 'error':
      process.stderr.write(`${loaded.message}\n`);
      return 1;
    case 'write-config':
      for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
      writeFileSync(loaded.path, loaded.yaml);
      process.stderr.write(`wrote the effective configuration to ${loaded.path}\n`);
      return 0;
    case 'run':
      break;
  }
  const config = loaded.config;
  const logger = createLogger({ verbosity: config.logging.verbosity, ...(config.logging.format === undefined ? {} : { format: config.logging.format }) });
  for (const w of loaded.warnings) logger.warn(w);

  if (config.cleanup) {
    try {
      await cleanupAll(logger);
      logger.info('cleanup done');
      return 0;
    } catch (err) {
      logger.error({ err }, 'cleanup failed');
      return 1;
    }
  }

  const ac = new AbortController();
  const onSignal = (sig: string): void => {
    logger.info({ signal: sig }, 'shutting down; programmed rules stay in place');
    ac.abort();
  };
  process.once('SIGINT', () => { onSignal('SIGINT'); });
  process.once('SIGTERM', () => { onSignal('SIGTERM'); });
  try {
    return await run(config, env, logger, ac.signal);
  } catch (err) {
    logger.error({ err }, 'kube-proxy-ts failed');
    return 1;
  } finally {
    ac.abort();
  }
}

async function run(config: EffectiveConfig, env: NodeJS.ProcessEnv, logger: Logger, signal: AbortSignal): Promise<number> {
  const clock = systemClock;
  const nodeName = config.hostnameOverride ?? hostname().trim().toLowerCase();
  const families = nodeFamilies();
  logger.info({ node: nodeName, mode: config.mode, families }, 'starting kube-proxy-ts');

  // Where objects come from: a real cluster if one is configured, else the embedded plane.
  let plane: ControlPlane | undefined;
  const kubeconfig = config.clientConnection.kubeconfig;
  const master = config.clientConnection.master;
  const useCluster = kubeconfig !== undefined || master !== undefined || inCluster(env);
  if (!useCluster) {
    plane = await startEmbedded(config, logger);
    try {
      await registerNode(plane, nodeName, interfaceAddresses(), logger);
    } catch (err) {
      // Nothing else runs yet: the plane's listener would keep the process alive for ever.
      await plane.close();
      throw unreachablePlane(plane.url, err);
    }
  }
  const client = createApiClient({
    ...(plane !== undefined ? { kubeconfigPath: plane.kubeconfigPath } : {}),
    ...(plane === undefined && kubeconfig !== undefined ? { kubeconfigPath: kubeconfig } : {}),
    ...(plane === undefined && master !== undefined ? { master } : {}),
    env,
    userAgent: USER_AGENT,
    qps: config.clientConnection.qps,
    burst: config.clientConnection.burst,
  }, logger.child({ component: 'api' }));

  try {
    // Metrics and health first, so probes answer while the rest starts.
    const registry = new Registry();
    const metrics = createProxyMetrics(registry, { mode: config.mode });
    const health = new ProxyHealth({ clock, healthTimeout: healthTimeoutFor(config.syncPeriodMs) });
    const servers: Promise<unknown>[] = [];
    if (config.healthzBindAddress !== undefined) {
      const hs = new HealthServer({ health, metrics, logger });
      servers.push(hs.listen(config.healthzBindAddress.text, signal));
    }
    if (config.metricsBindAddress !== undefined) {
      const ms = new MetricsServer({ registry, proxyMode: config.mode, configz: () => configz(config), logger });
      servers.push(ms.listen(config.metricsBindAddress.text, signal));
    }
    await Promise.all(servers);

    // The API lists start now, while our Node is fetched and the dataplane set up: at scale they
    // are most of a cold start. Until the sync loop exists, changes only accumulate in the model
    // (the loop is told once it does, below).
    const ref: { loop?: ProxyLoop } = {};
    const state = new ProxyState({
      nodeName, families, logger: logger.child({ component: 'model' }), clock,
      onChange: () => ref.loop?.notifyChange(),
      onNodeChange: (n) => ref.loop?.notifyNode(n),
    });
    const sourceStop = new AbortController();
    const stopSource = (): void => { sourceStop.abort(); };
    signal.addEventListener('abort', stopSource, { once: true });
    // On a cluster, its ServiceCIDR objects give the Service ranges (when the API server serves
    // them); the embedded plane has its configured ones.
    const source = new ApiSource({ client, nodeName, logger: logger.child({ component: 'source' }), clock, serviceCIDRs: plane === undefined });
    const sourceDone = config.initOnly ? Promise.resolve() : source.run(state, sourceStop.signal);
    // Handled here too: it may settle before it is awaited below.
    sourceDone.catch(() => undefined);
    try {
      const node = await fetchNode(client, nodeName, logger);
      const nodeIPs = detectNodeIPs(config.bindAddress.address, node);
      if (nodeIPs.source === 'loopback') logger.warn('cannot determine this node\'s IP, assuming loopback; set --bind-address if this is wrong');
      logger.info({ nodeIPs: nodeIPs.ips, source: nodeIPs.source }, 'node IPs');
      const localAddresses = interfaceAddresses();
      // Service CIDRs: the embedded plane's configured ones; on a cluster, its ServiceCIDR
      // objects once listed (snapshot.serviceCIDRs). Traffic to unallocated IPs in them is dropped.
      const serviceCIDRs = plane === undefined ? [] : config.controlPlane.serviceCIDRs.map((c) => c.text);
      const dataplane = await createDataplane({ config, logger, clock, metrics, nodeIPs: nodeIPs.ips, localAddresses, node, serviceCIDRs, families });

      // healthCheckNodePort servers listen where NodePorts are accepted (upstream: nodePortAddresses).
      const serviceHealth = new ServiceHealthServer({
        addresses: serviceHealthAddresses(config, nodeIPs.ips, localAddresses),
        proxyHealthy: () => health.isHealthy(),
        logger: logger.child({ component: 'service-health' }),
      });
      const loop = new ProxyLoop({
        model: state, dataplane, families, clock, logger: logger.child({ component: 'sync' }), health, metrics,
        minSyncPeriodMs: config.minSyncPeriodMs, syncPeriodMs: config.syncPeriodMs,
        onSynced: (snapshots, full) => {
          syncServiceHealth(serviceHealth, snapshots, full);
          if (full) collectAfterLargeSync(snapshots.reduce((n, f) => n + f.services.size, 0));
        },
        beforeDataplaneSync: (pending) => { collectBeforeLargeSync(pending.services + pending.endpoints); },
      });
      ref.loop = loop;
      // What the source saw meanwhile: our Node (newer than the fetch), and any changes.
      loop.notifyNode(state.node() ?? node);
      loop.notifyChange();
      if (config.initOnly) {
        logger.info('--init-only: initialization done, exiting');
        return 0;
      }
      await Promise.all([loop.start(signal), sourceDone]);
      await serviceHealth.close();
      await dataplane.close();
      return 0;
    } finally {
      signal.removeEventListener('abort', stopSource);
      sourceStop.abort();
      await sourceDone.catch(() => undefined);
    }
  } finally {
    client.close();
    await plane?.close();
  }
}
