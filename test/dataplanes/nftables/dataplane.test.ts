// The dataplane against a recording fake runner: what each sync writes, when, and what it
// remembers (cf. upstream TestSyncProxyRulesRepeated).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftablesDataplane, NftSyncError } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { local, makeEndpoint, makePort, makeSnapshot, testOptions } from './fixtures.ts';
import { FakeClock, RecordingMetrics, RecordingRunner } from './kit.ts';
import type { Endpoint, ServicePort } from '../../../src/model/types.ts';

type Port = readonly [ServicePort, readonly Endpoint[]];

function setup(): { dp: NftablesDataplane; runner: RecordingRunner; clock: FakeClock; metrics: RecordingMetrics } {
  const runner = new RecordingRunner();
  const clock = new FakeClock();
  const metrics = new RecordingMetrics();
  const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), clock, metrics, readKernelOnFullSync: false });
  return { dp, runner, clock, metrics };
}

const svc = (ns: string, name: string, ip: string, port: number, eps: readonly Endpoint[], fn?: Parameters<typeof makePort>[3]): Port =>
  [makePort(ns, name, `p${String(port)}`, (s) => { s.clusterIP = ip; s.port = port; fn?.(s); }), eps];

const svc1 = svc('ns1', 'svc1', '172.30.0.41', 80, [makeEndpoint('10.0.1.1', 80)]);
const svc2 = svc('ns2', 'svc2', '172.30.0.42', 8080, [makeEndpoint('10.0.2.1', 8080)]);
const svc3 = svc('ns3', 'svc3', '172.30.0.43', 80, [makeEndpoint('10.0.3.1', 80)]);

