// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) as kube-proxy-ts holds it, and the
// effective configuration the composition root consumes.
//
// Field names and meanings mirror upstream's staging/src/k8s.io/kube-proxy/config/v1alpha1/
// types.go. Durations are Go duration strings in YAML ("30s", "1m0s") and milliseconds here.
// Our additions are marked "kube-proxy-ts extension".

import type { ProxyMode } from '../../dataplanes/dataplane.ts';
import type { LogFormat } from '../../util/logger.ts';
import type { Cidr, HostPort, ParsedIP } from './net.ts';

export type { Cidr, HostPort, ParsedIP } from './net.ts';

export const API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KIND = 'KubeProxyConfiguration';
/** Key under which /configz publishes the configuration (upstream's group name). */
export const CONFIGZ_KEY = 'kubeproxy.config.k8s.io';

/** Milliseconds; may be fractional below 1ms ("500us" is 0.5). */
export type DurationMs = number;

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
export const DETECT_LOCAL_MODES: readonly DetectLocalMode[] = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'];

/** kube-proxy-ts extension: how the userspace dataplane picks an endpoint. */
export type UserspaceAlgorithm = 'round-robin' | 'random' | 'least-connections' | 'power-of-two-choices' | 'source-hash';
export const USERSPACE_ALGORITHMS: readonly UserspaceAlgorithm[] = [
  'round-robin',
  'random',
  'least-connections',
  'power-of-two-choices',
  'source-hash',
];

/** Modes accepted in `mode` / --proxy-mode ('' means our default, nftables). */
export const PROXY_MODES: readonly ProxyMode[] = ['nftables', 'iptables', 'userspace'];

/** nodePortAddresses keywords (newest upstream): 'primary', 'localhost', 'all'. */
export const NODE_PORT_KEYWORDS = ['primary', 'localhost', 'all'] as const;

export interface ClientConnectionConfiguration {
  kubeconfig: string;
  acceptContentTypes: string;
  contentType: string;
  qps: number;
  burst: number;
}

export interface IPTablesConfiguration {
  masqueradeBit: number;
  masqueradeAll: boolean;
  localhostNodePorts: boolean;
  /** Newest upstream field; accepted and kept, not acted on. */
  snatNodeInternalIP?: boolean;
  syncPeriod: DurationMs;
  minSyncPeriod: DurationMs;
}

/** Accepted for compatibility; mode ipvs itself is refused (no IPVS in this kernel). */
export interface IPVSConfiguration {
  syncPeriod: DurationMs;
  minSyncPeriod: DurationMs;
  scheduler: string;
  excludeCIDRs: string[];
  strictARP: boolean;
  tcpTimeout: DurationMs;
  tcpFinTimeout: DurationMs;
  udpTimeout: DurationMs;
}

export interface NFTablesConfiguration {
  masqueradeBit: number;
  masqueradeAll: boolean;
  syncPeriod: DurationMs;
  minSyncPeriod: DurationMs;
}

/** Windows only upstream: accepted and ignored. */
export interface WinkernelConfiguration {
  networkName: string;
  sourceVip: string;
  enableDSR: boolean;
  rootHnsEndpointName: string;
  forwardHealthCheckVip: boolean;
}

export interface DetectLocalConfiguration {
  bridgeInterface: string;
  interfaceNamePrefix: string;
}

export interface ConntrackConfiguration {
  maxPerCore: number;
  min: number;
  tcpEstablishedTimeout: DurationMs;
  tcpCloseWaitTimeout: DurationMs;
  tcpBeLiberal: boolean;
  udpTimeout: DurationMs;
  udpStreamTimeout: DurationMs;
}

export interface OutputRoutingOptions {
  splitStream: boolean;
  /** A resource quantity ("0", "64Ki"); kept as text. */
  infoBufferSize: string;
}

/** component-base LoggingConfiguration (the subset with meaning here; the rest is kept). */
export interface LoggingConfiguration {
  /** '' = not set: our logger then picks json, or text on a terminal. */
  format: string;
  flushFrequency: DurationMs;
  verbosity: number;
  vmodule: { filePattern: string; verbosity: number }[];
  options: { text: OutputRoutingOptions; json: OutputRoutingOptions };
}

/** kube-proxy-ts extension. */
export interface UserspaceConfiguration {
  algorithm: string;
  /** Threads accepting and forwarding TCP (the main thread included); 0: the default (1). */
  threads: number;
}

/** The v1alpha1 object after decoding and defaulting (durations in ms). */
export interface KubeProxyConfiguration {
  apiVersion: string;
  kind: string;
  featureGates: Record<string, boolean>;
  clientConnection: ClientConnectionConfiguration;
  logging: LoggingConfiguration;
  hostnameOverride: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  bindAddressHardFail: boolean;
  enableProfiling: boolean;
  showHiddenMetricsForVersion: string;
  /** '' | nftables | iptables | userspace after validation ('' is resolved to nftables). */
  mode: string;
  iptables: IPTablesConfiguration;
  ipvs: IPVSConfiguration;
  nftables: NFTablesConfiguration;
  winkernel: WinkernelConfiguration;
  detectLocalMode: string;
  detectLocal: DetectLocalConfiguration;
  clusterCIDR: string;
  nodePortAddresses: string[];
  oomScoreAdj: number;
  conntrack: ConntrackConfiguration;
  configSyncPeriod: DurationMs;
  /** Deprecated upstream (was the userspace proxy's port range); validated, unused. */
  portRange: string;
  windowsRunAsService: boolean;
  /** kube-proxy-ts extension. */
  userspace: UserspaceConfiguration;
}

