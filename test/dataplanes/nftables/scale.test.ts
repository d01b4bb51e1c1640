// Cost follows the change, not the cluster (issue "Scale", §3). At 30k service ports, the sync
// for one added service or one changed endpoint renders that one port, rewrites one chain,
// adds a handful of elements in one table, and uses no statement that makes nft list the whole
// ruleset into its cache; taking the model's snapshot for one change costs what it costs at 1k
// services. No root, no kernel: a recording runner. Runs in seconds.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { categorizeEndpoints } from '../../../src/dataplanes/nftables/categorize.ts';
import { NftablesDataplane } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { ProxyState } from '../../../src/model/proxy-state.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import type { Endpoint, FamilySnapshot, ServicePort } from '../../../src/model/types.ts';
import { addPort, endpoint, makeService, makeSlice, setClusterIPs, slicePort } from '../../model/builders.ts';
import { makeEndpoint, makePort, makeSnapshot, testOptions } from './fixtures.ts';
import { RecordingRunner } from './kit.ts';

type Port = readonly [ServicePort, readonly Endpoint[]];

function ports(n: number, epsPerService: number, from = 0): Port[] {
  const out: Port[] = [];
  for (let i = from; i < from + n; i++) {
    const ip = `172.${String(16 + (i >> 16))}.${String((i >> 8) & 255)}.${String(i & 255)}`;
    const sp = makePort(`ns${String(i % 100)}`, `svc${String(i)}`, 'http', (s) => { s.clusterIP = ip; s.nodePort = i < 2000 ? 30000 + i : 0; });
    const eps = Array.from({ length: epsPerService }, (_, j) => makeEndpoint(`10.${String(i >> 8)}.${String(i & 255)}.${String(j + 1)}`, 8080));
    out.push([sp, eps]);
  }
  return out;
}

/** Statements that make nft 1.0.x list every chain into its cache before doing anything. */
const CACHE_FILLING = /^(add rule|add element|delete|insert|replace) /;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? Number.NaN;
}

interface Harness {
  readonly dp: NftablesDataplane;
  readonly runner: RecordingRunner;
  readonly all: Port[];
  calls: number;
}

async function loaded(n: number, shardWeight?: number): Promise<Harness> {
  const runner = new RecordingRunner();
  const h: Harness = {
    runner, all: ports(n, 2), calls: 0,
    dp: new NftablesDataplane({
      runner, logger: silentLogger(), render: testOptions('IPv4', { serviceCIDRs: [] }), readKernelOnFullSync: false,
      ...(shardWeight === undefined ? {} : { shardWeight }),
      categorize: (eps, sp, node, labels) => { h.calls++; return categorizeEndpoints(eps, sp, node, labels); },
    }),
  };
  await h.dp.sync({ full: true, families: [makeSnapshot({ ports: h.all })] });
  return h;
}

/** One partial sync adding service `extra`; returns ms and the transaction's lines. */
async function addOne(h: Harness, extra: Port): Promise<{ ms: number; lines: string[] }> {
  h.calls = 0;
  const snap: FamilySnapshot = makeSnapshot({ ports: [...h.all, extra], changed: [extra[0].name.service] });
  const t = performance.now();
  await h.dp.sync({ full: false, families: [snap] });
  const ms = performance.now() - t;
  h.all.push(extra);
  return { ms, lines: h.runner.lastLines() };
}

