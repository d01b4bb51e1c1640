// From the validated KubeProxyConfiguration to the typed EffectiveConfig the rest of the
// program consumes, and back to the v1alpha1 wire shape (--write-config-to, /configz).

import { stringify } from 'yaml';
import type { ProxyMode } from '../../dataplanes/dataplane.ts';
import type { LogFormat } from '../../util/logger.ts';
import { activeSection, DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import type { CommandLineExtras } from './flagparse.ts';
import { parseCIDR, parseDualStackCIDRs, parseHostPort, parseIP, type Cidr, type HostPort } from './net.ts';
import {
  CONFIGZ_KEY,
  type DeepReadonly,
  type DetectLocalMode,
  type EffectiveConfig,
  type KubeProxyConfiguration,
  type NodePortAddresses,
  type OutputRoutingOptions,
  type UserspaceAlgorithm,
} from './types.ts';

/** Thrown when an invariant validation should have ensured does not hold (a bug). */
class NotValidatedError extends Error {
  readonly code = 'ENOTVALIDATED';
}

function hostPort(text: string, what: string): HostPort {
  const hp = parseHostPort(text);
  if ('errors' in hp) throw new NotValidatedError(`${what} ${JSON.stringify(text)} was not validated`);
  return hp;
}

function cidrs(text: string, what: string): Cidr[] {
  if (text === '') return [];
  const r = parseDualStackCIDRs(text, what);
  if ('errors' in r) throw new NotValidatedError(`${what} ${JSON.stringify(text)} was not validated`);
  return r.cidrs;
}

function cidr(text: string): Cidr {
  const c = parseCIDR(text);
  if (c === undefined) throw new NotValidatedError(`CIDR ${JSON.stringify(text)} was not validated`);
  return c;
}

const ALL = ['0.0.0.0/0', '::/0'];
const LOCALHOST = ['127.0.0.0/8', '::1/128'];

/** Expand nodePortAddresses; empty means 'all' (iptables, userspace) — nftables got 'primary' by default. */
export function expandNodePortAddresses(list: readonly string[]): NodePortAddresses {
  const entries = list.length === 0 ? ['all'] : list;
  let primary = false;
  const out = new Map<string, Cidr>();
  for (const e of entries) {
    const texts = e === 'all' ? ALL : e === 'localhost' ? LOCALHOST : e === 'primary' ? [] : [e];
    if (e === 'primary') primary = true;
    for (const t of texts) {
      const c = cidr(t);
      out.set(c.text, c);
    }
  }
  return { primary, cidrs: [...out.values()] };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** Build the (deeply frozen) effective configuration from a validated configuration and extras. */
export function toEffectiveConfig(c: KubeProxyConfiguration, x: CommandLineExtras): EffectiveConfig {
  return deepFreeze(buildEffectiveConfig(c, x));
}

function buildEffectiveConfig(c: KubeProxyConfiguration, x: CommandLineExtras): EffectiveConfig {
  const mode = c.mode as ProxyMode;
  const section = activeSection(mode) === 'nftables' ? c.nftables : c.iptables;
  const bindAddress = parseIP(c.bindAddress);
  if (bindAddress === undefined) throw new NotValidatedError('bindAddress was not validated');
  const trimmedHost = c.hostnameOverride.trim().toLowerCase();
  const configuration: DeepReadonly<KubeProxyConfiguration> = structuredClone(c);
  return {
    configuration,
    mode,
    featureGates: { ...c.featureGates },
    clientConnection: {
      kubeconfig: c.clientConnection.kubeconfig === '' ? undefined : c.clientConnection.kubeconfig,
      master: x.master,
      acceptContentTypes: c.clientConnection.acceptContentTypes,
      contentType: c.clientConnection.contentType,
      qps: c.clientConnection.qps,
      burst: c.clientConnection.burst,
    },
    hostnameOverride: trimmedHost === '' ? undefined : trimmedHost,
    bindAddress,
    healthzBindAddress: c.healthzBindAddress === '' ? undefined : hostPort(c.healthzBindAddress, 'healthzBindAddress'),
    metricsBindAddress: c.metricsBindAddress === '' ? undefined : hostPort(c.metricsBindAddress, 'metricsBindAddress'),
    bindAddressHardFail: c.bindAddressHardFail,
    enableProfiling: c.enableProfiling,
    showHiddenMetricsForVersion: c.showHiddenMetricsForVersion === '' ? undefined : c.showHiddenMetricsForVersion,
    syncPeriodMs: section.syncPeriod,
    minSyncPeriodMs: section.minSyncPeriod,
    masqueradeBit: section.masqueradeBit,
    masqueradeAll: section.masqueradeAll,
    localhostNodePorts: mode === 'iptables' && c.iptables.localhostNodePorts,
    detectLocalMode: c.detectLocalMode as DetectLocalMode,
    detectLocal: { ...c.detectLocal },
    clusterCIDRs: cidrs(c.clusterCIDR, 'clusterCIDR'),
    nodePortAddresses: expandNodePortAddresses(c.nodePortAddresses),
    oomScoreAdj: c.oomScoreAdj,
    conntrack: {
      maxPerCore: c.conntrack.maxPerCore,
      min: c.conntrack.min,
      tcpEstablishedTimeoutMs: c.conntrack.tcpEstablishedTimeout,
      tcpCloseWaitTimeoutMs: c.conntrack.tcpCloseWaitTimeout,
      tcpBeLiberal: c.conntrack.tcpBeLiberal,
      udpTimeoutMs: c.conntrack.udpTimeout,
      udpStreamTimeoutMs: c.conntrack.udpStreamTimeout,
    },
    configSyncPeriodMs: c.configSyncPeriod,
    userspace: { algorithm: c.userspace.algorithm as UserspaceAlgorithm, threads: c.userspace.threads },
    logging: {
      format: c.logging.format === '' ? undefined : (c.logging.format as LogFormat),
      verbosity: c.logging.verbosity,
      flushFrequencyMs: c.logging.flushFrequency,
    },
    configFile: x.configFile,
    cleanup: x.cleanup,
    initOnly: x.initOnly,
    controlPlane: {
      requested: x.controlPlaneRequested,
      listen: hostPort(x.controlPlaneListen, '--control-plane-listen'),
      dataDir: x.controlPlaneDataDir,
      serviceCIDRs: cidrs(x.controlPlaneServiceCIDR, '--control-plane-service-cidr'),
      manifestsDir: x.manifestsDir,
    },
  };
}

// ---- serialization ----

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, Json> = {};
  for (const k of Object.keys(v).sort()) {
    const child = v[k];
    if (child !== undefined) out[k] = sortKeys(child);
  }
  return out;
}

const list = (l: readonly string[]): Json => (l.length === 0 ? null : [...l]);

function routing(o: DeepReadonly<OutputRoutingOptions>): Json {
  return o.splitStream ? { splitStream: true, infoBufferSize: o.infoBufferSize } : { infoBufferSize: o.infoBufferSize };
}

/**
 * The configuration in the v1alpha1 JSON shape (keys sorted as Go's encoder sorts them,
 * durations as Go strings, empty lists as null, omitempty fields omitted). The `userspace`
 * section (ours) is written only when it says something: mode userspace or a non-default
 * algorithm, so the default output stays loadable by upstream kube-proxy.
 */
export function toV1Alpha1(c: DeepReadonly<KubeProxyConfiguration>): { [k: string]: Json } {
  const d = formatDuration;
  const iptables: { [k: string]: Json } = {
    localhostNodePorts: c.iptables.localhostNodePorts,
    masqueradeAll: c.iptables.masqueradeAll,
    masqueradeBit: c.iptables.masqueradeBit,
    minSyncPeriod: d(c.iptables.minSyncPeriod),
    syncPeriod: d(c.iptables.syncPeriod),
  };
  if (c.iptables.snatNodeInternalIP !== undefined) iptables['snatNodeInternalIP'] = c.iptables.snatNodeInternalIP;
  const logging: { [k: string]: Json } = {
    flushFrequency: d(c.logging.flushFrequency),
    options: { json: routing(c.logging.options.json), text: routing(c.logging.options.text) },
    verbosity: c.logging.verbosity,
  };
  if (c.logging.format !== '') logging['format'] = c.logging.format;
  if (c.logging.vmodule.length > 0) logging['vmodule'] = c.logging.vmodule.map((v) => ({ filePattern: v.filePattern, verbosity: v.verbosity }));
  const out: { [k: string]: Json } = {
    apiVersion: c.apiVersion,
    kind: c.kind,
    bindAddress: c.bindAddress,
    bindAddressHardFail: c.bindAddressHardFail,
    clientConnection: { ...c.clientConnection },
    clusterCIDR: c.clusterCIDR,
    configSyncPeriod: d(c.configSyncPeriod),
    conntrack: {
      maxPerCore: c.conntrack.maxPerCore,
      min: c.conntrack.min,
      tcpBeLiberal: c.conntrack.tcpBeLiberal,
      tcpCloseWaitTimeout: d(c.conntrack.tcpCloseWaitTimeout),
      tcpEstablishedTimeout: d(c.conntrack.tcpEstablishedTimeout),
      udpStreamTimeout: d(c.conntrack.udpStreamTimeout),
      udpTimeout: d(c.conntrack.udpTimeout),
    },
    detectLocal: { ...c.detectLocal },
    detectLocalMode: c.detectLocalMode,
    enableProfiling: c.enableProfiling,
    healthzBindAddress: c.healthzBindAddress,
    hostnameOverride: c.hostnameOverride,
    iptables,
    ipvs: {
      excludeCIDRs: list(c.ipvs.excludeCIDRs),
      minSyncPeriod: d(c.ipvs.minSyncPeriod),
      scheduler: c.ipvs.scheduler,
      strictARP: c.ipvs.strictARP,
      syncPeriod: d(c.ipvs.syncPeriod),
      tcpFinTimeout: d(c.ipvs.tcpFinTimeout),
      tcpTimeout: d(c.ipvs.tcpTimeout),
      udpTimeout: d(c.ipvs.udpTimeout),
    },
    logging,
    metricsBindAddress: c.metricsBindAddress,
    mode: c.mode,
    nftables: {
      masqueradeAll: c.nftables.masqueradeAll,
      masqueradeBit: c.nftables.masqueradeBit,
      minSyncPeriod: d(c.nftables.minSyncPeriod),
      syncPeriod: d(c.nftables.syncPeriod),
    },
    nodePortAddresses: list(c.nodePortAddresses),
    oomScoreAdj: c.oomScoreAdj,
    portRange: c.portRange,
    showHiddenMetricsForVersion: c.showHiddenMetricsForVersion,
    winkernel: { ...c.winkernel },
  };
  if (Object.keys(c.featureGates).length > 0) out['featureGates'] = { ...c.featureGates };
  if (c.windowsRunAsService) out['windowsRunAsService'] = true;
  if (c.mode === 'userspace' || c.userspace.algorithm !== DEFAULTS.userspaceAlgorithm || c.userspace.threads !== DEFAULTS.userspaceThreads) {
    out['userspace'] = { algorithm: c.userspace.algorithm, threads: c.userspace.threads };
  }
  const sorted = sortKeys(out);
  return sorted !== null && typeof sorted === 'object' && !Array.isArray(sorted) ? sorted : {};
}

/** The configuration as KubeProxyConfiguration YAML (what --write-config-to writes). */
export function toV1Alpha1YAML(c: DeepReadonly<KubeProxyConfiguration>): string {
  // YAML 1.1 so that strings such as "on"/"no" are quoted: we read files with 1.1 rules.
  return stringify(toV1Alpha1(c), { version: '1.1', lineWidth: 0, indentSeq: false });
}

/** The body upstream serves at /configz: the configuration under its API group name. */
export function configz(config: EffectiveConfig): { [k: string]: Json } {
  return { [CONFIGZ_KEY]: toV1Alpha1(config.configuration) };
}