describe('nftables dataplane syncs', () => {
  it('writes only what changed, flushes then later deletes stale chains (TestSyncProxyRulesRepeated)', async () => {
    const { dp, runner, clock } = setup();
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1, svc2] })] });
    assert.match(runner.last, /^add table ip kube-proxy/);

    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc2, svc3], changed: ['ns3/svc3'] })] });
    // add 1 element to cluster-ips and service-ips; add+flush 2 chains with 2 rules each.
    assert.equal(runner.lastLines().length, 10, runner.last);
    assert.doesNotMatch(runner.last, /svc1|svc2/);

    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: ['ns2/svc2'] })] });
    // delete 2 elements, flush 2 chains.
    assert.deepEqual(runner.lastLines().sort(), [
      'delete element ip kube-proxy cluster-ips { 172.30.0.42 }',
      'delete element ip kube-proxy service-ips { 172.30.0.42 . tcp . 8080 }',
      'flush chain ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080',
      'flush chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080',
    ]);

    const before = runner.scripts.length;
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: [] })] });
    assert.equal(runner.scripts.length, before, 'too early to delete; nothing else to do');
    clock.advance(1001);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: [] })] });
    assert.deepEqual(runner.lastLines().sort(), [
      'delete chain ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080',
      'delete chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080',
    ]);
    assert.equal(dp.stateOf('IPv4')?.staleChains.size, 0);

    // A service without endpoints, then its endpoints.
    const svc4 = svc('ns4', 'svc4', '172.30.0.44', 80, []);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3, svc4], changed: ['ns4/svc4'] })] });
    assert.deepEqual(runner.lastLines().sort(), [
      'add element ip kube-proxy cluster-ips { 172.30.0.44 }',
      'add element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 comment "ns4/svc4:p80" : goto reject-chain }',
    ]);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3, svc('ns4', 'svc4', '172.30.0.44', 80, [makeEndpoint('10.0.4.1', 80)])], changed: ['ns4/svc4'] })] });
    assert.ok(runner.lastLines().includes('delete element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 }'));
    assert.ok(runner.lastLines().some((l) => l.startsWith('add element ip kube-proxy service-ips { 172.30.0.44 . tcp . 80 : goto service-')));
    assert.ok(!runner.lastLines().some((l) => l.includes('cluster-ips')), 'cluster-ips element unchanged');
  });

  it('adding one endpoint rewrites the service chain and the new endpoint chain only', async () => {
    const { dp, runner } = setup();
    const eps = Array.from({ length: 50 }, (_, i) => makeEndpoint(`10.0.9.${String(i + 1)}`, 80));
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc('ns', 'big', '172.30.0.9', 80, eps)] })] });
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc('ns', 'big', '172.30.0.9', 80, [...eps, makeEndpoint('10.0.9.99', 80)])], changed: ['ns/big'] })] });
    const chains = runner.lastLines().filter((l) => l.startsWith('flush chain')).map((l) => l.split(' ')[4] ?? '');
    assert.equal(chains.length, 2, runner.last);
    assert.ok(chains.some((c) => c.startsWith('service-')));
    assert.ok(chains.some((c) => c.endsWith('__10.0.9.99/80')));
  });

  it('a failed transaction throws with nft stderr, leaves the record alone, forces a full sync', async () => {
    const { dp, runner, metrics } = setup();
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1] })] });
    const state = dp.stateOf('IPv4');
    const chainsBefore = [...(state?.chains ?? [])];
    const elementsBefore = state?.elementCount();
    runner.failNext = 1;
    await assert.rejects(dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc2], changed: ['ns2/svc2'] })] }),
      (e: unknown) => e instanceof NftSyncError && e.stderr === 'Error: injected');
    assert.deepEqual([...(state?.chains ?? [])], chainsBefore);
    assert.equal(state?.elementCount(), elementsBefore);
    assert.equal(metrics.failures, 1);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc2], changed: [] })] });
    assert.match(runner.last, /^add table ip kube-proxy/, 'forced full sync');
    assert.match(runner.last, /svc2/);
  });

  it('session affinity: sets appear, change timeout (re-created), disappear', async () => {
    const { dp, runner } = setup();
    const aff = (t: number): Port => svc('ns5', 'svc5', '172.30.0.45', 80, [makeEndpoint('10.180.0.3', 80)], (s) => { s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: t }; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [aff(10800)] })] });
    assert.match(runner.last, /add set ip kube-proxy affinity-GTK6MW7G-ns5\/svc5\/tcp\/p80__10\.180\.0\.3\/80 \{ type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; \}/);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [aff(60)], changed: ['ns5/svc5'] })] });
    const l = runner.lastLines();
    const del = l.findIndex((x) => x.startsWith('delete set'));
    const add = l.findIndex((x) => x.includes('timeout 60s'));
    const flush = l.findIndex((x) => x.startsWith('flush chain') && x.includes('endpoint-'));
    assert.ok(flush >= 0 && flush < del && del < add, runner.last);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc('ns5', 'svc5', '172.30.0.45', 80, [makeEndpoint('10.180.0.3', 80)])], changed: ['ns5/svc5'] })] });
    assert.ok(runner.lastLines().some((x) => x.startsWith('delete set ip kube-proxy affinity-')));
    assert.equal(dp.stateOf('IPv4')?.affinitySets.size, 0);
  });

  it('reports metrics: kinds, counts, no-local-endpoint gauges', async () => {
    const { dp, metrics } = setup();
    const etpLocal = svc('ns6', 'lb', '172.30.0.46', 80, [makeEndpoint('10.0.6.1', 80)], (s) => { s.nodePort = 30006; s.externalPolicyLocal = true; });
    const itpLocal = svc('ns7', 'itp', '172.30.0.47', 80, [makeEndpoint('10.0.7.1', 80)], (s) => { s.internalPolicyLocal = true; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [etpLocal, itpLocal] })] });
    assert.equal(metrics.noLocal.get('IPv4/external'), 1);
    assert.equal(metrics.noLocal.get('IPv4/internal'), 1);
    const withLocal = svc('ns6', 'lb', '172.30.0.46', 80, [makeEndpoint('10.0.6.1', 80, local)], (s) => { s.nodePort = 30006; s.externalPolicyLocal = true; });
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [withLocal, itpLocal], changed: ['ns6/lb'] })] });
    assert.equal(metrics.noLocal.get('IPv4/external'), 0);
    assert.deepEqual(metrics.reports.map((r) => r.kind), ['full', 'partial']);
    const last = metrics.reports.at(-1);
    assert.ok(last && last.chains > 0 && last.elements > 0);
  });

  it('serializes concurrent syncs', async () => {
    const { dp, runner } = setup();
    await Promise.all([
      dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1] })] }),
      dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc2], changed: ['ns2/svc2'] })] }),
    ]);
    assert.equal(runner.scripts.length, 2);
    assert.match(runner.scripts[1] ?? '', /svc2/);
  });
});
