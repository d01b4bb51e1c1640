import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KUBE_PROXY_FLAGS } from '../../../src/cli/config/flags.ts';
import type { EffectiveConfig } from '../../../src/cli/config/types.ts';
import { fail, file, load, run } from './helpers.ts';

type Check = (c: EffectiveConfig) => void;

// One row per flag: a command line using it and what it must change. A meta-test below checks
// that every defined flag has a row.
const EVERY_FLAG: [flag: string, argv: string[], check: Check][] = [
  ['config', ['--config=/c'], (c) => { assert.equal(c.configFile, '/c'); }],
  ['write-config-to', [], () => undefined], // kind write-config: tested in writeconfig.test.ts
  ['cleanup', ['--cleanup'], (c) => { assert.equal(c.cleanup, true); }],
  ['init-only', ['--init-only'], (c) => { assert.equal(c.initOnly, true); }],
  ['master', ['--master', 'https://10.0.0.1:6443'], (c) => { assert.equal(c.clientConnection.master, 'https://10.0.0.1:6443'); }],
  ['feature-gates', ['--feature-gates=TopologyAwareHints=true,AllBeta=false'], (c) => { assert.deepEqual(c.featureGates, { TopologyAwareHints: true, AllBeta: false }); }],
  ['kubeconfig', ['--kubeconfig', '/k'], (c) => { assert.equal(c.clientConnection.kubeconfig, '/k'); }],
  ['kube-api-content-type', ['--kube-api-content-type=application/json'], (c) => { assert.equal(c.clientConnection.contentType, 'application/json'); }],
  ['kube-api-burst', ['--kube-api-burst=30'], (c) => { assert.equal(c.clientConnection.burst, 30); }],
  ['kube-api-qps', ['--kube-api-qps=12.5'], (c) => { assert.equal(c.clientConnection.qps, 12.5); }],
  ['hostname-override', ['--hostname-override=Worker-1'], (c) => { assert.equal(c.hostnameOverride, 'worker-1'); }],
  ['bind-address', ['--bind-address=192.168.1.10'], (c) => { assert.equal(c.bindAddress.address, '192.168.1.10'); }],
  ['healthz-bind-address', ['--healthz-bind-address=127.0.0.1:1234'], (c) => { assert.equal(c.healthzBindAddress?.text, '127.0.0.1:1234'); }],
  ['metrics-bind-address', ['--metrics-bind-address=0.0.0.0'], (c) => { assert.equal(c.metricsBindAddress?.text, '0.0.0.0:10249'); }],
  ['bind-address-hard-fail', ['--bind-address-hard-fail'], (c) => { assert.equal(c.bindAddressHardFail, true); }],
  ['profiling', ['--profiling=true'], (c) => { assert.equal(c.enableProfiling, true); }],
  ['show-hidden-metrics-for-version', ['--show-hidden-metrics-for-version=1.33'], (c) => { assert.equal(c.showHiddenMetricsForVersion, '1.33'); }],
  ['proxy-mode', ['--proxy-mode=userspace'], (c) => { assert.equal(c.mode, 'userspace'); }],
  ['iptables-masquerade-bit', ['--proxy-mode=iptables', '--iptables-masquerade-bit=3'], (c) => { assert.equal(c.masqueradeBit, 3); }],
  ['masquerade-all', ['--masquerade-all'], (c) => { assert.equal(c.masqueradeAll, true); }],
  ['iptables-localhost-nodeports', ['--proxy-mode=iptables', '--iptables-localhost-nodeports=false'], (c) => { assert.equal(c.localhostNodePorts, false); }],
  ['iptables-sync-period', ['--iptables-sync-period=45s'], (c) => { assert.equal(c.syncPeriodMs, 45_000); }],
  ['iptables-min-sync-period', ['--iptables-min-sync-period=0'], (c) => { assert.equal(c.minSyncPeriodMs, 0); }],
  ['ipvs-sync-period', ['--ipvs-sync-period=1m'], (c) => { assert.equal(c.configuration.ipvs.syncPeriod, 60_000); }],
  ['ipvs-min-sync-period', ['--ipvs-min-sync-period=2s'], (c) => { assert.equal(c.configuration.ipvs.minSyncPeriod, 2_000); }],
  ['ipvs-scheduler', ['--ipvs-scheduler=lc'], (c) => { assert.equal(c.configuration.ipvs.scheduler, 'lc'); }],
  ['ipvs-exclude-cidrs', ['--ipvs-exclude-cidrs=10.0.0.0/8,fd00::/8'], (c) => { assert.deepEqual(c.configuration.ipvs.excludeCIDRs, ['10.0.0.0/8', 'fd00::/8']); }],
  ['ipvs-strict-arp', ['--ipvs-strict-arp'], (c) => { assert.equal(c.configuration.ipvs.strictARP, true); }],
  ['ipvs-tcp-timeout', ['--ipvs-tcp-timeout=5m'], (c) => { assert.equal(c.configuration.ipvs.tcpTimeout, 300_000); }],
  ['ipvs-tcpfin-timeout', ['--ipvs-tcpfin-timeout=5s'], (c) => { assert.equal(c.configuration.ipvs.tcpFinTimeout, 5_000); }],
  ['ipvs-udp-timeout', ['--ipvs-udp-timeout=7s'], (c) => { assert.equal(c.configuration.ipvs.udpTimeout, 7_000); }],
  ['detect-local-mode', ['--detect-local-mode=NodeCIDR'], (c) => { assert.equal(c.detectLocalMode, 'NodeCIDR'); }],
  ['pod-bridge-interface', ['--detect-local-mode=BridgeInterface', '--pod-bridge-interface=cbr0'], (c) => { assert.equal(c.detectLocal.bridgeInterface, 'cbr0'); }],
  ['pod-interface-name-prefix', ['--pod-interface-name-prefix=veth'], (c) => { assert.equal(c.detectLocal.interfaceNamePrefix, 'veth'); }],
  ['cluster-cidr', ['--cluster-cidr=10.244.0.0/16,fd00::/48'], (c) => { assert.deepEqual(c.clusterCIDRs.map((x) => x.text), ['10.244.0.0/16', 'fd00::/48']); }],
  ['nodeport-addresses', ['--nodeport-addresses=10.0.0.0/8', '--nodeport-addresses=primary'], (c) => { assert.deepEqual(c.configuration.nodePortAddresses, ['10.0.0.0/8', 'primary']); }],
  ['oom-score-adj', ['--oom-score-adj=-1000'], (c) => { assert.equal(c.oomScoreAdj, -1000); }],
  ['conntrack-max-per-core', ['--conntrack-max-per-core=0'], (c) => { assert.equal(c.conntrack.maxPerCore, 0); }],
  ['conntrack-min', ['--conntrack-min=1024'], (c) => { assert.equal(c.conntrack.min, 1024); }],
  ['conntrack-tcp-timeout-established', ['--conntrack-tcp-timeout-established=2h'], (c) => { assert.equal(c.conntrack.tcpEstablishedTimeoutMs, 7_200_000); }],
  ['conntrack-tcp-timeout-close-wait', ['--conntrack-tcp-timeout-close-wait=0s'], (c) => { assert.equal(c.conntrack.tcpCloseWaitTimeoutMs, 0); }],
  ['conntrack-tcp-be-liberal', ['--conntrack-tcp-be-liberal'], (c) => { assert.equal(c.conntrack.tcpBeLiberal, true); }],
  ['conntrack-udp-timeout', ['--conntrack-udp-timeout=30s'], (c) => { assert.equal(c.conntrack.udpTimeoutMs, 30_000); }],
  ['conntrack-udp-timeout-stream', ['--conntrack-udp-timeout-stream=2m'], (c) => { assert.equal(c.conntrack.udpStreamTimeoutMs, 120_000); }],
  ['config-sync-period', ['--config-sync-period=1m'], (c) => { assert.equal(c.configSyncPeriodMs, 60_000); }],
  ['healthz-port', ['--healthz-port=20000'], (c) => { assert.equal(c.healthzBindAddress?.text, '0.0.0.0:20000'); }],
  ['metrics-port', ['--metrics-port=0'], (c) => { assert.equal(c.metricsBindAddress, undefined); }],
  ['logging-format', ['--logging-format=text'], (c) => { assert.equal(c.logging.format, 'text'); }],
  ['log-flush-frequency', ['--log-flush-frequency=1s'], (c) => { assert.equal(c.logging.flushFrequencyMs, 1_000); }],
  ['v', ['-v', '5'], (c) => { assert.equal(c.logging.verbosity, 5); }],
  ['vmodule', ['--vmodule=proxier=4,sync*=2'], (c) => { assert.deepEqual(c.configuration.logging.vmodule, [{ filePattern: 'proxier', verbosity: 4 }, { filePattern: 'sync*', verbosity: 2 }]); }],
  ['log-text-split-stream', ['--log-text-split-stream'], (c) => { assert.equal(c.configuration.logging.options.text.splitStream, true); }],
  ['log-text-info-buffer-size', ['--log-text-info-buffer-size=64Ki'], (c) => { assert.equal(c.configuration.logging.options.text.infoBufferSize, '64Ki'); }],
  ['log-json-split-stream', ['--log-json-split-stream=true'], (c) => { assert.equal(c.configuration.logging.options.json.splitStream, true); }],
  ['log-json-info-buffer-size', ['--log-json-info-buffer-size=1M'], (c) => { assert.equal(c.configuration.logging.options.json.infoBufferSize, '1M'); }],
  ['help', [], () => undefined], // kind help: tested in help.test.ts
  ['version', [], () => undefined], // kind version: tested in help.test.ts
  ['userspace-algorithm', ['--userspace-algorithm=power-of-two-choices'], (c) => { assert.equal(c.userspace.algorithm, 'power-of-two-choices'); }],
  ['userspace-threads', ['--userspace-threads=4'], (c) => { assert.equal(c.userspace.threads, 4); }],
  ['control-plane-listen', ['--control-plane-listen=[::1]:7443'], (c) => { assert.deepEqual([c.controlPlane.requested, c.controlPlane.listen.text], [true, '[::1]:7443']); }],
  ['control-plane-data-dir', ['--control-plane-data-dir=/var/lib/kpts'], (c) => { assert.deepEqual([c.controlPlane.requested, c.controlPlane.dataDir], [true, '/var/lib/kpts']); }],
  ['control-plane-service-cidr', ['--control-plane-service-cidr=10.0.0.0/16,fd00:96::/112'], (c) => { assert.deepEqual(c.controlPlane.serviceCIDRs.map((x) => x.text), ['10.0.0.0/16', 'fd00:96::/112']); }],
  ['manifests', ['--manifests', '/srv/manifests'], (c) => { assert.deepEqual([c.controlPlane.requested, c.controlPlane.manifestsDir], [true, '/srv/manifests']); }],
];

