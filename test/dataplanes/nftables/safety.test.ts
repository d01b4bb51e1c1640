// Hostile values never reach an nft script: the renderer rejects them per service, on its own,
// whatever the model let through.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderFamily } from '../../../src/dataplanes/nftables/render.ts';
import { dumpRuleset } from '../../../src/dataplanes/nftables/ruleset.ts';
import { NftConfigError, NftUnsafeValueError } from '../../../src/dataplanes/nftables/errors.ts';
import { resolveFamilyContext } from '../../../src/dataplanes/nftables/options.ts';
import { NftablesDataplane } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { memoryLogger } from '../../../src/util/logger.ts';
import { makeEndpoint, makePort, makeSnapshot, portName, testOptions } from './fixtures.ts';
import { RecordingRunner } from './kit.ts';

const INJECT = '"; flush ruleset;';

const hostile: readonly [string, ReturnType<typeof makePort>][] = [
  ['port name', makePort('ns1', 'evil', 'p', (s) => { s.name = { ...portName('ns1', 'evil', 'p'), port: `p80${INJECT}` }; })],
  ['namespace', makePort('ns1', 'evil', 'p', (s) => { s.name = { ...portName('ns1', 'evil', 'p'), namespace: 'ns1 } ; flush ruleset ; #' }; })],
  ['service name with newline', makePort('ns1', 'evil', 'p', (s) => { s.name = { ...portName('ns1', 'evil', 'p'), name: 'evil\nflush ruleset' }; })],
  ['service name upper case', makePort('ns1', 'evil', 'p', (s) => { s.name = { ...portName('ns1', 'evil', 'p'), name: 'Evil' }; })],
  ['clusterIP', makePort('ns1', 'evil', 'p', (s) => { s.clusterIP = '172.30.0.1 } ; flush ruleset'; })],
  ['IPv6 clusterIP in an IPv4 snapshot', makePort('ns1', 'evil', 'p', (s) => { s.clusterIP = 'fd00::1'; })],
  ['external IP', makePort('ns1', 'evil', 'p', (s) => { s.externalIPs = ['1.2.3.4;']; })],
  ['LB IP', makePort('ns1', 'evil', 'p', (s) => { s.loadBalancerVIPs = ['1.2.3.4 drop']; })],
  ['source range', makePort('ns1', 'evil', 'p', (s) => { s.loadBalancerVIPs = ['1.2.3.4']; s.loadBalancerSourceRanges = ['0.0.0.0/0 } accept ; {']; })],
  ['port', makePort('ns1', 'evil', 'p', (s) => { s.port = 70000; })],
  ['nodePort', makePort('ns1', 'evil', 'p', (s) => { s.nodePort = -1; })],
  ['fractional port', makePort('ns1', 'evil', 'p', (s) => { s.port = 80.5; })],
  ['affinity timeout', makePort('ns1', 'evil', 'p', (s) => { s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: Number.NaN }; })],
];

describe('nftables renderer safety', () => {
  for (const [what, sp] of hostile) {
    it(`skips a service with a hostile ${what}, keeps the others`, () => {
      const good = makePort('ns1', 'good', 'p80', (s) => { s.clusterIP = '172.30.0.2'; });
      const snap = makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.0.1', 80)]], [good, [makeEndpoint('10.0.0.2', 80)]]] });
      const rs = renderFamily(snap, testOptions());
      assert.equal(rs.skipped.length, 1);
      assert.ok(rs.skipped[0]?.error instanceof NftUnsafeValueError);
      assert.ok(rs.services.has(good.name.key));
      const script = dumpRuleset(rs);
      assert.doesNotMatch(script, /flush ruleset|accept ;|drop"|\n[^a]/);
      assert.doesNotMatch(script, /evil/);
    });
  }

  it('skips a service whose endpoint IP is hostile', () => {
    const sp = makePort('ns1', 'svc', 'p80');
    const rs = renderFamily(makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.0.1:80 ; flush ruleset', 80)]]] }), testOptions());
    assert.equal(rs.skipped[0]?.error instanceof NftUnsafeValueError, true);
    assert.equal(rs.services.size, 0);
  });

  it('rejects hostile options with a config error', () => {
    for (const over of [
      { localDetector: { mode: 'BridgeInterface', interfaceName: 'cbr0" ; flush ruleset' } },
      { localDetector: { mode: 'InterfaceNamePrefix', prefix: 'a b' } },
      { localDetector: { mode: 'ClusterCIDR', cidrs: ['10.0.0.0/8 }'] } },
      { serviceCIDRs: ['172.30.0.0/99'] },
      { nodeIPs: ['192.168.0.2; drop'] },
      { masqueradeBit: 40 },
    ] as const) {
      assert.throws(() => resolveFamilyContext('IPv4', testOptions('IPv4', over)), NftConfigError, JSON.stringify(over));
    }
  });

  it('the dataplane logs a skipped service with kind, name, field and value, and syncs the rest', async () => {
    const { logger, records } = memoryLogger(0);
    const runner = new RecordingRunner();
    const dp = new NftablesDataplane({ runner, logger, render: testOptions(), readKernelOnFullSync: false });
    const [, evil] = hostile[0] ?? [];
    assert.ok(evil);
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [[evil, []], [makePort('ns1', 'good', 'p80'), []]] })] });
    const rec = records.find((r) => r['msg'] === 'skipping service: value unsafe for nftables');
    assert.ok(rec);
    assert.equal(rec['kind'], 'Service');
    assert.equal(rec['service'], 'ns1/evil');
    assert.equal(rec['field'], 'port name');
    assert.equal(rec['value'], `p80${INJECT}`);
    assert.doesNotMatch(runner.last, /flush ruleset/);
    assert.match(runner.last, /ns1\/good/);
  });
});
