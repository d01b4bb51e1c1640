// The dataplane against a recording fake runner: what each sync writes, when, and what it
// remembers (cf. upstream TestSyncProxyRulesRepeated).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftablesDataplane, NftSyncError } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { local, makeEndpoint, makePort, makeSnapshot, testOptions } from './fixtures.ts';
import { FakeClock, RecordingMetrics, RecordingRunner } from './kit.ts';
import { FakeClock as TimerClock } from '../../helpers/fake-clock.ts';
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

// NodePort services: they keep per-port chains (service + external).
const svc1 = svc('ns1', 'svc1', '172.30.0.41', 80, [makeEndpoint('10.0.1.1', 80)], (s) => { s.nodePort = 30001; });
const svc2 = svc('ns2', 'svc2', '172.30.0.42', 8080, [makeEndpoint('10.0.2.1', 8080)], (s) => { s.nodePort = 30002; });
const svc3 = svc('ns3', 'svc3', '172.30.0.43', 80, [makeEndpoint('10.0.3.1', 80)], (s) => { s.nodePort = 30003; });
// ClusterIP-only services: pure data behind the shared lb chains.
const cip = (n: number, eps: readonly string[]): Port => svc(`ns${String(n)}`, `c${String(n)}`, `172.30.1.${String(n)}`, 80, eps.map((ip) => makeEndpoint(ip, 8080)));

/** Statements that make nft 1.0.x list every chain into its cache first. */
const CACHE_FILLING = /^(add rule|add element|delete|insert|replace) /;

