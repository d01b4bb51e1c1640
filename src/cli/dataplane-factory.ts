// Builds the dataplane for the configured mode with its real side-effect ports (nft binary,
// conntrack tool) and adapts its metrics hooks to the upstream-named Prometheus metrics.

import type { EffectiveConfig } from './config/index.ts';
import type { Dataplane } from '../dataplanes/dataplane.ts';
import { ConntrackCli } from '../dataplanes/conntrack/conntrack.ts';
import type { LocalDetector, NodePortAddresses } from '../dataplanes/nftables/options.ts';
import type { NftablesMetrics } from '../dataplanes/nftables/metrics.ts';
import { NftablesDataplane } from '../dataplanes/nftables/nftables-dataplane.ts';
import { probeNftables } from '../dataplanes/nftables/probe.ts';
import { SpawnNftRunner } from '../dataplanes/nftables/runner.ts';
import { UserspaceDataplane, cleanupUserspaceTables } from '../dataplanes/userspace/userspace-dataplane.ts';
import { createUserspaceMetrics } from '../server/userspace-metrics.ts';
import type { IPFamily, NodeInfo } from '../model/types.ts';
import type { ProxyMetrics } from '../server/metrics.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';

export interface DataplaneDeps {
  readonly config: EffectiveConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: ProxyMetrics;
  readonly nodeIPs: readonly string[];
  readonly localAddresses: readonly string[];
  readonly node: NodeInfo | undefined;
  readonly families: readonly IPFamily[];
  /** Service CIDRs, when known: traffic to unallocated IPs in them is dropped. */
  readonly serviceCIDRs?: readonly string[];
}

export function localDetectorFor(config: EffectiveConfig, node: NodeInfo | undefined): LocalDetector {
  switch (config.detectLocalMode) {
    case 'ClusterCIDR':
      return { mode: 'ClusterCIDR', cidrs: config.clusterCIDRs.map((c) => c.text) };
    case 'NodeCIDR':
      return { mode: 'NodeCIDR', cidrs: node?.podCIDRs ?? [] };
    case 'BridgeInterface':
      return { mode: 'BridgeInterface', interfaceName: config.detectLocal.bridgeInterface };
    case 'InterfaceNamePrefix':
      return { mode: 'InterfaceNamePrefix', prefix: config.detectLocal.interfaceNamePrefix };
  }
}

export function nodePortAddressesFor(config: EffectiveConfig): NodePortAddresses {
  const npa = config.nodePortAddresses;
  if (npa.cidrs.length === 0) return { kind: 'primary' };
  if (npa.cidrs.some((c) => c.text === '0.0.0.0/0') && npa.cidrs.some((c) => c.text === '::/0')) return { kind: 'all' };
  return { kind: 'cidrs', cidrs: npa.cidrs.map((c) => c.text) };
}

function nftablesMetrics(m: ProxyMetrics, families: readonly IPFamily[]): NftablesMetrics {
  return {
    // One transaction covers every family: a failure is a failure of each.
    syncFailed: () => { for (const f of families) m.nftablesSyncFailuresTotal.inc({ ip_family: f }); },
    cleanupFailed: () => { for (const f of families) m.nftablesCleanupFailuresTotal.inc({ ip_family: f }); },
    // Durations are observed by the proxy loop, once per sync and family.
    synced: (r) => {
      m.nftablesChains.set({ ip_family: r.family }, r.chains);
      m.nftablesElements.set({ ip_family: r.family }, r.elements);
      m.nftablesOperationsLast.set({ ip_family: r.family }, r.operations);
    },
    noLocalEndpoints: (family, policy, count) => {
      m.syncProxyRulesNoLocalEndpointsTotal.set({ ip_family: family, traffic_policy: policy === 'internal' ? 'internal' : 'external' }, count);
    },
    phases: (kind, p) => {
      for (const [phase, seconds] of [['render', p.render], ['plan', p.plan], ['kernel_read', p.kernelRead], ['apply', p.apply], ['cleanup', p.cleanup]] as const) {
        m.syncPhaseLast.set({ kind, phase }, seconds);
        m.syncPhaseTotal.inc({ kind, phase }, seconds);
      }
    },
    kernelRead: () => undefined,
    conntrackEntriesDeleted: (family, count) => { m.reconcileConntrackFlowsDeletedEntriesTotal.inc({ ip_family: family }, count); },
  };
}

/** The dataplane for `config.mode`, after probing that the node can run it. */
export async function createDataplane(deps: DataplaneDeps): Promise<Dataplane> {
  const { config, logger, clock } = deps;
  switch (config.mode) {
    case 'nftables': {
      const runner = new SpawnNftRunner();
      await probeNftables(runner);
      return new NftablesDataplane({
        runner,
        logger: logger.child({ dataplane: 'nftables' }),
        clock,
        metrics: nftablesMetrics(deps.metrics, deps.families),
        conntrack: new ConntrackCli(),
        render: {
          masqueradeAll: config.masqueradeAll,
          masqueradeBit: config.masqueradeBit,
          localDetector: localDetectorFor(config, deps.node),
          nodePortAddresses: nodePortAddressesFor(config),
          nodeIPs: deps.nodeIPs,
          localAddresses: deps.localAddresses,
          serviceCIDRs: deps.serviceCIDRs ?? [],
        },
      });
    }
    case 'userspace': {
      // As root, nftables redirects steer every entry point to our listeners; without root only
      // NodePorts (and local addresses) can be served, and the rest is reported once.
      let redirect: { runner: SpawnNftRunner; conntrack: ConntrackCli } | undefined;
      if (process.getuid?.() === 0) {
        const runner = new SpawnNftRunner();
        await probeNftables(runner);
        redirect = { runner, conntrack: new ConntrackCli() };
      } else {
        logger.warn('not running as root: userspace mode serves NodePorts and local addresses only (no nftables redirects)');
      }
      return new UserspaceDataplane({
        logger: logger.child({ dataplane: 'userspace' }),
        clock,
        algorithm: config.userspace.algorithm,
        threads: config.userspace.threads,
        redirect,
        nodeIPs: deps.nodeIPs,
        localAddresses: deps.localAddresses,
        nodePortAddresses: nodePortAddressesFor(config),
        metrics: createUserspaceMetrics(deps.metrics.registry),
      });
    }
    case 'iptables':
      throw Object.assign(new Error(`proxy mode ${config.mode} is not implemented yet; use --proxy-mode=nftables or userspace`), { code: 'MODE_UNAVAILABLE' });
  }
}

/** `--cleanup`: remove everything any of our dataplanes may have created. */
export async function cleanupAll(logger: Logger): Promise<void> {
  const runner = new SpawnNftRunner();
  const nft = new NftablesDataplane({ runner, logger, render: {} });
  await nft.cleanup();
  await cleanupUserspaceTables(runner);
}
