// Defaulting, as upstream's pkg/proxy/apis/config/v1alpha1/defaults.go (SetDefaults_*) followed
// by cmd/kube-proxy/app/server_linux.go platformApplyDefaults. As upstream, an unset pointer
// field (null/absent) or a zero-valued plain field takes the default; so `syncPeriod: 0s` in a
// file means 30s, while `--iptables-min-sync-period=0` (a flag, applied after defaulting) is 0.

import { parseIP } from './net.ts';
import type { KubeProxyConfiguration, KubeProxyConfigurationInput, OutputRoutingOptions } from './types.ts';
import { API_VERSION, KIND } from './types.ts';

export const PROXY_HEALTHZ_PORT = 10256;
export const PROXY_STATUS_PORT = 10249;
/** qos.KubeProxyOOMScoreAdj */
export const KUBE_PROXY_OOM_SCORE_ADJ = -999;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const DEFAULTS = {
  bindAddress: '0.0.0.0',
  syncPeriod: 30 * SECOND,
  minSyncPeriod: 1 * SECOND,
  masqueradeBit: 14,
  conntrackMaxPerCore: 32 * 1024,
  conntrackMin: 128 * 1024,
  tcpEstablishedTimeout: 24 * HOUR,
  tcpCloseWaitTimeout: 1 * HOUR,
  configSyncPeriod: 15 * MINUTE,
  contentType: 'application/vnd.kubernetes.protobuf',
  qps: 5,
  burst: 10,
  logFlushFrequency: 5 * SECOND,
  userspaceAlgorithm: 'round-robin',
  userspaceThreads: 1,
  /**
   * DIVERGENCE from upstream: upstream's default proxy mode on Linux is iptables. Ours is
   * nftables (upstream's recommended mode since it went GA in 1.33; our primary dataplane).
   * A blank `mode` therefore reads the `nftables` section, not `iptables`.
   */
  mode: 'nftables',
  detectLocalMode: 'ClusterCIDR',
} as const;

/** Upstream getDefaultAddresses: IPv4 (or unparseable-as-IPv6) bind address → IPv4 defaults. */
export function defaultServerAddresses(bindAddress: string): { healthz: string; metrics: string } {
  const ip = parseIP(bindAddress);
  if (ip?.family === 'IPv6') return { healthz: `[::]:${PROXY_HEALTHZ_PORT}`, metrics: `[::1]:${PROXY_STATUS_PORT}` };
  if (ip === undefined && bindAddress.includes(':')) {
    return { healthz: `[::]:${PROXY_HEALTHZ_PORT}`, metrics: `[::1]:${PROXY_STATUS_PORT}` };
  }
  return { healthz: `0.0.0.0:${PROXY_HEALTHZ_PORT}`, metrics: `127.0.0.1:${PROXY_STATUS_PORT}` };
}

function appendPort(addr: string, port: number): string {
  // proxyutil.AppendPortIfNeeded, inlined to keep defaults free of validation concerns.
  const ip = parseIP(addr);
  if (ip === undefined) return addr;
  return ip.family === 'IPv4' ? `${addr}:${port}` : `[${addr}]:${port}`;
}

function nonZero(v: number | undefined, d: number): number {
  return v === undefined || v === 0 ? d : v;
}

function nonEmpty(v: string | undefined, d: string): string {
  return v === undefined || v === '' ? d : v;
}

function routing(o: { splitStream?: boolean | undefined; infoBufferSize?: string | undefined } | undefined): OutputRoutingOptions {
  return { splitStream: o?.splitStream ?? false, infoBufferSize: nonEmpty(o?.infoBufferSize, '0') };
}

