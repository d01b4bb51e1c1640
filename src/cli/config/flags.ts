// kube-proxy's command-line flags (upstream cmd/kube-proxy/app/options.go plus component-base
// logging and version flags), with upstream names, types, defaults and help, and our additions.
//
// Mapping onto the configuration follows upstream: --iptables-sync-period and
// --iptables-min-sync-period set the sync periods of the *active* mode (so nftables.* in nftables
// mode; upstream sets the internal SyncPeriod, which conversion puts in the mode's section);
// --masquerade-all likewise sets nftables.masqueradeAll in nftables mode, iptables.masqueradeAll
// otherwise; --iptables-masquerade-bit sets only iptables.masqueradeBit (upstream's nftables
// proxier reads nftables.masqueradeBit, which no flag sets).
//
// DIVERGENCE: upstream ignores every flag except logging flags and --hostname-override when
// --config is given ("This parameter is ignored if a config file is specified by --config").
// Here flags given explicitly on the command line override the file.

import { activeSection, PROXY_HEALTHZ_PORT, PROXY_STATUS_PORT } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { invalid } from './errors.ts';
import { bool, defineFlag, duration, field, int32, ipPortValue, ipValue, mark, parseFloat32, parseMapStringBool, parseStringSlice, str, type Cfg, type Flag } from './flagparse.ts';
import { appendPortIfNeeded } from './net.ts';
import { LOGGING_FLAGS, OUR_FLAGS } from './flags-extra.ts';

const syncSection = (c: Cfg): 'nftables' | 'iptables' | 'ipvs' => activeSection(c.mode);
const masqSection = (c: Cfg): 'nftables' | 'iptables' => (activeSection(c.mode) === 'nftables' ? 'nftables' : 'iptables');