describe('nftables dataplane syncs', () => {
  it('reads the kernel back on every full sync of a small ruleset, and of a large one only on rewrites and every kernelReadIntervalMs', async () => {
    const reads = async (ports: readonly Port[]): Promise<number[]> => {
      const runner = new RecordingRunner();
      const clock = new FakeClock();
      const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), clock, kernelReadIntervalMs: 600_000 });
      const out: number[] = [];
      const full = async (): Promise<void> => {
        const before = runner.queries.length;
        await dp.sync({ full: true, families: [makeSnapshot({ ports })] });
        out.push(runner.queries.length - before);
      };
      await full(); // rewrite: the first sync of a process
      await full(); // resync
      clock.advance(600_000);
      await full(); // resync, interval passed
      return out.map((n) => (n > 0 ? 1 : 0));
    };
    assert.deepEqual(await reads([cip(1, ['10.0.1.1'])]), [1, 1, 1], 'small: always');
    const large = Array.from({ length: 2_100 }, (_, i) => svc(`ns${String(i)}`, `l${String(i)}`, `172.31.${String(i >> 8)}.${String(i & 255)}`, 80,
      Array.from({ length: 10 }, (_, j) => makeEndpoint(`10.9.${String(i >> 8)}.${String(i & 255)}`, 8000 + j))));
    assert.deepEqual(await reads(large), [1, 0, 1], 'large: first, then not before the interval');
  });

  it('writes only what changed, defers deletions, then deletes them in a cleanup transaction (TestSyncProxyRulesRepeated)', async () => {
    const { dp, runner, clock } = setup();
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1, svc2] })] });
    assert.match(runner.last, /^add table ip kube-proxy/);

    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc2, svc3], changed: ['ns3/svc3'] })] });
    assert.deepEqual(runner.lastLines(), [
      'add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80',
      'add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80',
      'add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 { ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade ; meta l4proto tcp dnat to 10.0.3.1:80 ; }',
      'add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 { jump mark-for-masquerade ; goto service-4AT6LBPK-ns3/svc3/tcp/p80 ; }',
      'add set ip kube-proxy cluster-ips { type ipv4_addr ; elements = { 172.30.0.43 } }',
      'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; elements = { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 } }',
      'add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; elements = { tcp . 30003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 } }',
      'add set ip kube-proxy hairpin-ips { type ipv4_addr . ipv4_addr ; elements = { 10.0.3.1 . 10.0.3.1 } }',
    ]);
    assert.ok(runner.lastLines().every((l) => !CACHE_FILLING.test(l)), 'no statement fills nft\'s chain cache');

    // svc2 goes: its chains are flushed now; its elements jump to those empty chains, harmless,
    // and wait for the cleanup.
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: ['ns2/svc2'] })] });
    assert.deepEqual(runner.lastLines(), [
      'flush chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080',
      'flush chain ip kube-proxy external-MHHHYRWA-ns2/svc2/tcp/p8080',
    ]);

    const before = runner.scripts.length;
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: [] })] });
    assert.equal(runner.scripts.length, before, 'too early to delete; nothing else to do');
    clock.advance(1001);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: [] })] });
    assert.deepEqual(runner.lastLines(), [
      'delete element ip kube-proxy cluster-ips { 172.30.0.42 }',
      'delete element ip kube-proxy service-ips { 172.30.0.42 . tcp . 8080 }',
      'delete element ip kube-proxy service-nodeports { tcp . 30002 }',
      'delete chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080',
      'delete chain ip kube-proxy external-MHHHYRWA-ns2/svc2/tcp/p8080',
    ], 'elements go before the chains they jump to');
    const state = dp.stateOf('IPv4');
    assert.equal(state?.staleCount(), 0);
    assert.equal(state.elements.get('kube-proxy service-ips')?.has('172.30.0.42 . tcp . 8080'), false);

    // A service without endpoints, then its endpoints: the no-endpoint element may stay until
    // the cleanup (it only acts on packets that were not DNATed).
    const svc4 = svc('ns4', 'svc4', '172.30.0.44', 80, []);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3, svc4], changed: ['ns4/svc4'] })] });
    assert.deepEqual(runner.lastLines(), [
      'add set ip kube-proxy cluster-ips { type ipv4_addr ; elements = { 172.30.0.44 } }',
      'add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; elements = { 172.30.0.44 . tcp . 80 comment "ns4/svc4:p80" : goto reject-chain } }',
    ]);
    const svc4up = svc('ns4', 'svc4', '172.30.0.44', 80, [makeEndpoint('10.0.4.1', 80)]);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3, svc4up], changed: ['ns4/svc4'] })] });
    assert.ok(runner.lastLines().includes('add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; elements = { 172.30.0.44 . tcp . 80 : goto lb-1 } }'), runner.last);
    assert.ok(runner.lastLines().every((l) => !CACHE_FILLING.test(l)), runner.last);
    assert.equal(state.staleElements.get('kube-proxy no-endpoint-services')?.has('172.30.0.44 . tcp . 80'), true);
    clock.advance(1001);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3, svc4up], changed: [] })] });
    assert.deepEqual(runner.lastLines(), ['delete element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 }']);
  });

  it('ClusterIP-only services are data: added, changed and removed through elements of the backends map', async () => {
    const { dp, runner, clock } = setup();
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2'])] })] });
    assert.match(runner.last, /^add rule ip kube-proxy lb-2 meta l4proto tcp dnat ip to ip daddr \. tcp dport \. numgen random mod 2 map @lb-backends-tcp$/m);

    // Added with the same endpoint count: elements only, the shared chain exists.
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2']), cip(2, ['10.0.2.1', '10.0.2.2'])], changed: ['ns2/c2'] })] });
    assert.deepEqual(runner.lastLines(), [
      'add set ip kube-proxy cluster-ips { type ipv4_addr ; elements = { 172.30.1.2 } }',
      'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; elements = { 172.30.1.2 . tcp . 80 : goto lb-2 } }',
      'add map ip kube-proxy lb-backends-tcp { typeof ip daddr . tcp dport . numgen random mod 2 : ip daddr . tcp dport ; elements = { 172.30.1.2 . 80 . 0 : 10.0.2.1 . 8080 , 172.30.1.2 . 80 . 1 : 10.0.2.2 . 8080 } }',
      'add set ip kube-proxy hairpin-ips { type ipv4_addr . ipv4_addr ; elements = { 10.0.2.1 . 10.0.2.1 , 10.0.2.2 . 10.0.2.2 } }',
    ]);

    // One endpoint replaced: one element changes value.
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2']), cip(2, ['10.0.2.1', '10.0.2.9'])], changed: ['ns2/c2'] })] });
    assert.deepEqual(runner.lastLines(), [
      'delete element ip kube-proxy lb-backends-tcp { 172.30.1.2 . 80 . 1 }',
      'add map ip kube-proxy lb-backends-tcp { typeof ip daddr . tcp dport . numgen random mod 2 : ip daddr . tcp dport ; elements = { 172.30.1.2 . 80 . 1 : 10.0.2.9 . 8080 } }',
      'add set ip kube-proxy hairpin-ips { type ipv4_addr . ipv4_addr ; elements = { 10.0.2.9 . 10.0.2.9 } }',
    ]);

    // A third endpoint: the port moves to lb-3 (created now); its extra backend is added.
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2']), cip(2, ['10.0.2.1', '10.0.2.3', '10.0.2.9'])], changed: ['ns2/c2'] })] });
    const l = runner.lastLines();
    assert.ok(l.some((x) => x.startsWith('add chain ip kube-proxy lb-3 {')), runner.last);
    assert.ok(l.includes('delete element ip kube-proxy service-ips { 172.30.1.2 . tcp . 80 }'), runner.last);
    assert.ok(l.some((x) => x.includes('172.30.1.2 . tcp . 80 : goto lb-3')), runner.last);
    assert.ok(l.some((x) => x.includes('172.30.1.2 . 80 . 2 : 10.0.2.9 . 8080')), runner.last);

    // Removed: the dispatch element goes now (lb-3 stays live for others); the backends are
    // unreachable without it and wait for the cleanup.
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2'])], changed: ['ns2/c2'] })] });
    assert.deepEqual(runner.lastLines(), ['delete element ip kube-proxy service-ips { 172.30.1.2 . tcp . 80 }']);
    clock.advance(1001);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [cip(1, ['10.0.1.1', '10.0.1.2'])], changed: [] })] });
    assert.deepEqual(runner.lastLines().sort(), [
      'delete element ip kube-proxy cluster-ips { 172.30.1.2 }',
      'delete element ip kube-proxy lb-backends-tcp { 172.30.1.2 . 80 . 0 }',
      'delete element ip kube-proxy lb-backends-tcp { 172.30.1.2 . 80 . 1 }',
      'delete element ip kube-proxy lb-backends-tcp { 172.30.1.2 . 80 . 2 }',
    ]);
  });

  it('two Services claiming one element: the smaller owner wins; when it goes, the other takes over, and back', async () => {
    const { dp, runner } = setup();
    const shared = (name: string, ip: string, ep: string): Port => svc('ns', name, ip, 80, [makeEndpoint(ep, 80)], (s) => { s.externalIPs = ['192.0.2.10']; });
    const a = shared('a', '172.30.2.1', '10.0.5.1');
    const b = shared('b', '172.30.2.2', '10.0.5.2');
    const key = '192.0.2.10 . tcp . 80';
    const target = (): string | undefined => dp.stateOf('IPv4')?.elements.get('kube-proxy service-ips')?.get(key);
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [b, a] })] });
    assert.match(target() ?? '', /external-\w+-ns\/a\//, 'ns/a wins over ns/b');
    assert.equal(runner.last.split(key).length - 1, 1, 'the kernel gets one element');

    await dp.sync({ full: false, families: [makeSnapshot({ ports: [b], changed: ['ns/a'] })] });
    assert.match(target() ?? '', /external-\w+-ns\/b\//, 'ns/b takes over (its payload from its record)');
    assert.ok(runner.lastLines().some((l) => l === `delete element ip kube-proxy service-ips { ${key} }`), runner.last);
    assert.ok(runner.lastLines().some((l) => l.includes(`${key} : goto external-`) && l.includes('ns/b/')), runner.last);

    await dp.sync({ full: false, families: [makeSnapshot({ ports: [a, b], changed: ['ns/a'] })] });
    assert.match(target() ?? '', /external-\w+-ns\/a\//, 'ns/a back');
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [a], changed: ['ns/b'] })] });
    assert.match(target() ?? '', /external-\w+-ns\/a\//, 'ns/b leaving changes nothing');
    assert.ok(!runner.lastLines().some((l) => l.includes(key)), 'no statement for the shared key');
    // A full sync agrees with what the partial ones left.
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [a] })] });
    assert.match(target() ?? '', /external-\w+-ns\/a\//);
    assert.deepEqual([...(dp.stateOf('IPv4')?.owners.get('kube-proxy service-ips')?.values() ?? [])].filter((o) => typeof o !== 'string'), [], 'one owner per key left');
  });

  it('deletes at once what must not linger: an element whose target chain stays live', async () => {
    const { dp, runner } = setup();
    const withExt = (ips: string[]): Port => svc('ns5', 'ext', '172.30.0.50', 80, [makeEndpoint('10.0.5.1', 80)], (s) => { s.externalIPs = ips; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [withExt(['192.168.99.50', '192.168.99.51'])] })] });
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [withExt(['192.168.99.50'])], changed: ['ns5/ext'] })] });
    // The external chain still serves 192.168.99.50: the element for .51 must go now.
    assert.deepEqual(runner.lastLines(), ['delete element ip kube-proxy service-ips { 192.168.99.51 . tcp . 80 }']);
  });

  it('changing one endpoint of a big NodePort service rewrites its service chain only', async () => {
    const { dp, runner } = setup();
    const eps = Array.from({ length: 50 }, (_, i) => makeEndpoint(`10.0.9.${String(i + 1)}`, 80));
    const np = (s: Parameters<NonNullable<Parameters<typeof makePort>[3]>>[0]): void => { s.nodePort = 30009; };
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc('ns', 'big', '172.30.0.9', 80, eps, np)] })] });
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc('ns', 'big', '172.30.0.9', 80, [...eps.slice(1), makeEndpoint('10.0.9.99', 80)], np)], changed: ['ns/big'] })] });
    const lines = runner.lastLines();
    assert.equal(lines.filter((l) => l.startsWith('flush chain')).length, 1, runner.last);
    const block = lines.find((l) => l.startsWith('add chain ip kube-proxy service-') && l.includes('{'));
    assert.ok(block);
    assert.equal(block.match(/dnat to/g)?.length, 50);
    assert.match(block, /numgen random mod 50 0 meta l4proto tcp dnat to 10\.0\.9\.2:80 ; numgen random mod 49 0 /);
    assert.ok(lines.includes('add set ip kube-proxy hairpin-ips { type ipv4_addr . ipv4_addr ; elements = { 10.0.9.99 . 10.0.9.99 } }'));
    assert.equal(lines.length, 4, runner.last);
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

  it('session affinity: sets appear, change timeout (re-created), disappear (deleted by the cleanup)', async () => {
    const { dp, runner, clock } = setup();
    const aff = (t: number): Port => svc('ns5', 'svc5', '172.30.0.45', 80, [makeEndpoint('10.180.0.3', 80)], (s) => { s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: t }; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [aff(10800)] })] });
    assert.match(runner.last, /add set ip kube-proxy affinity-GTK6MW7G-ns5\/svc5\/tcp\/p80__10\.180\.0\.3\/80 \{ type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; \}/);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [aff(60)], changed: ['ns5/svc5'] })] });
    const l = runner.lastLines();
    const flush = l.findIndex((x) => x.startsWith('flush chain') && x.includes('service-'));
    const del = l.findIndex((x) => x.startsWith('delete set'));
    const add = l.findIndex((x) => x.includes('timeout 60s'));
    const rules = l.findIndex((x) => x.startsWith('add chain') && x.includes('update @affinity-'));
    assert.ok(flush >= 0 && flush < del && del < add && add < rules, runner.last);
    // Affinity off: nothing uses the set any more; it is deleted by the cleanup, not now (the
    // port moves to the shared lb chain: its dispatch element changes verdict, which is a
    // delete and an add).
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc('ns5', 'svc5', '172.30.0.45', 80, [makeEndpoint('10.180.0.3', 80)])], changed: ['ns5/svc5'] })] });
    assert.ok(!runner.lastLines().some((x) => x.startsWith('delete set')), runner.last);
    assert.equal(dp.stateOf('IPv4')?.staleSets.size, 1);
    clock.advance(1001);
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc('ns5', 'svc5', '172.30.0.45', 80, [makeEndpoint('10.180.0.3', 80)])], changed: [] })] });
    assert.ok(runner.lastLines().some((x) => x.startsWith('delete set ip kube-proxy affinity-')));
    assert.equal(dp.stateOf('IPv4')?.affinitySets.size, 0);
  });

  it('a partial sync that rewrites an affinity chain declares its sets first (nft must know them)', async () => {
    const { dp, runner } = setup();
    const aff = (eps: string[]): Port => svc('ns5', 'svc5', '172.30.0.45', 80, eps.map((ip) => makeEndpoint(ip, 80)), (s) => { s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: 30 }; });
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [aff(['10.180.0.3'])] })] });
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [aff(['10.180.0.3', '10.180.0.4'])], changed: ['ns5/svc5'] })] });
    const l = runner.lastLines();
    const chain = l.findIndex((x) => x.startsWith('add chain') && x.includes('{'));
    for (const ip of ['10.180.0.3', '10.180.0.4']) {
      const decl = l.findIndex((x) => x.startsWith('add set') && x.includes(`__${ip}/80 {`));
      assert.ok(decl >= 0 && decl < chain, `set of ${ip} declared before the rules:\n${runner.last}`);
    }
    assert.ok(l.every((x) => !CACHE_FILLING.test(x)), runner.last);
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