/** SetDefaults_KubeProxyConfiguration, on a decoded (partial) object. Returns a new object. */
export function applyDefaults(input: KubeProxyConfigurationInput): KubeProxyConfiguration {
  const bindAddress = nonEmpty(input.bindAddress, DEFAULTS.bindAddress);
  const addrs = defaultServerAddresses(bindAddress);
  const healthz = input.healthzBindAddress ?? '';
  const metrics = input.metricsBindAddress ?? '';
  const cc = input.clientConnection;
  const ipt = input.iptables;
  const ipvs = input.ipvs;
  const nft = input.nftables;
  const wk = input.winkernel;
  const ct = input.conntrack;
  const lg = input.logging;
  const iptables: KubeProxyConfiguration['iptables'] = {
    masqueradeBit: ipt?.masqueradeBit ?? DEFAULTS.masqueradeBit,
    masqueradeAll: ipt?.masqueradeAll ?? false,
    localhostNodePorts: ipt?.localhostNodePorts ?? true,
    syncPeriod: nonZero(ipt?.syncPeriod, DEFAULTS.syncPeriod),
    minSyncPeriod: nonZero(ipt?.minSyncPeriod, DEFAULTS.minSyncPeriod),
  };
  if (ipt?.snatNodeInternalIP !== undefined) iptables.snatNodeInternalIP = ipt.snatNodeInternalIP;
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    featureGates: { ...(input.featureGates ?? {}) } as Record<string, boolean>,
    clientConnection: {
      kubeconfig: cc?.kubeconfig ?? '',
      acceptContentTypes: cc?.acceptContentTypes ?? '',
      contentType: nonEmpty(cc?.contentType, DEFAULTS.contentType),
      qps: nonZero(cc?.qps, DEFAULTS.qps),
      burst: nonZero(cc?.burst, DEFAULTS.burst),
    },
    logging: {
      format: lg?.format ?? '',
      flushFrequency: nonZero(lg?.flushFrequency, DEFAULTS.logFlushFrequency),
      verbosity: lg?.verbosity ?? 0,
      vmodule: [...(lg?.vmodule ?? [])],
      options: { text: routing(lg?.options?.text), json: routing(lg?.options?.json) },
    },
    hostnameOverride: input.hostnameOverride ?? '',
    bindAddress,
    healthzBindAddress: healthz === '' ? addrs.healthz : appendPort(healthz, PROXY_HEALTHZ_PORT),
    metricsBindAddress: metrics === '' ? addrs.metrics : appendPort(metrics, PROXY_STATUS_PORT),
    bindAddressHardFail: input.bindAddressHardFail ?? false,
    enableProfiling: input.enableProfiling ?? false,
    showHiddenMetricsForVersion: input.showHiddenMetricsForVersion ?? '',
    mode: input.mode ?? '',
    iptables,
    ipvs: {
      syncPeriod: nonZero(ipvs?.syncPeriod, DEFAULTS.syncPeriod),
      minSyncPeriod: ipvs?.minSyncPeriod ?? 0,
      scheduler: ipvs?.scheduler ?? '',
      excludeCIDRs: [...(ipvs?.excludeCIDRs ?? [])],
      strictARP: ipvs?.strictARP ?? false,
      tcpTimeout: ipvs?.tcpTimeout ?? 0,
      tcpFinTimeout: ipvs?.tcpFinTimeout ?? 0,
      udpTimeout: ipvs?.udpTimeout ?? 0,
    },
    nftables: {
      masqueradeBit: nft?.masqueradeBit ?? DEFAULTS.masqueradeBit,
      masqueradeAll: nft?.masqueradeAll ?? false,
      syncPeriod: nonZero(nft?.syncPeriod, DEFAULTS.syncPeriod),
      minSyncPeriod: nonZero(nft?.minSyncPeriod, DEFAULTS.minSyncPeriod),
    },
    winkernel: {
      networkName: wk?.networkName ?? '',
      sourceVip: wk?.sourceVip ?? '',
      enableDSR: wk?.enableDSR ?? false,
      rootHnsEndpointName: wk?.rootHnsEndpointName ?? '',
      forwardHealthCheckVip: wk?.forwardHealthCheckVip ?? false,
    },
    detectLocalMode: input.detectLocalMode ?? '',
    detectLocal: {
      bridgeInterface: input.detectLocal?.bridgeInterface ?? '',
      interfaceNamePrefix: input.detectLocal?.interfaceNamePrefix ?? '',
    },
    clusterCIDR: input.clusterCIDR ?? '',
    nodePortAddresses: [...(input.nodePortAddresses ?? [])],
    oomScoreAdj: input.oomScoreAdj ?? KUBE_PROXY_OOM_SCORE_ADJ,
    conntrack: {
      maxPerCore: ct?.maxPerCore ?? DEFAULTS.conntrackMaxPerCore,
      min: ct?.min ?? DEFAULTS.conntrackMin,
      tcpEstablishedTimeout: ct?.tcpEstablishedTimeout ?? DEFAULTS.tcpEstablishedTimeout,
      tcpCloseWaitTimeout: ct?.tcpCloseWaitTimeout ?? DEFAULTS.tcpCloseWaitTimeout,
      tcpBeLiberal: ct?.tcpBeLiberal ?? false,
      udpTimeout: ct?.udpTimeout ?? 0,
      udpStreamTimeout: ct?.udpStreamTimeout ?? 0,
    },
    configSyncPeriod: nonZero(input.configSyncPeriod, DEFAULTS.configSyncPeriod),
    portRange: input.portRange ?? '',
    windowsRunAsService: input.windowsRunAsService ?? false,
    userspace: {
      algorithm: nonEmpty(input.userspace?.algorithm, DEFAULTS.userspaceAlgorithm),
      threads: nonZero(input.userspace?.threads, DEFAULTS.userspaceThreads),
    },
  };
}

/** The defaults alone: what an empty file (or no file) yields before flags. */
export function defaultConfiguration(): KubeProxyConfiguration {
  return applyDefaults({});
}

/**
 * platformApplyDefaults (Linux), run after the file and flags are merged: a blank mode becomes
 * our default (nftables — see DEFAULTS.mode), nftables with no nodePortAddresses serves
 * NodePorts on the node's primary IPs, a blank detectLocalMode becomes ClusterCIDR.
 */
export function applyPlatformDefaults(cfg: KubeProxyConfiguration): void {
  if (cfg.mode === '') cfg.mode = DEFAULTS.mode;
  if (cfg.mode === 'nftables' && cfg.nodePortAddresses.length === 0) cfg.nodePortAddresses = ['primary'];
  if (cfg.detectLocalMode === '') cfg.detectLocalMode = DEFAULTS.detectLocalMode;
}

/** The section whose syncPeriod/minSyncPeriod/masqueradeAll the mode uses (upstream conversion.go). */
export function activeSection(mode: string): 'nftables' | 'iptables' | 'ipvs' {
  if (mode === 'ipvs') return 'ipvs';
  if (mode === 'nftables' || mode === '') return 'nftables';
  return 'iptables';
}
