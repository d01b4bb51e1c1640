// Public surface of the configuration layer: kube-proxy's flags and KubeProxyConfiguration file
// turned into one typed, validated EffectiveConfig (see load.ts).

export { loadConfiguration, helpText, PROGRAM, KUBE_PROXY_TS_VERSION } from './load.ts';
export { toV1Alpha1, toV1Alpha1YAML, configz, expandNodePortAddresses } from './effective.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { DEFAULTS, PROXY_HEALTHZ_PORT, PROXY_STATUS_PORT } from './defaults.ts';
export type {
  Cidr,
  ConfigError,
  ControlPlaneOptions,
  DetectLocalMode,
  EffectiveConfig,
  HostPort,
  KubeProxyConfiguration,
  LoadResult,
  NodePortAddresses,
  ParsedIP,
  UserspaceAlgorithm,
} from './types.ts';