describe('nftables cleanup timer', () => {
  it('backs off while the cleanup transaction keeps failing (1 s, 2 s, 4 s … 60 s), and starts afresh after a full sync', async () => {
    const runner = new RecordingRunner();
    const clock = new TimerClock();
    const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), clock, readKernelOnFullSync: false });
    try {
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1, svc2] })] });
      // svc2 goes: its chains are flushed now, deleted by the cleanup timer a second later.
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1], changed: ['ns2/svc2'] })] });
      const cleanups = (): number => runner.scripts.filter((s) => s.startsWith('delete ')).length;
      runner.failNext = 1_000;
      await clock.advance(120_000);
      // Without backoff: ≈ 120 attempts. With it: at 1, 3, 7, 15, 31, 63 s, then every 60 s.
      assert.ok(cleanups() >= 6 && cleanups() <= 8, `${String(cleanups())} cleanup attempts in 120 s`);
      assert.ok((dp.stateOf('IPv4')?.staleCount() ?? 0) > 0, 'still stale');
      runner.failNext = 0;
      const n0 = runner.scripts.length;
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1], changed: [] })] });
      assert.ok(runner.scripts.slice(n0).some((s) => s.startsWith('add table ip kube-proxy')), 'a failed cleanup forces a full sync');
      assert.equal(dp.stateOf('IPv4')?.staleCount(), 0, 'the full sync reconciled the leftovers');
      // After the full sync the timer is back to 1 s.
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1, svc3], changed: ['ns3/svc3'] })] });
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [svc1], changed: ['ns3/svc3'] })] });
      const before = cleanups();
      await clock.advance(1_500);
      assert.equal(cleanups(), before + 1);
      assert.equal(dp.stateOf('IPv4')?.staleCount(), 0);
    } finally {
      await dp.close();
    }
  });
});

