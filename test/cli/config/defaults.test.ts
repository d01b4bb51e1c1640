import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { toV1Alpha1 } from '../../../src/cli/config/effective.ts';
import { run } from './helpers.ts';

// Upstream's defaulted v1alpha1 object (pkg/proxy/apis/config/scheme/testdata/
// KubeProxyConfiguration/after/v1alpha1.yaml, 1.3x) with our documented differences applied:
// mode (blank → nftables, ours; upstream iptables), then the platform defaults for that mode
// (detectLocalMode ClusterCIDR, nodePortAddresses [primary] in nftables mode), every mode's
// section defaulted (upstream fills only the active one), logging.format left unset (the logger
// picks json or text).
const UPSTREAM_DEFAULTS_WITH_OUR_MODE = `
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: ""
  qps: 5
clusterCIDR: ""
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 32768
  min: 131072
  tcpBeLiberal: false
  tcpCloseWaitTimeout: 1h0m0s
  tcpEstablishedTimeout: 24h0m0s
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ClusterCIDR
enableProfiling: false
healthzBindAddress: 0.0.0.0:10256
hostnameOverride: ""
iptables:
  localhostNodePorts: true
  masqueradeAll: false
  masqueradeBit: 14
  minSyncPeriod: 1s
  syncPeriod: 30s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 30s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 5s
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: 127.0.0.1:10249
mode: nftables
nftables:
  masqueradeAll: false
  masqueradeBit: 14
  minSyncPeriod: 1s
  syncPeriod: 30s
nodePortAddresses:
- primary
oomScoreAdj: -999
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;

describe('defaults', () => {
  it('equal upstream v1alpha1 defaults (with our nftables default mode)', () => {
    const { config } = run([]);
    assert.deepEqual(toV1Alpha1(config.configuration), parse(UPSTREAM_DEFAULTS_WITH_OUR_MODE));
  });

  it('give the documented effective values', () => {
    const { config } = run([]);
    assert.equal(config.mode, 'nftables');
    assert.equal(config.syncPeriodMs, 30_000);
    assert.equal(config.minSyncPeriodMs, 1_000);
    assert.equal(config.masqueradeBit, 14);
    assert.equal(config.masqueradeAll, false);
    assert.equal(config.localhostNodePorts, false, 'localhost NodePorts are iptables-only');
    assert.equal(config.healthzBindAddress?.text, '0.0.0.0:10256');
    assert.equal(config.metricsBindAddress?.text, '127.0.0.1:10249');
    assert.equal(config.bindAddress.address, '0.0.0.0');
    assert.equal(config.configSyncPeriodMs, 15 * 60_000);
    assert.deepEqual(config.conntrack, {
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeoutMs: 24 * 3_600_000,
      tcpCloseWaitTimeoutMs: 3_600_000,
      tcpBeLiberal: false,
      udpTimeoutMs: 0,
      udpStreamTimeoutMs: 0,
    });
    assert.deepEqual(config.clientConnection, {
      kubeconfig: undefined,
      master: undefined,
      acceptContentTypes: '',
      contentType: 'application/vnd.kubernetes.protobuf',
      qps: 5,
      burst: 10,
    });
    assert.equal(config.detectLocalMode, 'ClusterCIDR');
    assert.deepEqual(config.clusterCIDRs, []);
    assert.deepEqual(config.nodePortAddresses, { primary: true, cidrs: [] });
    assert.equal(config.oomScoreAdj, -999);
    assert.deepEqual(config.userspace, { algorithm: 'round-robin', threads: 1 });
    assert.deepEqual(config.logging, { format: undefined, verbosity: 0, flushFrequencyMs: 5000 });
    assert.deepEqual(config.featureGates, {});
    assert.equal(config.hostnameOverride, undefined);
    assert.equal(config.showHiddenMetricsForVersion, undefined);
    assert.equal(config.cleanup, false);
    assert.equal(config.initOnly, false);
    assert.equal(config.configFile, undefined);
  });

  it('is deeply frozen', () => {
    const { config } = run([]);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.configuration.iptables) && Object.isFrozen(config.clusterCIDRs));
  });

  it('give the control-plane defaults (flags only)', () => {
    const { config } = run([]);
    assert.equal(config.controlPlane.requested, false);
    assert.equal(config.controlPlane.listen.text, '127.0.0.1:6443');
    assert.equal(config.controlPlane.dataDir, '/home/test/.local/state/kube-proxy-ts');
    assert.deepEqual(config.controlPlane.serviceCIDRs.map((c) => c.text), ['10.96.0.0/12']);
    assert.equal(config.controlPlane.manifestsDir, undefined);
  });

  it('put the control-plane data dir under XDG_STATE_HOME when set', async () => {
    const { loadConfiguration } = await import('../../../src/cli/config/load.ts');
    const r = loadConfiguration([], { HOME: '/h', XDG_STATE_HOME: '/xdg/state/' }, () => '');
    assert.ok(r.kind === 'run');
    assert.equal(r.config.controlPlane.dataDir, '/xdg/state/kube-proxy-ts');
    const relative = loadConfiguration([], { HOME: '/h', XDG_STATE_HOME: 'rel' }, () => '');
    assert.ok(relative.kind === 'run');
    assert.equal(relative.config.controlPlane.dataDir, '/h/.local/state/kube-proxy-ts', 'relative XDG paths are ignored (XDG spec)');
  });

  it('in iptables mode: nodePortAddresses unset means all local IPs, localhost NodePorts on', () => {
    const { config } = run(['--proxy-mode=iptables']);
    assert.deepEqual(config.nodePortAddresses.cidrs.map((c) => c.text), ['0.0.0.0/0', '::/0']);
    assert.equal(config.nodePortAddresses.primary, false);
    assert.equal(config.localhostNodePorts, true);
    assert.deepEqual(config.configuration.nodePortAddresses, []);
  });

  it('follow an IPv6 bindAddress for the server addresses (getDefaultAddresses)', () => {
    const { config } = run(['--config=/c'], { '/c': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbindAddress: "fd00::1"\n' });
    assert.equal(config.healthzBindAddress?.text, '[::]:10256');
    assert.equal(config.metricsBindAddress?.text, '[::1]:10249');
  });
});