const UPSTREAM_FLAGS: readonly Flag[] = [
  defineFlag<string>({ name: 'config', type: 'string', phase: 'pre', usage: 'The path to the configuration file.', parse: str, apply: (ctx, v) => { ctx.extras.configFile = v === '' ? undefined : v; } }),
  defineFlag<string>({ name: 'write-config-to', type: 'string', phase: 'pre', usage: 'If set, write the effective configuration (defaults, then the --config file, then flags) to this file as KubeProxyConfiguration YAML and exit.', parse: str, apply: (ctx, v) => { ctx.extras.writeConfigTo = v === '' ? undefined : v; } }),
  defineFlag<boolean>({ name: 'cleanup', type: '', phase: 'pre', usage: 'If true cleanup iptables and ipvs rules and exit.', parse: bool, apply: (ctx, v) => { ctx.extras.cleanup = v; } }),
  defineFlag<boolean>({ name: 'init-only', type: '', phase: 'pre', usage: 'If true, perform any initialization steps that must be done with full root privileges, and then exit. After doing this, you can run kube-proxy again with only the CAP_NET_ADMIN capability.', parse: bool, apply: (ctx, v) => { ctx.extras.initOnly = v; } }),
  defineFlag<string>({ name: 'master', type: 'string', phase: 'pre', usage: 'The address of the Kubernetes API server (overrides any value in kubeconfig)', parse: str, apply: (ctx, v) => { ctx.extras.master = v === '' ? undefined : v; } }),
  defineFlag<ReadonlyMap<string, boolean>>({
    name: 'feature-gates', type: 'mapStringBool', phase: 'config',
    usage: 'A set of key=value pairs that describe feature gates for alpha/experimental features. Entries override those of the configuration file.',
    parse: parseMapStringBool,
    apply: (ctx, v, flag) => {
      for (const [k, b] of v) ctx.config.featureGates[k] = b;
      mark(ctx, 'featureGates', flag);
    },
  }),
  field<string>('kubeconfig', 'string', str, 'clientConnection.kubeconfig', (c, v) => { c.clientConnection.kubeconfig = v; }, 'Path to kubeconfig file with authorization information (the master location can be overridden by the master flag).'),
  field<string>('kube-api-content-type', 'string', str, 'clientConnection.contentType', (c, v) => { c.clientConnection.contentType = v; }, 'Content type of requests sent to apiserver.', (c) => c.clientConnection.contentType),
  field<number>('kube-api-burst', 'int32', int32, 'clientConnection.burst', (c, v) => { c.clientConnection.burst = v; }, 'Burst to use while talking with kubernetes apiserver', (c) => String(c.clientConnection.burst)),
  field<number>('kube-api-qps', 'float32', parseFloat32, 'clientConnection.qps', (c, v) => { c.clientConnection.qps = v; }, 'QPS to use while talking with kubernetes apiserver', (c) => String(c.clientConnection.qps)),
  defineFlag<string>({
    name: 'hostname-override', type: 'string', phase: 'config',
    usage: "If non-empty, will be used as the name of the Node that kube-proxy is running on. If unset, the node name is assumed to be the same as the node's hostname.",
    parse: str,
    apply: (ctx, v, flag) => {
      if (v === '') return;
      const name = v.trim();
      if (name === '') ctx.errors.push(invalid(flag, v, 'empty hostname-override is invalid'));
      else ctx.config.hostnameOverride = name.toLowerCase();
      mark(ctx, 'hostnameOverride', flag);
    },
  }),
  field<string>('bind-address', 'ip', ipValue, 'bindAddress', (c, v) => { if (v !== '') c.bindAddress = v; }, "Overrides kube-proxy's idea of what its node's primary IP is. Note that the name is a historical artifact, and kube-proxy does not actually bind any sockets to this IP.", (c) => c.bindAddress),
  field<string>('healthz-bind-address', 'ipport', ipPortValue, 'healthzBindAddress', (c, v) => { c.healthzBindAddress = v === '' ? '' : appendPortIfNeeded(v, PROXY_HEALTHZ_PORT); }, 'The IP address and port for the health check server to serve on, defaulting to "0.0.0.0:10256". Set empty to disable.', (c) => c.healthzBindAddress),
  field<string>('metrics-bind-address', 'ipport', ipPortValue, 'metricsBindAddress', (c, v) => { c.metricsBindAddress = v === '' ? '' : appendPortIfNeeded(v, PROXY_STATUS_PORT); }, 'The IP address and port for the metrics server to serve on, defaulting to "127.0.0.1:10249". (Set to "0.0.0.0:10249" / "[::]:10249" to bind on all interfaces.) Set empty to disable.', (c) => c.metricsBindAddress),
  field<boolean>('bind-address-hard-fail', '', bool, 'bindAddressHardFail', (c, v) => { c.bindAddressHardFail = v; }, 'If true kube-proxy will treat failure to bind to a port as fatal and exit'),
  field<boolean>('profiling', '', bool, 'enableProfiling', (c, v) => { c.enableProfiling = v; }, 'If true enables profiling via web interface on /debug/pprof handler.'),
  field<string>('show-hidden-metrics-for-version', 'string', str, 'showHiddenMetricsForVersion', (c, v) => { c.showHiddenMetricsForVersion = v; }, "The previous version for which you want to show hidden metrics. Only the previous minor version is meaningful, other values will not be allowed. The format is <major>.<minor>, e.g.: '1.16'. The purpose of this format is make sure you have the opportunity to notice if the next release hides additional metrics, rather than being surprised when they are permanently removed in the release after that."),
  field<string>('proxy-mode', 'ProxyMode', str, 'mode', (c, v) => { c.mode = v; }, "Which proxy mode to use: 'nftables', 'iptables', or 'userspace' (kube-proxy-ts). 'ipvs' is not supported (no IPVS in this kernel). Upstream's default is iptables; ours is nftables.", () => 'nftables', { phase: 'mode' }),
  field<number>('iptables-masquerade-bit', 'int32', int32, 'iptables.masqueradeBit', (c, v) => { c.iptables.masqueradeBit = v; }, 'If using the iptables or ipvs proxy mode, the bit of the fwmark space to mark packets requiring SNAT with.  Must be within the range [0, 31].', (c) => String(c.iptables.masqueradeBit)),
  field<boolean>('masquerade-all', '', bool, (c) => `${masqSection(c)}.masqueradeAll`, (c, v) => { c[masqSection(c)].masqueradeAll = v; }, 'SNAT all traffic sent via Service cluster IPs. This may be required with some CNI plugins. Only supported on Linux.'),
  field<boolean>('iptables-localhost-nodeports', '', bool, 'iptables.localhostNodePorts', (c, v) => { c.iptables.localhostNodePorts = v; }, 'If false, kube-proxy will disable the legacy behavior of allowing NodePort services to be accessed via localhost. (Applies only to iptables mode and IPv4; localhost NodePorts are never allowed with other proxy modes or with IPv6.)', (c) => String(c.iptables.localhostNodePorts)),
  field<number>('iptables-sync-period', 'duration', duration, (c) => `${syncSection(c)}.syncPeriod`, (c, v) => { c[syncSection(c)].syncPeriod = v; }, "An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup operations are performed. Must be greater than 0. Applies to the active proxy mode (nftables, iptables or userspace).", (c) => formatDuration(c.nftables.syncPeriod)),
  field<number>('iptables-min-sync-period', 'duration', duration, (c) => `${syncSection(c)}.minSyncPeriod`, (c, v) => { c[syncSection(c)].minSyncPeriod = v; }, "The minimum period between rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every Service or EndpointSlice change will result in an immediate resync. Applies to the active proxy mode.", (c) => formatDuration(c.nftables.minSyncPeriod)),
  field<number>('ipvs-sync-period', 'duration', duration, 'ipvs.syncPeriod', (c, v) => { c.ipvs.syncPeriod = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.', (c) => formatDuration(c.ipvs.syncPeriod)),
  field<number>('ipvs-min-sync-period', 'duration', duration, 'ipvs.minSyncPeriod', (c, v) => { c.ipvs.minSyncPeriod = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<string>('ipvs-scheduler', 'string', str, 'ipvs.scheduler', (c, v) => { c.ipvs.scheduler = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<readonly string[]>('ipvs-exclude-cidrs', 'strings', parseStringSlice, 'ipvs.excludeCIDRs', (c, v) => { c.ipvs.excludeCIDRs = [...v]; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<boolean>('ipvs-strict-arp', '', bool, 'ipvs.strictARP', (c, v) => { c.ipvs.strictARP = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<number>('ipvs-tcp-timeout', 'duration', duration, 'ipvs.tcpTimeout', (c, v) => { c.ipvs.tcpTimeout = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<number>('ipvs-tcpfin-timeout', 'duration', duration, 'ipvs.tcpFinTimeout', (c, v) => { c.ipvs.tcpFinTimeout = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<number>('ipvs-udp-timeout', 'duration', duration, 'ipvs.udpTimeout', (c, v) => { c.ipvs.udpTimeout = v; }, 'Accepted for compatibility; IPVS mode is not supported by kube-proxy-ts.'),
  field<string>('detect-local-mode', 'LocalMode', str, 'detectLocalMode', (c, v) => { c.detectLocalMode = v; }, "Mode to use to detect local traffic: 'ClusterCIDR' (default), 'NodeCIDR', 'BridgeInterface' or 'InterfaceNamePrefix'."),
  field<string>('pod-bridge-interface', 'string', str, 'detectLocal.bridgeInterface', (c, v) => { c.detectLocal.bridgeInterface = v; }, 'A bridge interface name. When --detect-local-mode is set to BridgeInterface, kube-proxy will consider traffic to be local if it originates from this bridge.'),
  field<string>('pod-interface-name-prefix', 'string', str, 'detectLocal.interfaceNamePrefix', (c, v) => { c.detectLocal.interfaceNamePrefix = v; }, 'An interface name prefix. When --detect-local-mode is set to InterfaceNamePrefix, kube-proxy will consider traffic to be local if it originates from any interface whose name begins with this prefix.'),
  field<string>('cluster-cidr', 'string', str, 'clusterCIDR', (c, v) => { c.clusterCIDR = v; }, 'The CIDR range of the pods in the cluster. (For dual-stack clusters, this can be a comma-separated dual-stack pair of CIDR ranges.). When --detect-local-mode is set to ClusterCIDR, kube-proxy will consider traffic to be local if its source IP is in this range. (Otherwise it is not used.)'),
  field<readonly string[]>('nodeport-addresses', 'strings', parseStringSlice, 'nodePortAddresses', (c, v) => { c.nodePortAddresses = [...v]; }, "A list of CIDR ranges that contain valid node IPs, and/or the keywords 'primary', 'localhost' and 'all'. NodePort connections are only accepted on node IPs in the indicated ranges ('primary': the node's primary IP(s) according to the Node object). If unset: 'primary' in nftables mode, all local IPs otherwise."),
  field<number>('oom-score-adj', 'int32', int32, 'oomScoreAdj', (c, v) => { c.oomScoreAdj = v; }, 'The oom-score-adj value for kube-proxy process. Values must be within the range [-1000, 1000].', (c) => String(c.oomScoreAdj)),
  field<number>('conntrack-max-per-core', 'int32', int32, 'conntrack.maxPerCore', (c, v) => { c.conntrack.maxPerCore = v; }, 'Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore conntrack-min).', (c) => String(c.conntrack.maxPerCore)),
  field<number>('conntrack-min', 'int32', int32, 'conntrack.min', (c, v) => { c.conntrack.min = v; }, 'Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core (set conntrack-max-per-core=0 to leave the limit as-is).', (c) => String(c.conntrack.min)),
  field<number>('conntrack-tcp-timeout-established', 'duration', duration, 'conntrack.tcpEstablishedTimeout', (c, v) => { c.conntrack.tcpEstablishedTimeout = v; }, 'Idle timeout for established TCP connections (0 to leave as-is)', (c) => formatDuration(c.conntrack.tcpEstablishedTimeout)),
  field<number>('conntrack-tcp-timeout-close-wait', 'duration', duration, 'conntrack.tcpCloseWaitTimeout', (c, v) => { c.conntrack.tcpCloseWaitTimeout = v; }, 'NAT timeout for TCP connections in the CLOSE_WAIT state', (c) => formatDuration(c.conntrack.tcpCloseWaitTimeout)),
  field<boolean>('conntrack-tcp-be-liberal', '', bool, 'conntrack.tcpBeLiberal', (c, v) => { c.conntrack.tcpBeLiberal = v; }, 'Enable liberal mode for tracking TCP packets by setting nf_conntrack_tcp_be_liberal to 1'),
  field<number>('conntrack-udp-timeout', 'duration', duration, 'conntrack.udpTimeout', (c, v) => { c.conntrack.udpTimeout = v; }, 'Idle timeout for UNREPLIED UDP connections (0 to leave as-is)'),
  field<number>('conntrack-udp-timeout-stream', 'duration', duration, 'conntrack.udpStreamTimeout', (c, v) => { c.conntrack.udpStreamTimeout = v; }, 'Idle timeout for ASSURED UDP connections (0 to leave as-is)'),
  field<number>('config-sync-period', 'duration', duration, 'configSyncPeriod', (c, v) => { c.configSyncPeriod = v; }, 'How often configuration from the apiserver is refreshed.  Must be greater than 0.', (c) => formatDuration(c.configSyncPeriod)),
  defineFlag<number>({ name: 'healthz-port', type: 'int32', phase: 'post', deprecated: 'This flag is deprecated and will be removed in a future release. Please use --healthz-bind-address instead.', usage: 'The port to bind the health check server. Use 0 to disable.', defaultText: () => String(PROXY_HEALTHZ_PORT), parse: int32, apply: (ctx, v) => { ctx.extras.healthzPort = v; } }),
  defineFlag<number>({ name: 'metrics-port', type: 'int32', phase: 'post', deprecated: 'This flag is deprecated and will be removed in a future release. Please use --metrics-bind-address instead.', usage: 'The port to bind the metrics server. Use 0 to disable.', defaultText: () => String(PROXY_STATUS_PORT), parse: int32, apply: (ctx, v) => { ctx.extras.metricsPort = v; } }),
];

/** Every flag kube-proxy-ts accepts. */
export const KUBE_PROXY_FLAGS: readonly Flag[] = [...UPSTREAM_FLAGS, ...LOGGING_FLAGS, ...OUR_FLAGS];