describe('nftables dataplane: Service CIDRs from the cluster', () => {
  it('Service CIDRs from the cluster (ServiceCIDR objects) replace the configured ones: a change rewrites the tables, the same ones again do not', async () => {
    const { dp, runner } = setup();
    const drop = (cidrs: string): string => `add rule ip kube-proxy cluster-ips-check ip daddr { ${cidrs} } drop comment "Drop traffic to unallocated ClusterIPs"`;
    await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc1] })] });
    assert.ok(runner.lastLines().includes(drop('172.30.0.0/16')), 'the configured CIDR while none come from the cluster');
    await dp.sync({ full: false, families: [{ ...makeSnapshot({ ports: [svc1], changed: [] }), serviceCIDRs: ['10.96.0.0/12', '10.200.0.0/16'] }] });
    assert.ok(runner.lastLines().includes(drop('10.96.0.0/12, 10.200.0.0/16')), runner.last);
    assert.ok(!runner.last.includes('172.30.0.0/16 } drop'), 'the configured one is gone');
    const rewrites = runner.scripts.length;
    await dp.sync({ full: false, families: [{ ...makeSnapshot({ ports: [svc1], changed: [] }), serviceCIDRs: ['10.96.0.0/12', '10.200.0.0/16'] }] });
    assert.equal(runner.scripts.slice(rewrites).join('').includes('cluster-ips-check ip daddr'), false, 'unchanged: not rendered again');
    // None left in the cluster: no drop rule at all.
    await dp.sync({ full: false, families: [{ ...makeSnapshot({ ports: [svc1], changed: [] }), serviceCIDRs: [] }] });
    assert.ok(!runner.last.includes('Drop traffic to unallocated ClusterIPs'), runner.last);
    assert.ok(runner.last.includes('flush') || runner.last.includes('delete table'), 'a rewrite');
  });
});
