// The real kernel, inside throwaway network namespaces: rendered rulesets are accepted,
// incremental syncs leave the kernel equal to our record, failures keep the old rules,
// restarts keep rules until the first sync, cleanup removes our tables.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftablesDataplane, NftSyncError } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { SpawnNftRunner } from '../../../src/dataplanes/nftables/runner.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { canUseNetns, liveNamespaces, withNetns, type Netns } from '../../helpers/netns.ts';
import { local, makeEndpoint, makePort, makeSnapshot, terminating, testOptions } from './fixtures.ts';
import { overallSnapshot } from './golden-data.ts';
import { assertKernelMatchesRecord, FakeClock, RecordingMetrics, RecordingRunner } from './kit.ts';
import type { NftablesRenderOptions } from '../../../src/dataplanes/nftables/options.ts';
import type { FamilySnapshot } from '../../../src/model/types.ts';

const skip = !canUseNetns() && 'needs root for network namespaces';

function setup(ns: Netns, render: NftablesRenderOptions = testOptions()): { dp: NftablesDataplane; runner: RecordingRunner; clock: FakeClock; metrics: RecordingMetrics } {
  const runner = new RecordingRunner(new SpawnNftRunner({ commandPrefix: ns.prefix }));
  const clock = new FakeClock();
  const metrics = new RecordingMetrics();
  const dp = new NftablesDataplane({ runner, logger: silentLogger(), render, clock, metrics });
  return { dp, runner, clock, metrics };
}

const svc = (n: number, eps: number, fn?: Parameters<typeof makePort>[3]): [ReturnType<typeof makePort>, ReturnType<typeof makeEndpoint>[]] => [
  makePort('ns', `svc${String(n)}`, 'p80', (s) => { s.clusterIP = `172.30.1.${String(n)}`; fn?.(s); }),
  Array.from({ length: eps }, (_, i) => makeEndpoint(`10.1.${String(n)}.${String(i + 1)}`, 8080)),
];
/** A service with chains of its own (a NodePort): ClusterIP-only ones share the lb chains. */
const npSvc = (n: number, eps: number): ReturnType<typeof svc> => svc(n, eps, (s) => { s.nodePort = 30000 + n; });

function featureSnapshot(): FamilySnapshot {
  const ports = [...overallSnapshot().services.values()].map((sp) => [sp, overallSnapshot().endpoints.get(sp.name.key) ?? []] as const);
  return makeSnapshot({ ports: [
    ...ports,
    [makePort('ns7', 'multi', 'dns-udp', (s) => { s.clusterIP = '172.30.0.47'; s.port = 53; }, 'UDP'), [makeEndpoint('10.180.0.7', 53)]],
    [makePort('ns7', 'multi', 'dns-tcp', (s) => { s.clusterIP = '172.30.0.47'; s.port = 53; }, 'TCP'), [makeEndpoint('10.180.0.7', 5353)]],
    [makePort('ns7', 'multi', 'dns-sctp', (s) => { s.clusterIP = '172.30.0.47'; s.port = 53; }, 'SCTP'), [makeEndpoint('10.180.0.7', 53)]],
    [makePort('ns8', 'itp', '', (s) => { s.clusterIP = '172.30.0.48'; s.internalPolicyLocal = true; }), [makeEndpoint('10.180.0.8', 80)]],
    [makePort('ns9', 'term', '', (s) => { s.clusterIP = '172.30.0.49'; s.nodePort = 30009; s.externalPolicyLocal = true; }),
      [makeEndpoint('10.180.0.9', 80, (e) => { local(e); terminating(e); }), makeEndpoint('10.180.0.10', 80)]],
  ] });
}

const v6 = (): FamilySnapshot => makeSnapshot({ family: 'IPv6', ports: [
  [makePort('ns1', 'svc1', 'p80', (s) => { s.family = 'IPv6'; s.clusterIP = 'fd00:172:30::41'; s.nodePort = 3001; s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: 60 }; }),
    [makeEndpoint('fd00:10:180::1', 80), makeEndpoint('fd00:10:180::2:1', 80, local)]],
  [makePort('ns1', 'svc2', 'p80', (s) => { s.family = 'IPv6'; s.clusterIP = 'fd00:172:30::42'; s.loadBalancerVIPs = ['2001:db8:99::1']; s.loadBalancerSourceRanges = ['2001:db8::/64']; }), []],
] });

