import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fail, file, load, run } from './helpers.ts';

// What `kubeadm` writes into the kube-proxy ConfigMap: every field present, zero values and
// nulls meaning "use the default", logging options included.
const KUBEADM = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: ""
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;

const FULL = file(`featureGates:
  ServiceTrafficDistribution: true
clientConnection:
  kubeconfig: /etc/kp/kubeconfig
  acceptContentTypes: application/json
  contentType: application/json
  qps: 50.5
  burst: 100
logging:
  format: json
  verbosity: 3
  flushFrequency: 10s
hostnameOverride: " Node-A "
bindAddress: 10.0.0.5
healthzBindAddress: 10.0.0.5
metricsBindAddress: "[::1]:9999"
bindAddressHardFail: true
enableProfiling: true
showHiddenMetricsForVersion: "1.33"
mode: iptables
iptables:
  masqueradeBit: 12
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 1m
  minSyncPeriod: 500ms
nftables:
  masqueradeBit: 13
  syncPeriod: 2m
detectLocalMode: InterfaceNamePrefix
detectLocal:
  interfaceNamePrefix: veth
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
nodePortAddresses: [localhost, 192.168.0.0/16]
oomScoreAdj: -500
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 30s
  tcpBeLiberal: true
  udpTimeout: 30s
  udpStreamTimeout: 5m
configSyncPeriod: 1h
portRange: 30000-32767
userspace:
  algorithm: least-connections
`);

