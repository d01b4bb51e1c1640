import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { configz, toV1Alpha1 } from '../../../src/cli/config/effective.ts';
import type { EffectiveConfig } from '../../../src/cli/config/types.ts';
import { file, load, run } from './helpers.ts';

function writeConfig(argv: readonly string[], files: Record<string, string> = {}): string {
  const r = load(['--write-config-to', '/out.yaml', ...argv], files);
  if (r.kind !== 'write-config') assert.fail(`expected write-config, got ${r.kind}: ${r.kind === 'error' ? r.message : ''}`);
  assert.equal(r.path, '/out.yaml');
  return r.yaml;
}

/** Everything that comes from the configuration (not from non-config flags). */
function configPart(c: EffectiveConfig): unknown {
  return { ...c, configFile: undefined, cleanup: undefined, initOnly: undefined, controlPlane: undefined, clientConnection: { ...c.clientConnection, master: undefined } };
}

const SCENARIOS: [name: string, argv: string[], files?: Record<string, string>][] = [
  ['defaults', []],
  ['iptables mode with many flags', ['--proxy-mode=iptables', '--iptables-sync-period=1h2m3.5s', '--iptables-min-sync-period=250ms', '--masquerade-all', '--iptables-masquerade-bit=3', '--iptables-localhost-nodeports=false', '--cluster-cidr=10.0.0.0/8,fd00::/8', '--nodeport-addresses=10.0.0.0/8,localhost', '--conntrack-tcp-timeout-established=0s', '--conntrack-udp-timeout=500ms', '--feature-gates=AllBeta=true', '--kube-api-qps=0.5', '--healthz-bind-address=[::]:1', '--metrics-bind-address=10.1.2.3:4', '-v=7', '--logging-format=json', '--vmodule=a=1']],
  ['userspace with an algorithm', ['--proxy-mode=userspace', '--userspace-algorithm=source-hash', '--hostname-override=NODE']],
  ['userspace with the default algorithm', ['--proxy-mode=userspace']],
  ['a file plus flags', ['--config=/c', '--detect-local-mode=BridgeInterface', '--pod-bridge-interface=cni0'], {
    '/c': file('mode: nftables\nnftables:\n  syncPeriod: 90s\n  minSyncPeriod: 1.5s\n  masqueradeAll: true\nwinkernel:\n  networkName: ignored\nportRange: "100+10"\nshowHiddenMetricsForVersion: "1.33"\niptables:\n  snatNodeInternalIP: true\n'),
  }],
];

describe('--write-config-to', () => {
  for (const [name, argv, files] of SCENARIOS) {
    it(`round-trips: ${name}`, () => {
      const yaml = writeConfig(argv, files);
      const original = run(argv, files).config;
      const reloaded = run(['--config=/out.yaml'], { '/out.yaml': yaml }).config;
      assert.deepEqual(reloaded.configuration, original.configuration);
      assert.deepEqual(configPart(reloaded), configPart(original));
      assert.equal(writeConfig(['--config=/out.yaml'], { '/out.yaml': yaml }), yaml, 'writing it again is byte-identical');
    });
  }

  it('writes KubeProxyConfiguration YAML with Go duration strings and sorted keys', () => {
    const yaml = writeConfig(['--iptables-sync-period=90s']);
    const doc: unknown = parse(yaml);
    assert.ok(typeof doc === 'object' && doc !== null);
    assert.match(yaml, /^apiVersion: kubeproxy\.config\.k8s\.io\/v1alpha1\n/);
    assert.match(yaml, /\nkind: KubeProxyConfiguration\n/);
    assert.match(yaml, /\nnftables:\n {2}masqueradeAll: false\n {2}masqueradeBit: 14\n {2}minSyncPeriod: 1s\n {2}syncPeriod: 1m30s\n/);
    const keys = Object.keys(doc);
    assert.deepEqual(keys, [...keys].sort());
  });

  it('does not write our userspace section unless it says something (stays loadable upstream)', () => {
    assert.doesNotMatch(writeConfig([]), /userspace/);
    assert.match(writeConfig(['--userspace-algorithm=random']), /\nuserspace:\n {2}algorithm: random\n/);
  });

  it('quotes strings YAML 1.1 would read as something else', () => {
    const yaml = writeConfig(['--hostname-override=on', '--show-hidden-metrics-for-version=1.33']);
    assert.match(yaml, /hostnameOverride: "on"/);
    assert.match(yaml, /showHiddenMetricsForVersion: "1.33"/);
    assert.equal(run(['--config=/o'], { '/o': yaml }).config.hostnameOverride, 'on');
  });

  it('cannot express zero values that upstream defaults (known loss, same as upstream)', () => {
    // A zero in the file means "default" (kubeadm writes `minSyncPeriod: 0s`, `healthzBindAddress:
    // ""` for "unset"), so a zero set by a flag comes back as the default.
    const yaml = writeConfig(['--iptables-min-sync-period=0', '--healthz-bind-address=']);
    assert.match(yaml, /\n {2}minSyncPeriod: 0s\n {2}syncPeriod: 30s\n/);
    assert.match(yaml, /\nhealthzBindAddress: ""\n/);
    const reloaded = run(['--config=/o'], { '/o': yaml }).config;
    assert.equal(reloaded.minSyncPeriodMs, 1_000);
    assert.equal(reloaded.healthzBindAddress?.text, '0.0.0.0:10256');
  });

  it('validates before writing', () => {
    assert.equal(load(['--write-config-to=/o', '--proxy-mode=ipvs']).kind, 'error');
  });

  it('wins over --cleanup (as upstream: written before anything runs)', () => {
    assert.equal(load(['--write-config-to=/o', '--cleanup']).kind, 'write-config');
  });
});

describe('/configz', () => {
  it('publishes the v1alpha1 object under the API group', () => {
    const { config } = run(['--proxy-mode=iptables']);
    const body = configz(config);
    assert.deepEqual(Object.keys(body), ['kubeproxy.config.k8s.io']);
    assert.deepEqual(body['kubeproxy.config.k8s.io'], toV1Alpha1(config.configuration));
    const json = JSON.parse(JSON.stringify(body)) as { 'kubeproxy.config.k8s.io': { iptables: { syncPeriod: string } } };
    assert.equal(json['kubeproxy.config.k8s.io'].iptables.syncPeriod, '30s');
  });
});
