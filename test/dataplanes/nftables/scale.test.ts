// Cost follows the change, not the cluster: at 30k services a partial sync that adds one
// service touches a handful of chains and elements, and a full sync builds its script in
// linear time. No root needed (fake runner).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftablesDataplane } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import type { Endpoint, ServicePort } from '../../../src/model/types.ts';
import { makeEndpoint, makePort, makeSnapshot, testOptions } from './fixtures.ts';
import { RecordingRunner } from './kit.ts';

function ports(n: number, epsPerService: number): (readonly [ServicePort, readonly Endpoint[]])[] {
  const out: (readonly [ServicePort, readonly Endpoint[]])[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `172.30.${String(i >> 8)}.${String(i & 255)}`;
    const sp = makePort(`ns${String(i % 100)}`, `svc${String(i)}`, 'http', (s) => { s.clusterIP = ip; s.nodePort = i < 2000 ? 30000 + i : 0; });
    const eps = Array.from({ length: epsPerService }, (_, j) => makeEndpoint(`10.${String(i >> 8)}.${String(i & 255)}.${String(j + 1)}`, 8080));
    out.push([sp, eps]);
  }
  return out;
}

describe('nftables dataplane at scale', () => {
  it('30k services: full sync linear, one added service touches O(1) objects', async () => {
    const runner = new RecordingRunner();
    const dp = new NftablesDataplane({ runner, logger: silentLogger(), render: testOptions(), readKernelOnFullSync: false });
    const all = ports(30_000, 2);
    let t = performance.now();
    await dp.sync({ full: true, families: [makeSnapshot({ ports: all })] });
    const fullMs = performance.now() - t;
    const fullLines = runner.lastLines().length;
    assert.ok(fullLines > 30_000 * 9, `full sync wrote ${String(fullLines)} lines`);

    const extra = ports(30_001, 2).slice(30_000);
    t = performance.now();
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [...all, ...extra], changed: ['ns0/svc30000'] })] });
    const partialMs = performance.now() - t;
    const lines = runner.lastLines();
    // 3 chains (service + 2 endpoints): add + flush + rules; 2 elements.
    assert.ok(lines.length <= 16, lines.join('\n'));
    assert.equal(lines.filter((l) => l.startsWith('flush chain')).length, 3);
    assert.equal(lines.filter((l) => l.startsWith('add element')).length, 2);

    // Changing one endpoint of one service: still a handful of statements.
    const changed = [...all];
    const [sp] = changed[123] ?? [];
    assert.ok(sp);
    changed[123] = [sp, [makeEndpoint('10.99.99.1', 8080)]];
    await dp.sync({ full: false, families: [makeSnapshot({ ports: [...changed, ...extra], changed: [sp.name.service] })] });
    assert.ok(runner.lastLines().length <= 16, runner.last);
    console.log(`30k services, 60k endpoints: full sync ${fullMs.toFixed(0)} ms (${String(fullLines)} statements), partial ${partialMs.toFixed(1)} ms`);
    assert.ok(partialMs < 1000, `partial sync took ${partialMs.toFixed(0)} ms`);
  });
});