describe('configuration file', () => {
  it('loads a kubeadm-generated file: zeros and nulls take the defaults', () => {
    const { config, warnings } = run(['--config', '/kp.yaml'], { '/kp.yaml': KUBEADM });
    const defaults = run([]).config;
    assert.deepEqual(warnings, []);
    assert.equal(config.configFile, '/kp.yaml');
    assert.equal(config.clientConnection.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
    assert.deepEqual(config.clusterCIDRs.map((c) => c.text), ['10.244.0.0/16']);
    const strip = (c: typeof config): unknown => ({ ...c, configuration: undefined, clientConnection: undefined, clusterCIDRs: undefined, configFile: undefined });
    assert.deepEqual(strip(config), strip(defaults));
  });

  it('reads every field', () => {
    const { config, warnings } = run(['--config=/f'], { '/f': FULL });
    assert.deepEqual(warnings, []);
    assert.equal(config.mode, 'iptables');
    assert.deepEqual(config.featureGates, { ServiceTrafficDistribution: true });
    assert.deepEqual(config.clientConnection, {
      kubeconfig: '/etc/kp/kubeconfig',
      master: undefined,
      acceptContentTypes: 'application/json',
      contentType: 'application/json',
      qps: 50.5,
      burst: 100,
    });
    assert.deepEqual(config.logging, { format: 'json', verbosity: 3, flushFrequencyMs: 10_000 });
    assert.equal(config.hostnameOverride, 'node-a');
    assert.equal(config.bindAddress.address, '10.0.0.5');
    assert.equal(config.healthzBindAddress?.text, '10.0.0.5:10256', 'a bare IP gets the default port');
    assert.equal(config.metricsBindAddress?.text, '[::1]:9999');
    assert.equal(config.bindAddressHardFail, true);
    assert.equal(config.enableProfiling, true);
    assert.equal(config.showHiddenMetricsForVersion, '1.33');
    assert.equal(config.masqueradeBit, 12);
    assert.equal(config.masqueradeAll, true);
    assert.equal(config.localhostNodePorts, false);
    assert.equal(config.syncPeriodMs, 60_000);
    assert.equal(config.minSyncPeriodMs, 500);
    assert.equal(config.detectLocalMode, 'InterfaceNamePrefix');
    assert.deepEqual(config.detectLocal, { bridgeInterface: '', interfaceNamePrefix: 'veth' });
    assert.deepEqual(config.clusterCIDRs.map((c) => c.text), ['10.244.0.0/16', 'fd00:10:244::/56']);
    assert.deepEqual(config.nodePortAddresses, {
      primary: false,
      cidrs: [
        { family: 'IPv4', network: '127.0.0.0', prefixLength: 8, text: '127.0.0.0/8' },
        { family: 'IPv6', network: '::1', prefixLength: 128, text: '::1/128' },
        { family: 'IPv4', network: '192.168.0.0', prefixLength: 16, text: '192.168.0.0/16' },
      ],
    });
    assert.equal(config.oomScoreAdj, -500);
    assert.deepEqual(config.conntrack, {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeoutMs: 0,
      tcpCloseWaitTimeoutMs: 30_000,
      tcpBeLiberal: true,
      udpTimeoutMs: 30_000,
      udpStreamTimeoutMs: 300_000,
    });
    assert.equal(config.configSyncPeriodMs, 3_600_000);
    assert.equal(config.configuration.portRange, '30000-32767');
    assert.equal(config.configuration.nftables.masqueradeBit, 13);
    assert.equal(config.userspace.algorithm, 'least-connections');
  });

  const modeSections: [string, number, number][] = [
    ['', 7_000, 7],
    ['nftables', 7_000, 7],
    ['iptables', 9_000, 9],
    ['userspace', 9_000, 9],
  ];
  for (const [mode, sync, bit] of modeSections) {
    it(`mode ${JSON.stringify(mode)} takes its sync period and masquerade bit from the ${sync === 7_000 ? 'nftables' : 'iptables'} section`, () => {
      const f = file(`mode: "${mode}"\niptables: {syncPeriod: 9s, masqueradeBit: 9}\nnftables: {syncPeriod: 7s, masqueradeBit: 7}\n`);
      const { config } = run(['--config=/f'], { '/f': f });
      assert.equal(config.syncPeriodMs, sync);
      assert.equal(config.masqueradeBit, bit);
    });
  }

  it('reads JSON', () => {
    const { config } = run(['--config=/f.json'], {
      '/f.json': JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'iptables', iptables: { syncPeriod: '5s' } }),
    });
    assert.equal(config.mode, 'iptables');
    assert.equal(config.syncPeriodMs, 5_000);
  });

  it('reads YAML 1.1 booleans as go-yaml does', () => {
    const { config } = run(['--config=/f'], { '/f': file('mode: iptables\niptables:\n  masqueradeAll: yes\nenableProfiling: on\n') });
    assert.equal(config.masqueradeAll, true);
    assert.equal(config.enableProfiling, true);
  });

  it('accepts a leading document marker and comments', () => {
    const { config } = run(['--config=/f'], { '/f': `---\n# comment\n${file('mode: userspace # trailing\n')}` });
    assert.equal(config.mode, 'userspace');
  });

  it('accepts logging.flushFrequency as integer nanoseconds', () => {
    const { config } = run(['--config=/f'], { '/f': file('logging:\n  flushFrequency: 2000000000\n') });
    assert.equal(config.logging.flushFrequencyMs, 2_000);
  });

  it('ignores fields upstream removed from v1alpha1, with a warning', () => {
    const { warnings } = run(['--config=/f'], { '/f': file('udpIdleTimeout: 250ms\nresourceContainer: /kube-proxy\nconntrack:\n  max: null\n') });
    assert.deepEqual(warnings, [
      'ignoring obsolete field "conntrack.max" in the configuration file',
      'ignoring obsolete field "udpIdleTimeout" in the configuration file',
      'ignoring obsolete field "resourceContainer" in the configuration file',
    ]);
  });

  it('warns about feature gates it does not know', () => {
    const { config, warnings } = run(['--config=/f'], { '/f': file('featureGates: {SomeFutureGate: true, TopologyAwareHints: false}\n') });
    assert.deepEqual(config.featureGates, { SomeFutureGate: true, TopologyAwareHints: false });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /SomeFutureGate/);
  });

  it('reports a file that cannot be read, naming it', () => {
    const { errors, message } = fail(['--config=/missing.yaml']);
    assert.equal(errors[0]?.field, '--config');
    assert.match(message, /\/missing\.yaml/);
    assert.match(message, /ENOENT/);
  });

  it('rejects an empty file and a file with two documents', () => {
    assert.match(fail(['--config=/f'], { '/f': '' }).message, /is empty/);
    assert.match(fail(['--config=/f'], { '/f': `${file('mode: iptables\n')}---\n${file('mode: nftables\n')}` }).message, /2 YAML documents/);
  });

  it('rejects YAML syntax errors and duplicate keys', () => {
    assert.equal(load(['--config=/f'], { '/f': file('mode: [\n') }).kind, 'error');
    assert.match(fail(['--config=/f'], { '/f': file('mode: iptables\nmode: nftables\n') }).message, /unique/i);
  });

  it('rejects a top level that is not an object', () => {
    assert.equal(fail(['--config=/f'], { '/f': '- a\n- b\n' }).errors[0]?.field, '/f');
  });
});