const CONFIG_FILE = { '/c': file('') };

describe('every flag', () => {
  it('has a row in this table', () => {
    assert.deepEqual(EVERY_FLAG.map(([f]) => f).sort(), KUBE_PROXY_FLAGS.map((f) => f.name).sort());
  });
  for (const [flag, argv, check] of EVERY_FLAG) {
    if (argv.length === 0) continue;
    it(`--${flag}`, () => {
      check(run(argv, CONFIG_FILE).config);
    });
  }
});

describe('command-line syntax (pflag)', () => {
  const forms: [string, string[], Check][] = [
    ['--flag=value', ['--kubeconfig=/k'], (c) => { assert.equal(c.clientConnection.kubeconfig, '/k'); }],
    ['--flag value', ['--kubeconfig', '/k'], (c) => { assert.equal(c.clientConnection.kubeconfig, '/k'); }],
    ['-flag value (Go style)', ['-kubeconfig', '/k'], (c) => { assert.equal(c.clientConnection.kubeconfig, '/k'); }],
    ['-flag=value (Go style)', ['-kubeconfig=/k'], (c) => { assert.equal(c.clientConnection.kubeconfig, '/k'); }],
    ['-v=4', ['-v=4'], (c) => { assert.equal(c.logging.verbosity, 4); }],
    ['-v 4', ['-v', '4'], (c) => { assert.equal(c.logging.verbosity, 4); }],
    ['-v4', ['-v4'], (c) => { assert.equal(c.logging.verbosity, 4); }],
    ['--v=4', ['--v=4'], (c) => { assert.equal(c.logging.verbosity, 4); }],
    ['boolean --flag', ['--cleanup'], (c) => { assert.equal(c.cleanup, true); }],
    ['boolean --flag=false', ['--cleanup', '--cleanup=false'], (c) => { assert.equal(c.cleanup, false); }],
    ['boolean --flag=0 / =T', ['--profiling=T', '--cleanup=0'], (c) => { assert.deepEqual([c.enableProfiling, c.cleanup], [true, false]); }],
    ['underscores as dashes', ['--iptables_sync_period=5s'], (c) => { assert.equal(c.syncPeriodMs, 5_000); }],
    ['last value wins', ['--kube-api-burst=1', '--kube-api-burst=2'], (c) => { assert.equal(c.clientConnection.burst, 2); }],
    ['int32 in hex', ['--kube-api-burst=0x10'], (c) => { assert.equal(c.clientConnection.burst, 16); }],
    ['value starting with a dash', ['--oom-score-adj', '-500'], (c) => { assert.equal(c.oomScoreAdj, -500); }],
    ['empty string positional is ignored', [''], (c) => { assert.equal(c.mode, 'nftables'); }],
    ['repeated --feature-gates merge', ['--feature-gates=AllAlpha=true', '--feature-gates', 'AllBeta=false,AllAlpha=false'], (c) => { assert.deepEqual(c.featureGates, { AllAlpha: false, AllBeta: false }); }],
    ['--nodeport-addresses= clears', ['--nodeport-addresses='], (c) => { assert.deepEqual(c.nodePortAddresses, { primary: true, cidrs: [] }); }],
  ];
  for (const [name, argv, check] of forms) {
    it(name, () => {
      check(run(argv).config);
    });
  }

  it('rejects a boolean value given as a separate argument (pflag treats it as an argument)', () => {
    assert.match(fail(['--cleanup', 'false']).message, /does not take any arguments, got \["false"\]/);
  });

  it('treats everything after -- as arguments', () => {
    assert.match(fail(['--', '--cleanup']).message, /does not take any arguments/);
  });
});

