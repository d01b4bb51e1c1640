// Validation of the merged, defaulted configuration, after upstream's
// pkg/proxy/apis/config/validation/validation.go. Every problem is collected (never only the
// first); field paths use the v1alpha1 names ("nftables.syncPeriod"), as upstream's newest
// validation reports them. Values are shown as they were written (durations as Go strings).
//
// Differences from upstream, on purpose:
// - mode: 'ipvs' is refused (no IPVS in this kernel); 'userspace' is ours; blank means nftables.
// - nftables.masqueradeBit is range-checked whatever the mode (upstream: only in nftables mode).
// - clusterCIDR is checked whenever it is set (upstream: only with detectLocalMode ClusterCIDR).
// - nodePortAddresses takes the newest upstream keywords 'primary', 'localhost', 'all' in any
//   combination with CIDRs.
// - showHiddenMetricsForVersion: only its <major>.<minor> form is checked (we have no
//   Kubernetes release to compare it with).
// - featureGates: names we do not know are a warning, not an error (we cannot track every
//   upstream gate; unknown ones have no effect here).
// - healthz/metricsBindAddress may be "" (disabled, via the flags), see flags.ts.

import { activeSection } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { invalid, unsupported } from './errors.ts';
import { parseCIDR, parseDualStackCIDRs, parseHostPort, parseIP } from './net.ts';
import {
  DETECT_LOCAL_MODES,
  NODE_PORT_KEYWORDS,
  PROXY_MODES,
  USERSPACE_ALGORITHMS,
  type ConfigError,
  type KubeProxyConfiguration,
} from './types.ts';

/** Feature gates with a meaning for kube-proxy (upstream names). Others draw a warning. */
export const KNOWN_FEATURE_GATES: ReadonlySet<string> = new Set([
  'AllAlpha',
  'AllBeta',
  'ComponentFlagz',
  'ComponentStatusz',
  'ContextualLogging',
  'KubeProxyDrainingTerminatingNodes',
  'LoggingAlphaOptions',
  'LoggingBetaOptions',
  'MultiCIDRServiceAllocator',
  'NFTablesProxyMode',
  'PreferSameTrafficDistribution',
  'ServiceTrafficDistribution',
  'TopologyAwareHints',
]);

const dur = formatDuration;

function validateSync(errs: ConfigError[], section: string, syncPeriod: number, minSyncPeriod: number): void {
  if (syncPeriod <= 0) errs.push(invalid(`${section}.syncPeriod`, dur(syncPeriod), 'must be greater than 0'));
  if (minSyncPeriod < 0) errs.push(invalid(`${section}.minSyncPeriod`, dur(minSyncPeriod), 'must be greater than or equal to 0'));
  if (minSyncPeriod > syncPeriod) {
    errs.push(invalid(`${section}.syncPeriod`, dur(syncPeriod), `must be greater than or equal to ${section}.minSyncPeriod (${dur(minSyncPeriod)})`));
  }
}

function validateMasqueradeBit(errs: ConfigError[], path: string, bit: number): void {
  if (bit < 0 || bit > 31) errs.push(invalid(path, bit, 'must be within the range [0, 31]'));
}

function nonNegativeDuration(errs: ConfigError[], path: string, v: number): void {
  if (v < 0) errs.push(invalid(path, dur(v), 'must be greater than or equal to 0'));
}

function validateHostPortField(errs: ConfigError[], path: string, text: string): void {
  const hp = parseHostPort(text);
  if ('errors' in hp) for (const e of hp.errors) errs.push(invalid(path, e.value, e.detail));
}

/** utilnet.ParsePortRange: "", "N", "A-B" or "B+OFFSET" within [0, 65535]. */
export function validPortRange(text: string): boolean {
  const s = text.trim();
  if (s === '') return true;
  const m = /^(\d+)(?:([-+])(\d+))?$/.exec(s);
  if (m === null) return false;
  const a = Number(m[1]);
  const b = m[3] === undefined ? undefined : Number(m[3]);
  if (a > 65535) return false;
  if (b === undefined) return true;
  return m[2] === '-' ? b <= 65535 && b >= a : a + b <= 65535;
}

function validateMode(errs: ConfigError[], mode: string): void {
  if ((PROXY_MODES as readonly string[]).includes(mode)) return;
  if (mode === 'ipvs') {
    errs.push(invalid('mode', mode, 'IPVS is not supported by kube-proxy-ts (this kernel has no IPVS); use "nftables" (the default), "iptables" or "userspace"'));
  } else if (mode === 'kernelspace') {
    errs.push(invalid('mode', mode, 'kernelspace is the Windows proxy mode; kube-proxy-ts supports "nftables" (the default), "iptables" and "userspace"'));
  } else {
    errs.push(unsupported('mode', mode, [...PROXY_MODES, '']));
  }
}