describe('nftables dataplane at scale: cost follows changes, not size', () => {
  it('30k services: one added ClusterIP service renders one port and writes its elements only, no chain, no nft cache', async () => {
    const h = await loaded(30_000, 0);
    assert.equal(h.dp.stateOf('IPv4')?.shards, 1);
    const [extra] = ports(1, 2, 30_000);
    assert.ok(extra);
    const { lines } = await addOne(h, extra);
    assert.equal(h.calls, 1, 'one port rendered');
    assert.deepEqual(lines.filter((l) => l.startsWith('add chain') || l.startsWith('flush')), [], lines.join('\n'));
    assert.ok(lines.length <= 6, lines.join('\n'));
    assert.ok(lines.every((l) => !CACHE_FILLING.test(l)), lines.join('\n'));
    assert.deepEqual(lines.filter((l) => l.includes('elements = {')).map((l) => (l.match(/ , /g)?.length ?? 0) + 1), [1, 1, 2, 2], 'cluster-ips, service-ips, 2 backends, 2 hairpin');
    assert.ok(lines.join('\n').length < 1500, `transaction of ${String(lines.join('\n').length)} bytes`);
  });

  it('30k services: one added NodePort service writes its own two chains and a few elements, no nft cache', async () => {
    const h = await loaded(30_000, 0);
    const [extra] = ports(1, 2, 30_000);
    assert.ok(extra);
    const np: Port = [{ ...extra[0], nodePort: 32_700 }, extra[1]];
    const { lines } = await addOne(h, np);
    assert.equal(h.calls, 1, 'one port rendered');
    const chains = lines.filter((l) => l.startsWith('add chain') && l.includes('{'));
    assert.equal(chains.length, 2, lines.join('\n'));
    assert.ok(lines.length <= 10, lines.join('\n'));
    assert.ok(lines.every((l) => !CACHE_FILLING.test(l)), lines.join('\n'));
    assert.ok(lines.join('\n').length < 3000, `transaction of ${String(lines.join('\n').length)} bytes`);
  });

  it('30k services: one endpoint changed replaces that port\'s backend elements, writes no chain', async () => {
    const h = await loaded(30_000, 0);
    const i = 12_345;
    const [sp] = h.all[i] ?? [];
    assert.ok(sp);
    h.all[i] = [sp, [makeEndpoint('10.250.0.1', 8080), makeEndpoint('10.250.0.2', 8080)]];
    h.calls = 0;
    await h.dp.sync({ full: false, families: [makeSnapshot({ ports: h.all, changed: [sp.name.service] })] });
    const lines = h.runner.lastLines();
    assert.equal(h.calls, 1);
    assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ')), ['delete element', 'delete element', 'add map', 'add set'], lines.join('\n'));
    // Deleting is needed to change a map element's value; only this port's two keys go.
    for (const l of lines.filter((x) => x.startsWith('delete'))) assert.match(l, new RegExp(`^delete element ip kube-proxy lb-backends-tcp \\{ ${sp.clusterIP.replaceAll('.', '\\.')} \\. 80 \\. [01] \\}$`));
  });

  it('30k services in tables of bounded size: one added service touches one table', async () => {
    const h = await loaded(30_000);
    const shards = h.dp.stateOf('IPv4')?.shards ?? 0;
    assert.ok(shards >= 4, `spread over ${String(shards)} tables`);
    const [extra] = ports(1, 2, 40_000);
    assert.ok(extra);
    const { lines } = await addOne(h, extra);
    const tables = new Set(lines.map((l) => l.split(' ')[3]).filter((t) => t !== 'kube-proxy'));
    assert.ok(tables.size <= 1, `touched ${[...tables].join(', ')}`);
    assert.ok(lines.every((l) => !CACHE_FILLING.test(l)), lines.join('\n'));
  });

  it('the partial sync for one added service takes as long at 30k services as at 1k', async () => {
    const small = await loaded(1_000, 0);
    const big = await loaded(30_000, 0);
    const times = { small: [] as number[], big: [] as number[] };
    for (let k = 0; k < 30; k++) {
      const [a] = ports(1, 2, 50_000 + k);
      const [b] = ports(1, 2, 60_000 + k);
      assert.ok(a && b);
      times.small.push((await addOne(small, a)).ms);
      times.big.push((await addOne(big, b)).ms);
    }
    const s = median(times.small);
    const b = median(times.big);
    assert.ok(b < 3 * s + 1, `median ${b.toFixed(2)} ms at 30k vs ${s.toFixed(2)} ms at 1k`);
  });

  it('model: the snapshot after one change costs as much at 30k services as at 1k', () => {
    const cost = (n: number): number => {
      const state = new ProxyState({ nodeName: 'node-1', families: ['IPv4'], logger: silentLogger() });
      const svc = (i: number, port = 80): ReturnType<typeof makeService> => makeService(`ns${String(i % 50)}`, `svc${String(i)}`, (s) => {
        setClusterIPs(s, `172.30.${String(i >> 8)}.${String(i & 255)}`);
        addPort(s, 'http', 'TCP', port);
      });
      for (let i = 0; i < n; i++) {
        state.onServiceAdd(svc(i));
        state.onEndpointSliceAdd(makeSlice(`ns${String(i % 50)}`, `svc${String(i)}`, 1, (s) => { s.ports = [slicePort('http', 8080)]; s.endpoints = [endpoint(`10.1.${String(i >> 8)}.${String(i & 255)}`)]; }));
      }
      state.takeSnapshots();
      const samples: number[] = [];
      for (let k = 0; k < 200; k++) {
        const t = performance.now();
        state.onServiceUpdate(svc(7), svc(7, 81 + (k % 2)));
        const snap = state.takeSnapshots();
        samples.push(performance.now() - t);
        assert.equal(snap.families[0]?.changedServices.size, 1);
      }
      return median(samples);
    };
    const small = cost(1_000);
    const big = cost(30_000);
    assert.ok(big < 3 * small + 0.2, `median ${big.toFixed(3)} ms at 30k vs ${small.toFixed(3)} ms at 1k`);
  });
});