describe('flags and the configuration file', () => {
  const f = {
    '/c': file(`mode: iptables
iptables:
  syncPeriod: 10s
  minSyncPeriod: 2s
  masqueradeAll: false
clientConnection:
  kubeconfig: /from/file
  qps: 7
hostnameOverride: from-file
logging:
  verbosity: 2
conntrack:
  maxPerCore: 1
`),
  };

  it('explicit flags override the file; everything else keeps the file value', () => {
    const { config } = run(['--config=/c', '--kubeconfig=/from/flag', '--iptables-sync-period=20s', '-v=6', '--hostname-override=from-flag'], f);
    assert.equal(config.clientConnection.kubeconfig, '/from/flag');
    assert.equal(config.syncPeriodMs, 20_000);
    assert.equal(config.minSyncPeriodMs, 2_000, 'not given on the command line: file value kept');
    assert.equal(config.clientConnection.qps, 7);
    assert.equal(config.conntrack.maxPerCore, 1, 'flag defaults never override the file');
    assert.equal(config.logging.verbosity, 6);
    assert.equal(config.hostnameOverride, 'from-flag');
  });

  it('flags equal to their default still override the file', () => {
    const { config } = run(['--config=/c', '--conntrack-max-per-core=32768'], f);
    assert.equal(config.conntrack.maxPerCore, 32768);
  });

  it('--proxy-mode picks the section the other flags and the file values apply to', () => {
    const { config } = run(['--config=/c', '--proxy-mode=nftables', '--masquerade-all'], f);
    assert.equal(config.mode, 'nftables');
    assert.equal(config.syncPeriodMs, 30_000, 'the nftables section, untouched by the file');
    assert.equal(config.masqueradeAll, true);
    assert.equal(config.configuration.nftables.masqueradeAll, true);
    assert.equal(config.configuration.iptables.masqueradeAll, false);
  });

  it('--iptables-* sync flags set the nftables section in nftables mode (as upstream)', () => {
    const { config } = run(['--iptables-sync-period=1m', '--iptables-min-sync-period=10s']);
    assert.equal(config.configuration.nftables.syncPeriod, 60_000);
    assert.equal(config.configuration.nftables.minSyncPeriod, 10_000);
    assert.equal(config.configuration.iptables.syncPeriod, 30_000);
    assert.deepEqual([config.syncPeriodMs, config.minSyncPeriodMs], [60_000, 10_000]);
  });

  it('--iptables-masquerade-bit sets only iptables.masqueradeBit (nftables reads its own, as upstream)', () => {
    const { config } = run(['--iptables-masquerade-bit=5']);
    assert.equal(config.configuration.iptables.masqueradeBit, 5);
    assert.equal(config.masqueradeBit, 14);
  });

  it('--healthz-bind-address= (empty) disables the health server; a bare IP gets the default port', () => {
    assert.equal(run(['--healthz-bind-address=']).config.healthzBindAddress, undefined);
    assert.equal(run(['--healthz-bind-address=::']).config.healthzBindAddress?.text, '[::]:10256');
    assert.equal(run(['--healthz-bind-address=10.1.1.1', '--healthz-port=1111']).config.healthzBindAddress?.text, '10.1.1.1:1111');
  });

  it('deprecated flags warn', () => {
    const r = load(['--metrics-port=10000']);
    assert.ok(r.kind === 'run');
    assert.match(r.warnings.join('\n'), /--metrics-port has been deprecated/);
    assert.equal(r.config.metricsBindAddress?.text, '127.0.0.1:10000');
  });
});