describe('nftables dataplane on the real kernel', { skip, concurrency: false }, () => {
  after(() => { assert.deepEqual(liveNamespaces(), []); });

  it('accepts every rendered feature, IPv4 and IPv6 in one transaction, and the kernel equals the record', async () => {
    await withNetns('nft-feat', async (ns) => {
      const { dp, runner, metrics } = setup(ns);
      await dp.sync({ full: true, families: [featureSnapshot(), v6()] });
      await assertKernelMatchesRecord(dp, runner, 'IPv4');
      await assertKernelMatchesRecord(dp, runner, 'IPv6');
      assert.equal(metrics.failures, 0);
      const listing = ns.exec('nft', ['list', 'table', 'ip', 'kube-proxy']);
      assert.match(listing, /numgen random mod 2 0 meta l4proto tcp dnat to 10\.180\.0\.4:80/);
      assert.match(listing, /ct status dnat ip saddr \. ip daddr @hairpin-ips jump mark-for-masquerade/);
      assert.match(listing, /masquerade fully-random/);
      // A second full sync of the same state is accepted too (idempotent declarations).
      await dp.sync({ full: true, families: [featureSnapshot(), v6()] });
      await assertKernelMatchesRecord(dp, runner, 'IPv4');
    });
  });

  for (const [name, over] of [
    ['masqueradeAll, bridge interface detection, NodePorts on all addresses', { masqueradeAll: true, localDetector: { mode: 'BridgeInterface', interfaceName: 'cbr0' }, nodePortAddresses: { kind: 'all' } }],
    ['interface-prefix detection, no service CIDRs, mark bit 3', { localDetector: { mode: 'InterfaceNamePrefix', prefix: 'veth' }, serviceCIDRs: [], masqueradeBit: 3 }],
    ['no local detection, primary node IP', { localDetector: { mode: 'None' }, nodePortAddresses: { kind: 'primary' } }],
  ] as const) {
    it(`accepts option variant: ${name}`, async () => {
      await withNetns('nft-opt', async (ns) => {
        const { dp, runner } = setup(ns, testOptions('IPv4', over));
        await dp.sync({ full: true, families: [featureSnapshot()] });
        await assertKernelMatchesRecord(dp, runner);
      });
    });
  }

  it('incremental syncs: add a service, change endpoints, delete it (flushed, then deleted a sync later)', async () => {
    await withNetns('nft-incr', async (ns) => {
      const { dp, runner, clock } = setup(ns);
      const base = [svc(1, 2), svc(2, 1)];
      await dp.sync({ full: true, families: [makeSnapshot({ ports: base })] });
      await assertKernelMatchesRecord(dp, runner);

      const queriesBefore = runner.queries.length;
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...base, npSvc(3, 3)], changed: ['ns/svc3'] })] });
      assert.equal(runner.queries.length, queriesBefore, 'partial syncs never list the kernel');
      await assertKernelMatchesRecord(dp, runner);
      assert.match(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.3 \. tcp \. 80 : goto service-/);

      // Fewer endpoints: the service chain is rewritten in place (no endpoint chains to retire);
      // hairpin elements are only ever added between rewrites.
      const before = runner.scripts.length;
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...base, npSvc(3, 1)], changed: ['ns/svc3'] })] });
      await assertKernelMatchesRecord(dp, runner);
      assert.equal(runner.scripts.length, before + 1, 'one transaction');
      assert.doesNotMatch(runner.last, /^delete /m, 'a partial sync deletes nothing');
      const svc3Chain = [...(dp.stateOf('IPv4')?.chains.keys() ?? [])].find((c) => c.includes('/svc3/'));
      assert.ok(svc3Chain);
      const rules = ns.exec('nft', ['list', 'chain', 'ip', ...svc3Chain.split(' ')]);
      assert.equal(rules.match(/dnat to/g)?.length, 1, rules);

      // Deleted: its chain is flushed at once, its elements stay (harmless: they jump to an
      // empty chain) and the cleanup transaction of a sync ≥ 1 s later deletes both.
      await dp.sync({ full: false, families: [makeSnapshot({ ports: base, changed: ['ns/svc3'] })] });
      await assertKernelMatchesRecord(dp, runner);
      assert.doesNotMatch(runner.last, /^delete /m);
      assert.equal(ns.exec('nft', ['list', 'chain', 'ip', ...svc3Chain.split(' ')]).includes('dnat'), false, 'flushed');
      assert.match(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.3 \. tcp \. 80/, 'left for the cleanup');
      const svc3 = (): string[] => [...(dp.stateOf('IPv4')?.chains.keys() ?? [])].filter((c) => c.includes('/svc3/'));

      clock.advance(1500);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: base, changed: [] })] });
      assert.deepEqual(svc3(), []);
      assert.match(runner.last, /^delete element ip kube-proxy service-ips \{ 172\.30\.1\.3 \. tcp \. 80 \}$/m);
      await assertKernelMatchesRecord(dp, runner);
      assert.doesNotMatch(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.3/);

      // A later full sync finds nothing to fix.
      await dp.sync({ full: true, families: [makeSnapshot({ ports: base })] });
      await assertKernelMatchesRecord(dp, runner);
    });
  });

  it('a refused transaction keeps the previous rules and the record; the next full sync recovers', async () => {
    await withNetns('nft-fail', async (ns) => {
      const { dp, runner, metrics } = setup(ns);
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1)] })] });
      const before = ns.exec('nft', ['list', 'table', 'ip', 'kube-proxy']);
      runner.failNext = 1;
      await assert.rejects(
        dp.sync({ full: false, families: [makeSnapshot({ ports: [svc(1, 1), svc(2, 2)], changed: ['ns/svc2'] })] }),
        (err: unknown) => err instanceof NftSyncError && /no-such-chain-kpt|No such file/.test(err.stderr),
      );
      assert.equal(metrics.failures, 1);
      assert.equal(ns.exec('nft', ['list', 'table', 'ip', 'kube-proxy']), before, 'kernel unchanged');
      await assertKernelMatchesRecord(dp, runner);
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1), svc(2, 2)] })] });
      await assertKernelMatchesRecord(dp, runner);
      assert.match(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.2 \. tcp \. 80/);
    });
  });

  it('a full sync corrects drift: deleted elements come back, foreign ones go', async () => {
    await withNetns('nft-drift', async (ns) => {
      const { dp, runner } = setup(ns);
      const snap = makeSnapshot({ ports: [svc(1, 1), svc(2, 1)] });
      await dp.sync({ full: true, families: [snap] });
      ns.exec('nft', ['delete', 'element', 'ip', 'kube-proxy', 'service-ips', '{ 172.30.1.1 . tcp . 80 }']);
      ns.exec('nft', ['add', 'element', 'ip', 'kube-proxy', 'cluster-ips', '{ 172.30.9.9 }']);
      ns.exec('nft', ['flush', 'chain', 'ip', 'kube-proxy', 'services']);
      await dp.sync({ full: true, families: [snap] });
      await assertKernelMatchesRecord(dp, runner);
      const listing = ns.exec('nft', ['list', 'table', 'ip', 'kube-proxy']);
      assert.match(listing, /172\.30\.1\.1 \. tcp \. 80 : goto/);
      assert.doesNotMatch(listing, /172\.30\.9\.9/);
      assert.match(ns.exec('nft', ['list', 'chain', 'ip', 'kube-proxy', 'services']), /vmap @service-ips/);
    });
  });

  it('restart: old rules stay until the first sync, which replaces them and retires unknown chains', async () => {
    await withNetns('nft-restart', async (ns) => {
      const first = setup(ns);
      await first.dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1), npSvc(2, 1)] })] });
      const second = setup(ns);
      // Constructing a dataplane touches nothing.
      assert.match(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.2/);
      await second.dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1)] })] });
      await assertKernelMatchesRecord(second.dp, second.runner);
      const stale = [...(second.dp.stateOf('IPv4')?.staleChains.keys() ?? [])];
      assert.ok(stale.some((c) => c.includes('/svc2/')), 'svc2 chains found in the kernel and retired');
      assert.doesNotMatch(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.2/);
      second.clock.advance(2000);
      await second.dp.sync({ full: false, families: [makeSnapshot({ ports: [svc(1, 1)], changed: [] })] });
      assert.doesNotMatch(ns.exec('nft', ['list', 'table', 'ip', 'kube-proxy']), /svc2/);
    });
  });

  it('several service tables: partial syncs and cleanups stay consistent; a restart with one table drops the others', async () => {
    await withNetns('nft-shard', async (ns) => {
      const runner = new RecordingRunner(new SpawnNftRunner({ commandPrefix: ns.prefix }));
      const clock = new FakeClock();
      const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), clock, shardWeight: 6 });
      const ports = Array.from({ length: 12 }, (_, i) => svc(i + 1, 2));
      await dp.sync({ full: true, families: [makeSnapshot({ ports })] });
      const shards = dp.stateOf('IPv4')?.shards ?? 0;
      assert.ok(shards >= 5, `${String(shards)} tables`);
      await assertKernelMatchesRecord(dp, runner);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...ports, svc(13, 1)], changed: ['ns/svc13'] })] });
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...ports.slice(1), svc(13, 1)], changed: ['ns/svc1'] })] });
      await assertKernelMatchesRecord(dp, runner);
      clock.advance(1500);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...ports.slice(1), svc(13, 1)], changed: [] })] });
      assert.equal(dp.stateOf('IPv4')?.staleCount(), 0);
      await assertKernelMatchesRecord(dp, runner);
      // A resync of an unchanged ruleset writes no service chain.
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [...ports.slice(1), svc(13, 1)] })] });
      assert.deepEqual(runner.lastLines().filter((l) => /add chain ip \S+ (service|external|local)-\S*\//.test(l)), []);

      const single = setup(ns, testOptions());
      const one = new NftablesDataplane({ runner: single.runner, logger: silentLogger(), render: testOptions(), clock: single.clock, shardWeight: 0 });
      await one.sync({ full: true, families: [makeSnapshot({ ports: [...ports.slice(1), svc(13, 1)] })] });
      assert.equal(ns.exec('nft', ['list', 'tables']).trim(), 'table ip kube-proxy');
      await assertKernelMatchesRecord(one, single.runner);
    });
  });

  it('cold start with many elements: prelude, then the main transaction and bulk elements in parallel; the kernel equals the record', async () => {
    await withNetns('nft-cold', async (ns) => {
      const { dp, runner } = setup(ns);
      // 2,500 ClusterIP services × 10 endpoints: 25k backends, above BULK_MIN_ELEMENTS.
      const many = Array.from({ length: 2_500 }, (_, i) => [
        makePort('ns', `bulk${String(i)}`, 'p80', (x) => { x.clusterIP = `172.31.${String(i >> 8)}.${String(i & 255)}`; }),
        Array.from({ length: 10 }, (_, j) => makeEndpoint(`10.2.${String(i >> 8)}.${String((i & 255))}`, 8000 + j)),
      ] as const);
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [...many, npSvc(1, 2)] })] });
      assert.ok(runner.scripts.length >= 3, `${String(runner.scripts.length)} transactions`);
      assert.match(runner.scripts[0] ?? '', /^add table ip kube-proxy/m, 'the prelude creates the tables first');
      assert.doesNotMatch(runner.scripts[0] ?? '', /elements = /, 'the prelude holds no elements');
      // 27.5k verdict-free elements went to nft in chunks while the rest was being planned.
      assert.equal(runner.started, 2, 'streamed transactions');
      await assertKernelMatchesRecord(dp, runner);
      // Now warm: the next full sync is one transaction again, and changes nothing.
      const before = runner.scripts.length;
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [...many, npSvc(1, 2)] })] });
      assert.ok(runner.scripts.length - before <= 1);
      assert.doesNotMatch(runner.scripts.slice(before).join(''), /elements = /);
      await assertKernelMatchesRecord(dp, runner);
    });
  });

  it('cold start with streamed elements: a key two services claim ends with the winner\'s payload', async () => {
    await withNetns('nft-contest', async (ns) => {
      // One table, so that both services' backends share their map.
      const runner = new RecordingRunner(new SpawnNftRunner({ commandPrefix: ns.prefix }));
      const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), clock: new FakeClock(), shardWeight: 1e9 });
      const many = Array.from({ length: 2_500 }, (_, i) => [
        makePort('ns', `bulk${String(i)}`, 'p80', (x) => { x.clusterIP = `172.31.${String(i >> 8)}.${String(i & 255)}`; }),
        Array.from({ length: 10 }, (_, j) => makeEndpoint(`10.2.${String(i >> 8)}.${String((i & 255))}`, 8000 + j)),
      ] as const);
      // Same ClusterIP and port (bad input): "ns/aaa" wins every shared key (owners sort), but
      // "ns/zzz" comes first and its elements are streamed first.
      const zzz = [makePort('ns', 'zzz', 'p80', (x) => { x.clusterIP = '172.30.5.5'; }), [makeEndpoint('10.9.0.1', 9000), makeEndpoint('10.9.0.2', 9000)]] as const;
      const aaa = [makePort('ns', 'aaa', 'p80', (x) => { x.clusterIP = '172.30.5.5'; }), [makeEndpoint('10.8.0.1', 8000), makeEndpoint('10.8.0.2', 8000)]] as const;
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [zzz, ...many, aaa] })] });
      assert.ok(runner.started >= 2);
      const fixup = runner.scripts.at(-1) ?? '';
      assert.match(fixup, /^delete element ip kube-proxy\S* lb-backends-tcp \{ 172\.30\.5\.5 \. 80 \. 0 \}$/m, 'the contested element is replaced last');
      await assertKernelMatchesRecord(dp, runner);
      const backends = ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'lb-backends-tcp']);
      const contested = [...backends.matchAll(/172\.30\.5\.5 \. 80 \. (\d) : (\S+) \. (\d+)/g)].map((m) => `${m[1] ?? ''} ${m[2] ?? ''}:${m[3] ?? ''}`).sort();
      assert.deepEqual(contested, ['0 10.8.0.1:8000', '1 10.8.0.2:8000']);
    });
  });

  it('large ruleset: a restart and a due drift check flush and rewrite the element containers in one transaction, never listing their elements', async () => {
    await withNetns('nft-large', async (ns) => {
      // 2,200 ClusterIP services × 10 endpoints: 22k backends, above LARGE_RECORD_ELEMENTS.
      const many = Array.from({ length: 2_200 }, (_, i) => [
        makePort('ns', `big${String(i)}`, 'p80', (x) => { x.clusterIP = `172.31.${String(i >> 8)}.${String(i & 255)}`; }),
        Array.from({ length: 10 }, (_, j) => makeEndpoint(`10.3.${String(i >> 8)}.${String((i & 255))}`, 8000 + j)),
      ] as const);
      const first = setup(ns);
      await first.dp.sync({ full: true, families: [makeSnapshot({ ports: [...many, npSvc(1, 2)] })] });
      // Element listings (not terse) a sync made, from query number `from` on.
      const elementListings = (r: RecordingRunner, from = 0): string[][] => r.queries.slice(from).filter((q) => q.includes('list') && !q.includes('-t'));
      assert.deepEqual(elementListings(first.runner), [], 'a large cold start lists no elements');
      // Drift left by someone else, and a service gone while no proxy ran.
      ns.exec('nft', ['delete', 'element', 'ip', 'kube-proxy', 'lb-backends-tcp', '{ 172.31.0.5 . 80 . 3 }']);
      ns.exec('nft', ['add', 'element', 'ip', 'kube-proxy', 'cluster-ips', '{ 172.30.9.9 }']);
      const second = setup(ns);
      const rest = many.slice(1);
      await second.dp.sync({ full: true, families: [makeSnapshot({ ports: [...rest, npSvc(1, 2)] })] });
      assert.deepEqual(elementListings(second.runner), [], 'the restart lists no elements');
      const script = second.runner.scripts.join('');
      assert.match(script, /^flush map ip kube-proxy lb-backends-tcp$/m);
      assert.match(script, /^flush set ip kube-proxy cluster-ips$/m);
      assert.equal(second.runner.scripts.length, 1, 'flush and refill are one transaction');
      await assertKernelMatchesRecord(second.dp, second.runner);
      const backends = ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'lb-backends-tcp']);
      assert.match(backends, /172\.31\.0\.5 \. 80 \. 3 :/, 'the deleted element is back');
      assert.doesNotMatch(backends, /172\.31\.0\.0 \. 80 /, 'the removed service is gone');
      assert.doesNotMatch(ns.exec('nft', ['list', 'set', 'ip', 'kube-proxy', 'cluster-ips']), /172\.30\.9\.9/);
      // Between checks the record stands in for the kernel; once kernelReadIntervalMs passed, drift goes.
      ns.exec('nft', ['add', 'element', 'ip', 'kube-proxy', 'cluster-ips', '{ 172.30.9.8 }']);
      const q0 = second.runner.queries.length;
      await second.dp.sync({ full: true, families: [makeSnapshot({ ports: [...rest, npSvc(1, 2)] })] });
      assert.match(ns.exec('nft', ['list', 'set', 'ip', 'kube-proxy', 'cluster-ips']), /172\.30\.9\.8/);
      second.clock.advance(600_000);
      await second.dp.sync({ full: true, families: [makeSnapshot({ ports: [...rest, npSvc(1, 2)] })] });
      assert.doesNotMatch(ns.exec('nft', ['list', 'set', 'ip', 'kube-proxy', 'cluster-ips']), /172\.30\.9\.8/);
      assert.deepEqual(elementListings(second.runner, q0), []);
      await assertKernelMatchesRecord(second.dp, second.runner);
    });
  });

  it('cleanup removes our tables and leaves others alone', async () => {
    await withNetns('nft-clean', async (ns) => {
      const { dp } = setup(ns);
      ns.exec('nft', ['add', 'table', 'inet', 'someone-else']);
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1)] }), v6()] });
      await dp.cleanup();
      assert.equal(ns.exec('nft', ['list', 'tables']).trim(), 'table inet someone-else');
      await dp.cleanup(); // idempotent
    });
  });
});
