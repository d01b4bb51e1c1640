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
      assert.match(listing, /numgen random mod 2 vmap/);
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
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...base, svc(3, 3)], changed: ['ns/svc3'] })] });
      assert.equal(runner.queries.length, queriesBefore, 'partial syncs never list the kernel');
      await assertKernelMatchesRecord(dp, runner);
      assert.match(ns.exec('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips']), /172\.30\.1\.3 \. tcp \. 80 : goto service-/);

      await dp.sync({ full: false, families: [makeSnapshot({ ports: [...base, svc(3, 1)], changed: ['ns/svc3'] })] });
      await assertKernelMatchesRecord(dp, runner);
      const epChains = [...(dp.stateOf('IPv4')?.chains.keys() ?? [])].filter((c) => c.includes('svc3/tcp/p80__'));
      assert.equal(epChains.length, 3, 'the two removed endpoint chains are still there, flushed');

      await dp.sync({ full: false, families: [makeSnapshot({ ports: base, changed: ['ns/svc3'] })] });
      await assertKernelMatchesRecord(dp, runner);
      const svc3 = (): string[] => [...(dp.stateOf('IPv4')?.chains.keys() ?? [])].filter((c) => c.includes('/svc3/'));
      assert.ok(svc3().length > 0);
      for (const c of svc3()) assert.equal(ns.exec('nft', ['list', 'chain', 'ip', 'kube-proxy', c]).includes('jump'), false, `${c} flushed`);

      clock.advance(1500);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: base, changed: [] })] });
      assert.deepEqual(svc3(), []);
      await assertKernelMatchesRecord(dp, runner);

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
      await first.dp.sync({ full: true, families: [makeSnapshot({ ports: [svc(1, 1), svc(2, 1)] })] });
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
