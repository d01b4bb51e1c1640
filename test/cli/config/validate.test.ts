import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fail, file } from './helpers.ts';

interface Case {
  readonly name: string;
  readonly argv?: readonly string[];
  /** Body of a configuration file (given with --config=/c). */
  readonly file?: string;
  /** A whole file, apiVersion/kind included. */
  readonly raw?: string;
  /** The error must name this field (or flag) … */
  readonly field: string;
  /** … and this offending value, in the message too. */
  readonly value?: string;
  /** Extra text the message must contain. */
  readonly text?: RegExp;
}

const CASES: readonly Case[] = [
  // decoding
  { name: 'unknown field', file: 'iptables:\n  syncPerod: 1s\n', field: 'iptables.syncPerod', value: 'iptables.syncPerod', text: /unknown field/ },
  { name: 'unknown top-level field', file: 'nftable:\n  syncPeriod: 1s\n', field: 'nftable' },
  { name: 'misspelled case (strict, case-sensitive)', file: 'BindAddress: 1.2.3.4\n', field: 'BindAddress' },
  { name: 'bad duration', file: 'nftables:\n  syncPeriod: 10x\n', field: 'nftables.syncPeriod', value: '10x', text: /unknown unit "x"/ },
  { name: 'duration without unit', file: 'configSyncPeriod: "30"\n', field: 'configSyncPeriod', value: '30', text: /missing unit/ },
  { name: 'duration as a number', file: 'conntrack:\n  udpTimeout: 30\n', field: 'conntrack.udpTimeout', value: '30' },
  { name: 'integer as a string', file: 'iptables:\n  masqueradeBit: "14"\n', field: 'iptables.masqueradeBit', value: '14', text: /must be an integer/ },
  { name: 'fractional integer', file: 'clientConnection:\n  burst: 1.5\n', field: 'clientConnection.burst', value: '1.5' },
  { name: 'int32 overflow', file: 'conntrack:\n  min: 3000000000\n', field: 'conntrack.min', value: '3000000000' },
  { name: 'boolean as a string', file: 'mode: iptables\niptables:\n  masqueradeAll: "true"\n', field: 'iptables.masqueradeAll', value: 'true' },
  { name: 'list as a scalar', file: 'nodePortAddresses: primary\n', field: 'nodePortAddresses', value: 'primary' },
  { name: 'section as a scalar', file: 'conntrack: 5\n', field: 'conntrack', value: '5' },
  { name: 'feature gate not a boolean', file: 'featureGates:\n  Foo: maybe\n', field: 'featureGates.Foo', value: 'maybe' },
  { name: 'wrong apiVersion', raw: 'apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n', field: 'apiVersion', value: 'kubeproxy.config.k8s.io/v1beta9', text: /supported values: "kubeproxy.config.k8s.io\/v1alpha1"/ },
  { name: 'old componentconfig apiVersion', raw: 'apiVersion: componentconfig/v1alpha1\nkind: KubeProxyConfiguration\n', field: 'apiVersion', value: 'componentconfig/v1alpha1' },
  { name: 'missing apiVersion', raw: 'kind: KubeProxyConfiguration\n', field: 'apiVersion', text: /Required value/ },
  { name: 'wrong kind', raw: 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n', field: 'kind', value: 'KubeletConfiguration' },
  { name: 'missing kind', raw: 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: iptables\n', field: 'kind' },
  // addresses
  { name: 'bad bindAddress', file: 'bindAddress: 1.2.3\n', field: 'bindAddress', value: '1.2.3', text: /not a valid textual representation of an IP address/ },
  { name: 'healthz port not a number', file: 'healthzBindAddress: "1.2.3.4:abc"\n', field: 'healthzBindAddress', value: 'abc', text: /must be a valid port/ },
  { name: 'healthz host not an IP', file: 'healthzBindAddress: "localhost:10256"\n', field: 'healthzBindAddress', value: 'localhost', text: /must be a valid IP/ },
  { name: 'metrics port out of range', file: 'metricsBindAddress: "127.0.0.1:0"\n', field: 'metricsBindAddress', value: '0' },
  { name: 'metrics address not host:port', file: 'metricsBindAddress: "::1:10249"\n', field: 'metricsBindAddress', value: '::1:10249', text: /must be IP:port/ },
  { name: 'bad --bind-address', argv: ['--bind-address=nope'], field: '--bind-address', value: 'nope', text: /is not a valid IP address/ },
  { name: 'bad --metrics-bind-address', argv: ['--metrics-bind-address=1.2.3.4:99999'], field: '--metrics-bind-address', value: '1.2.3.4:99999' },
  { name: 'bad --healthz-bind-address', argv: ['--healthz-bind-address=foo'], field: '--healthz-bind-address', value: 'foo' },
  // CIDRs
  { name: 'bad clusterCIDR', file: 'clusterCIDR: 10.0.0.0/33\n', field: 'clusterCIDR', value: '10.0.0.0/33', text: /valid CIDR/ },
  { name: 'two IPv4 clusterCIDRs', file: 'clusterCIDR: 10.0.0.0/8,11.0.0.0/8\n', field: 'clusterCIDR', value: '10.0.0.0/8,11.0.0.0/8', text: /dual-stack pair/ },
  { name: 'three clusterCIDRs', file: 'clusterCIDR: 10.0.0.0/8,fd00::/8,11.0.0.0/8\n', field: 'clusterCIDR' },
  { name: 'bad --cluster-cidr', argv: ['--cluster-cidr=10.0.0.0'], field: 'clusterCIDR', value: '10.0.0.0', text: /set by --cluster-cidr/ },
  { name: 'bad nodePortAddresses entry', file: 'nodePortAddresses: [10.0.0.0/8, "10.0.0.1"]\n', field: 'nodePortAddresses[1]', value: '10.0.0.1' },
  { name: 'bad --nodeport-addresses', argv: ['--nodeport-addresses=primary,nonsense'], field: 'nodePortAddresses[1]', value: 'nonsense', text: /set by --nodeport-addresses/ },
  // modes
  { name: 'unknown mode', file: 'mode: fast\n', field: 'mode', value: 'fast', text: /supported values: "nftables", "iptables", "userspace", ""/ },
  { name: 'mode ipvs', file: 'mode: ipvs\n', field: 'mode', value: 'ipvs', text: /IPVS is not supported by kube-proxy-ts/ },
  { name: '--proxy-mode=ipvs', argv: ['--proxy-mode=ipvs'], field: 'mode', value: 'ipvs', text: /IPVS is not supported by kube-proxy-ts.*set by --proxy-mode/ },
  { name: 'mode kernelspace', file: 'mode: kernelspace\n', field: 'mode', value: 'kernelspace', text: /Windows/ },
  { name: 'unknown detectLocalMode', file: 'detectLocalMode: Magic\n', field: 'detectLocalMode', value: 'Magic', text: /supported values: "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"/ },
  { name: '--detect-local-mode unknown', argv: ['--detect-local-mode=clustercidr'], field: 'detectLocalMode', value: 'clustercidr' },
  { name: 'BridgeInterface without a bridge', file: 'detectLocalMode: BridgeInterface\n', field: 'detectLocal.bridgeInterface', text: /must not be empty/ },
  { name: 'InterfaceNamePrefix without a prefix', argv: ['--detect-local-mode=InterfaceNamePrefix'], field: 'detectLocal.interfaceNamePrefix' },
  // ranges and signs
  { name: 'iptables.masqueradeBit 32', file: 'iptables:\n  masqueradeBit: 32\n', field: 'iptables.masqueradeBit', value: '32', text: /\[0, 31\]/ },
  { name: 'nftables.masqueradeBit -1', file: 'nftables:\n  masqueradeBit: -1\n', field: 'nftables.masqueradeBit', value: '-1' },
  { name: '--iptables-masquerade-bit=99', argv: ['--iptables-masquerade-bit=99'], field: 'iptables.masqueradeBit', value: '99', text: /set by --iptables-masquerade-bit/ },
  { name: 'negative syncPeriod', file: 'nftables:\n  syncPeriod: -1s\n', field: 'nftables.syncPeriod', value: '-1s', text: /must be greater than 0/ },
  { name: 'negative minSyncPeriod', file: 'mode: iptables\niptables:\n  minSyncPeriod: -1s\n', field: 'iptables.minSyncPeriod', value: '-1s', text: /greater than or equal to 0/ },
  { name: 'minSyncPeriod above syncPeriod', file: 'nftables:\n  syncPeriod: 5s\n  minSyncPeriod: 10s\n', field: 'nftables.syncPeriod', value: '5s', text: /greater than or equal to nftables.minSyncPeriod/ },
  { name: 'min above sync by flags (userspace → iptables section)', argv: ['--proxy-mode=userspace', '--iptables-sync-period=1s', '--iptables-min-sync-period=2s'], field: 'iptables.syncPeriod', value: '1s', text: /set by --iptables-sync-period/ },
  { name: 'negative --iptables-sync-period', argv: ['--iptables-sync-period=-5s'], field: 'nftables.syncPeriod', value: '-5s' },
  { name: 'negative conntrack.maxPerCore', file: 'conntrack:\n  maxPerCore: -1\n', field: 'conntrack.maxPerCore', value: '-1' },
  { name: 'negative conntrack.min', argv: ['--conntrack-min=-1'], field: 'conntrack.min', value: '-1' },
  { name: 'negative tcpEstablishedTimeout', file: 'conntrack:\n  tcpEstablishedTimeout: -1s\n', field: 'conntrack.tcpEstablishedTimeout', value: '-1s' },
  { name: 'negative tcpCloseWaitTimeout', argv: ['--conntrack-tcp-timeout-close-wait=-1h'], field: 'conntrack.tcpCloseWaitTimeout', value: '-1h0m0s' },
  { name: 'negative udpTimeout', file: 'conntrack:\n  udpTimeout: -5s\n', field: 'conntrack.udpTimeout', value: '-5s' },
  { name: 'negative udpStreamTimeout', file: 'conntrack:\n  udpStreamTimeout: -5s\n', field: 'conntrack.udpStreamTimeout', value: '-5s' },
  { name: 'negative configSyncPeriod', file: 'configSyncPeriod: -1m\n', field: 'configSyncPeriod', value: '-1m0s', text: /must be greater than 0/ },
  { name: 'negative burst', file: 'clientConnection:\n  burst: -1\n', field: 'clientConnection.burst', value: '-1' },
  { name: 'oomScoreAdj out of range', argv: ['--oom-score-adj=1001'], field: 'oomScoreAdj', value: '1001', text: /\[-1000, 1000\]/ },
  { name: 'bad portRange', file: 'portRange: 2000-300\n', field: 'portRange', value: '2000-300' },
  { name: 'bad showHiddenMetricsForVersion', file: 'showHiddenMetricsForVersion: v1\n', field: 'showHiddenMetricsForVersion', value: 'v1' },
  { name: 'bad logging.format', file: 'logging:\n  format: xml\n', field: 'logging.format', value: 'xml' },
  { name: 'bad --logging-format', argv: ['--logging-format=yaml'], field: 'logging.format', value: 'yaml', text: /set by --logging-format/ },
  { name: 'negative verbosity', file: 'logging:\n  verbosity: -1\n', field: 'logging.verbosity', value: '-1' },
  { name: 'bad userspace.algorithm', file: 'userspace:\n  algorithm: fastest\n', field: 'userspace.algorithm', value: 'fastest' },
  { name: 'bad --userspace-algorithm', argv: ['--userspace-algorithm=rr'], field: 'userspace.algorithm', value: 'rr', text: /set by --userspace-algorithm/ },
  { name: 'bad --userspace-threads', argv: ['--userspace-threads=0'], field: 'userspace.threads', value: '0', text: /set by --userspace-threads/ },
  { name: 'blank hostnameOverride', file: 'hostnameOverride: "   "\n', field: 'hostnameOverride' },
  { name: 'blank --hostname-override', argv: ['--hostname-override=  '], field: '--hostname-override', text: /empty hostname-override is invalid/ },
  { name: 'NFTablesProxyMode=false', argv: ['--feature-gates=NFTablesProxyMode=false'], field: 'featureGates', text: /locked to true/ },
  // command line
  { name: 'unknown flag', argv: ['--no-such-flag'], field: '--no-such-flag', text: /unknown flag: --no-such-flag/ },
  { name: 'unknown Go-style flag', argv: ['-kubeconfigs', 'x'], field: '-k', text: /unknown shorthand flag: 'k' in -kubeconfigs/ },
  { name: 'unknown shorthand', argv: ['-x'], field: '-x', text: /unknown shorthand flag: 'x'/ },
  { name: 'missing flag value', argv: ['--kubeconfig'], field: '--kubeconfig', text: /flag needs an argument: --kubeconfig/ },
  { name: 'missing -v value', argv: ['-v'], field: '--v', text: /flag needs an argument: 'v' in -v/ },
  { name: 'bad duration flag', argv: ['--iptables-sync-period=abc'], field: '--iptables-sync-period', value: 'abc', text: /invalid argument "abc" for "--iptables-sync-period" flag: time: invalid duration "abc"/ },
  { name: 'bad int32 flag', argv: ['--conntrack-min=lots'], field: '--conntrack-min', value: 'lots', text: /strconv.ParseInt/ },
  { name: 'int32 overflow flag', argv: ['--kube-api-burst=4294967296'], field: '--kube-api-burst', value: '4294967296', text: /out of range/ },
  { name: 'bad float flag', argv: ['--kube-api-qps=fast'], field: '--kube-api-qps', value: 'fast' },
  { name: 'bad bool flag', argv: ['--cleanup=maybe'], field: '--cleanup', value: 'maybe', text: /ParseBool/ },
  { name: 'bad -v', argv: ['-v=-1'], field: '--v', value: '-1' },
  { name: 'bad --feature-gates', argv: ['--feature-gates=Foo'], field: '--feature-gates', value: 'Foo', text: /missing bool value for Foo/ },
  { name: 'bad --vmodule', argv: ['--vmodule=proxier'], field: '--vmodule', value: 'proxier' },
  { name: 'bad --log-json-info-buffer-size', argv: ['--log-json-info-buffer-size=big'], field: '--log-json-info-buffer-size', value: 'big' },
  { name: 'bad --version value', argv: ['--version=maybe'], field: '--version', value: 'maybe' },
  { name: 'bad flag syntax', argv: ['---x'], field: '---x', text: /bad flag syntax/ },
  { name: 'positional argument', argv: ['iptables'], field: 'arguments', value: 'iptables', text: /does not take any arguments/ },
  { name: 'bad --control-plane-listen', argv: ['--control-plane-listen=localhost:6443'], field: '--control-plane-listen', value: 'localhost:6443' },
  { name: 'bare IP --control-plane-listen', argv: ['--control-plane-listen=127.0.0.1'], field: '--control-plane-listen', value: '127.0.0.1', text: /must be IP:port/ },
  { name: 'bad --control-plane-service-cidr', argv: ['--control-plane-service-cidr=10.96.0.0'], field: '--control-plane-service-cidr', value: '10.96.0.0' },
  { name: 'empty --control-plane-data-dir', argv: ['--control-plane-data-dir='], field: '--control-plane-data-dir' },
];

describe('invalid configuration', () => {
  for (const c of CASES) {
    it(`${c.name}: names ${c.field}${c.value === undefined ? '' : ` and ${JSON.stringify(c.value)}`}`, () => {
      const files: Record<string, string> = {};
      const argv = [...(c.argv ?? [])];
      if (c.file !== undefined || c.raw !== undefined) {
        files['/c'] = c.raw ?? file(c.file ?? '');
        argv.unshift('--config=/c');
      }
      const { errors, message } = fail(argv, files);
      const e = errors.find((x) => x.field === c.field);
      assert.ok(e, `no error for ${c.field} in:\n${message}`);
      if (c.value !== undefined) {
        assert.equal(e.value, c.value);
        assert.ok(e.message.includes(c.value), `message ${JSON.stringify(e.message)} lacks the value`);
      }
      assert.ok(e.message.includes(c.field.replace(/^-+/, '')), `message ${JSON.stringify(e.message)} lacks the field`);
      if (c.text !== undefined) assert.match(e.message, c.text);
      assert.ok(message.includes(e.message));
    });
  }

  it('collects every error, from the file and from validation, in one report', () => {
    const f = file(`mode: ipvs
iptables:
  syncPerod: 10s
  masqueradeBit: 40
nftables:
  syncPeriod: bogus
clusterCIDR: nope
metricsBindAddress: 1.2.3.4:99999
conntrack:
  min: -5
`);
    const { errors, message } = fail(['--config=/c', '--oom-score-adj=2000'], { '/c': f });
    assert.deepEqual(
      errors.map((e) => e.field).sort(),
      ['clusterCIDR', 'conntrack.min', 'iptables.masqueradeBit', 'iptables.syncPerod', 'metricsBindAddress', 'mode', 'nftables.syncPeriod', 'oomScoreAdj'].sort(),
    );
    assert.match(message, /^invalid configuration \(configuration file "\/c"\): 8 errors:\n/);
  });

  it('collects every command-line syntax error', () => {
    const { errors } = fail(['--nope', '--iptables-sync-period=x', '--kube-api-burst=y', 'stray']);
    assert.deepEqual(errors.map((e) => e.field), ['--nope', '--iptables-sync-period', '--kube-api-burst', 'arguments']);
  });

  it('reports command-line errors before --help', () => {
    assert.equal(fail(['--help', '--nope']).errors[0]?.field, '--nope');
  });
});