export type DeepPartial<T> = {
  [K in keyof T]?: (T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K]) | undefined;
};

export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A configuration file after decoding, before defaulting: absent/null fields are undefined. */
export type KubeProxyConfigurationInput = DeepPartial<KubeProxyConfiguration>;

/** Where NodePorts are served: the node's primary IPs and/or these CIDRs. */
export interface NodePortAddresses {
  readonly primary: boolean;
  /** Explicit CIDRs plus keyword expansions ('all' → 0.0.0.0/0 + ::/0, 'localhost' → 127.0.0.0/8 + ::1/128). */
  readonly cidrs: readonly Cidr[];
}

/** kube-proxy-ts extension: the embedded control plane (flags only, never in the file). */
export interface ControlPlaneOptions {
  /** Any --control-plane-* or --manifests flag was given. */
  readonly requested: boolean;
  readonly listen: HostPort;
  readonly dataDir: string;
  readonly serviceCIDRs: readonly Cidr[];
  /** --manifests DIR; undefined when not given. */
  readonly manifestsDir: string | undefined;
}

export interface EffectiveConfig {
  /** The defaulted, validated object: what --write-config-to and /configz publish. */
  readonly configuration: DeepReadonly<KubeProxyConfiguration>;
  readonly mode: ProxyMode;
  readonly featureGates: Readonly<Record<string, boolean>>;
  readonly clientConnection: {
    /** undefined: neither --kubeconfig nor the file named one. */
    readonly kubeconfig: string | undefined;
    /** --master: overrides the kubeconfig's server URL. */
    readonly master: string | undefined;
    readonly acceptContentTypes: string;
    readonly contentType: string;
    readonly qps: number;
    readonly burst: number;
  };
  /** Trimmed and lower-cased (as upstream's GetHostname); undefined: use the OS hostname. */
  readonly hostnameOverride: string | undefined;
  readonly bindAddress: ParsedIP;
  /** undefined: the health server is disabled. */
  readonly healthzBindAddress: HostPort | undefined;
  /** undefined: the metrics server is disabled. */
  readonly metricsBindAddress: HostPort | undefined;
  readonly bindAddressHardFail: boolean;
  readonly enableProfiling: boolean;
  readonly showHiddenMetricsForVersion: string | undefined;
  /** From the active mode's section (nftables, or iptables for iptables/userspace). */
  readonly syncPeriodMs: number;
  readonly minSyncPeriodMs: number;
  readonly masqueradeBit: number;
  readonly masqueradeAll: boolean;
  /** iptables mode only; always false otherwise. */
  readonly localhostNodePorts: boolean;
  readonly detectLocalMode: DetectLocalMode;
  readonly detectLocal: { readonly bridgeInterface: string; readonly interfaceNamePrefix: string };
  readonly clusterCIDRs: readonly Cidr[];
  readonly nodePortAddresses: NodePortAddresses;
  readonly oomScoreAdj: number;
  readonly conntrack: {
    readonly maxPerCore: number;
    readonly min: number;
    /** 0 = leave the kernel's value as-is (true of all four timeouts). */
    readonly tcpEstablishedTimeoutMs: number;
    readonly tcpCloseWaitTimeoutMs: number;
    readonly tcpBeLiberal: boolean;
    readonly udpTimeoutMs: number;
    readonly udpStreamTimeoutMs: number;
  };
  readonly configSyncPeriodMs: number;
  readonly userspace: { readonly algorithm: UserspaceAlgorithm; readonly threads: number };
  readonly logging: {
    /** undefined: not configured (the logger chooses by whether stderr is a terminal). */
    readonly format: LogFormat | undefined;
    readonly verbosity: number;
    readonly flushFrequencyMs: number;
  };
  /** --config, when given. */
  readonly configFile: string | undefined;
  readonly cleanup: boolean;
  readonly initOnly: boolean;
  readonly controlPlane: ControlPlaneOptions;
}

/** One problem with the configuration or the command line. */
export interface ConfigError {
  /** Field path ("nftables.syncPeriod") or flag ("--iptables-sync-period"). */
  readonly field: string;
  /** The offending value as text, when there is one. */
  readonly value?: string;
  /** The full human-readable line, naming the field and the value. */
  readonly message: string;
}

export type LoadResult =
  | { readonly kind: 'run'; readonly config: EffectiveConfig; readonly warnings: readonly string[] }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string }
  | { readonly kind: 'write-config'; readonly path: string; readonly yaml: string; readonly warnings: readonly string[] }
  | { readonly kind: 'error'; readonly message: string; readonly errors: readonly ConfigError[] };