/** Validate the merged configuration. Returns errors; appends non-fatal notes to `warnings`. */
export function validateConfiguration(c: KubeProxyConfiguration, warnings: string[]): ConfigError[] {
  const errs: ConfigError[] = [];

  for (const name of Object.keys(c.featureGates)) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) errs.push(invalid('featureGates', name, 'unrecognized feature gate'));
    else if (!KNOWN_FEATURE_GATES.has(name)) warnings.push(`featureGates: unrecognized feature gate ${JSON.stringify(name)} (ignored by kube-proxy-ts)`);
  }
  if (c.featureGates['NFTablesProxyMode'] === false) {
    errs.push(invalid('featureGates', 'NFTablesProxyMode=false', 'cannot set feature gate NFTablesProxyMode to false, feature is locked to true'));
  }

  validateMode(errs, c.mode);
  validateMasqueradeBit(errs, 'iptables.masqueradeBit', c.iptables.masqueradeBit);
  validateMasqueradeBit(errs, 'nftables.masqueradeBit', c.nftables.masqueradeBit);
  const section = activeSection(c.mode);
  if (section !== 'ipvs') validateSync(errs, section, c[section].syncPeriod, c[section].minSyncPeriod);

  const ct = c.conntrack;
  if (ct.maxPerCore < 0) errs.push(invalid('conntrack.maxPerCore', ct.maxPerCore, 'must be greater than or equal to 0'));
  if (ct.min < 0) errs.push(invalid('conntrack.min', ct.min, 'must be greater than or equal to 0'));
  nonNegativeDuration(errs, 'conntrack.tcpEstablishedTimeout', ct.tcpEstablishedTimeout);
  nonNegativeDuration(errs, 'conntrack.tcpCloseWaitTimeout', ct.tcpCloseWaitTimeout);
  nonNegativeDuration(errs, 'conntrack.udpTimeout', ct.udpTimeout);
  nonNegativeDuration(errs, 'conntrack.udpStreamTimeout', ct.udpStreamTimeout);
  if (c.oomScoreAdj < -1000 || c.oomScoreAdj > 1000) errs.push(invalid('oomScoreAdj', c.oomScoreAdj, 'must be within the range [-1000, 1000]'));

  if (c.clientConnection.burst < 0) errs.push(invalid('clientConnection.burst', c.clientConnection.burst, 'must be greater than or equal to 0'));
  if (!Number.isFinite(c.clientConnection.qps)) errs.push(invalid('clientConnection.qps', c.clientConnection.qps, 'must be a finite number'));
  if (c.configSyncPeriod <= 0) errs.push(invalid('configSyncPeriod', dur(c.configSyncPeriod), 'must be greater than 0'));

  if (parseIP(c.bindAddress) === undefined) errs.push(invalid('bindAddress', c.bindAddress, 'not a valid textual representation of an IP address'));
  if (c.healthzBindAddress !== '') validateHostPortField(errs, 'healthzBindAddress', c.healthzBindAddress);
  if (c.metricsBindAddress !== '') validateHostPortField(errs, 'metricsBindAddress', c.metricsBindAddress);
  if (c.hostnameOverride !== '' && c.hostnameOverride.trim() === '') errs.push(invalid('hostnameOverride', c.hostnameOverride, 'must not be blank'));

  if (!validPortRange(c.portRange)) errs.push(invalid('portRange', c.portRange, 'must be a valid port range (e.g. 300-2000)'));

  c.nodePortAddresses.forEach((a, i) => {
    if (!(NODE_PORT_KEYWORDS as readonly string[]).includes(a) && parseCIDR(a) === undefined) {
      errs.push(invalid(`nodePortAddresses[${i}]`, a, `must be a valid CIDR or one of ${NODE_PORT_KEYWORDS.map((k) => `'${k}'`).join(', ')}`));
    }
  });

  if (c.showHiddenMetricsForVersion !== '' && !/^\d+\.\d+$/.test(c.showHiddenMetricsForVersion)) {
    errs.push(invalid('showHiddenMetricsForVersion', c.showHiddenMetricsForVersion, "must be in the format <major>.<minor>, e.g. '1.16'"));
  }

  if (!(DETECT_LOCAL_MODES as readonly string[]).includes(c.detectLocalMode)) {
    errs.push(unsupported('detectLocalMode', c.detectLocalMode, [...DETECT_LOCAL_MODES, '']));
  } else if (c.detectLocalMode === 'BridgeInterface' && c.detectLocal.bridgeInterface === '') {
    errs.push(invalid('detectLocal.bridgeInterface', '', 'must not be empty (detectLocalMode is BridgeInterface)'));
  } else if (c.detectLocalMode === 'InterfaceNamePrefix' && c.detectLocal.interfaceNamePrefix === '') {
    errs.push(invalid('detectLocal.interfaceNamePrefix', '', 'must not be empty (detectLocalMode is InterfaceNamePrefix)'));
  }
  if (c.clusterCIDR !== '') {
    const r = parseDualStackCIDRs(c.clusterCIDR, 'clusterCIDR');
    if ('errors' in r) for (const e of r.errors) errs.push(invalid(e.field, e.value, e.detail));
  }

  if (!['', 'text', 'json'].includes(c.logging.format)) errs.push(unsupported('logging.format', c.logging.format, ['json', 'text']));
  if (c.logging.flushFrequency < 0) errs.push(invalid('logging.flushFrequency', dur(c.logging.flushFrequency), 'must be greater than or equal to 0'));

  if (!(USERSPACE_ALGORITHMS as readonly string[]).includes(c.userspace.algorithm)) {
    errs.push(unsupported('userspace.algorithm', c.userspace.algorithm, USERSPACE_ALGORITHMS));
  }
  if (!Number.isInteger(c.userspace.threads) || c.userspace.threads < 1 || c.userspace.threads > 256) {
    errs.push(invalid('userspace.threads', String(c.userspace.threads), 'must be an integer from 1 to 256'));
  }
  return errs;
}
