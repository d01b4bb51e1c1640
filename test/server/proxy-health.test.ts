import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHealth, healthTimeoutFor } from '../../src/server/proxy-health.ts';
import type { IPFamily, NodeInfo } from '../../src/model/types.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const SECOND = 1000;

function node(overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name: 'test-node',
    labels: new Map(),
    deleting: false,
    toBeDeletedByAutoscaler: false,
    addresses: ['192.168.0.1'],
    podCIDRs: [],
    ...overrides,
  };
}

function statusOf(h: ProxyHealth): Record<string, { lastUpdated: number; healthy: boolean }> {
  return Object.fromEntries(h.health().status);
}

describe('ProxyHealth', () => {
  it('uses 2 × syncPeriod as the health timeout', () => {
    assert.equal(healthTimeoutFor(30 * SECOND), 60 * SECOND);
  });

  it('is healthy while starting up, whatever is queued, and reports no families', async () => {
    const clock = new FakeClock();
    const h = new ProxyHealth({ clock, healthTimeout: 10 * SECOND });
    h.queuedUpdate('IPv4');
    await clock.advance(60 * SECOND);
    const report = h.health();
    assert.equal(report.healthy, true);
    assert.equal(report.lastUpdated, undefined);
    assert.equal(report.status.size, 0);
  });

  // Port of upstream testProxyHealthUpdater, at the state level (10s timeout, 25s steps).
  it('tracks each family: unhealthy when a queued update is older than the timeout', async () => {
    const clock = new FakeClock();
    const h = new ProxyHealth({ clock, healthTimeout: 10 * SECOND });
    const both: IPFamily[] = ['IPv4', 'IPv6'];

    for (const f of both) h.updated(f);
    let t = clock.now();
    assert.deepEqual(statusOf(h), { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: true } });

    // Still healthy with nothing queued, however long.
    await clock.advance(25 * SECOND);
    assert.equal(h.isHealthy(), true);

    // IPv4 late.
    h.queuedUpdate('IPv4');
    await clock.advance(25 * SECOND);
    let r = h.health();
    assert.equal(r.healthy, false);
    assert.equal(r.lastUpdated, t);
    assert.deepEqual(statusOf(h), { IPv4: { lastUpdated: t, healthy: false }, IPv6: { lastUpdated: t, healthy: true } });

    for (const f of both) h.updated(f);
    t = clock.now();
    await clock.advance(5 * SECOND);
    assert.equal(h.isHealthy(), true);

    // IPv6 late; updating IPv4 does not help.
    h.queuedUpdate('IPv6');
    await clock.advance(25 * SECOND);
    assert.deepEqual(statusOf(h), { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: false } });
    h.updated('IPv4');
    r = h.health();
    assert.equal(r.healthy, false);
    assert.equal(r.lastUpdated, clock.now(), 'lastUpdated is the most recent update of any family');
    h.updated('IPv6');
    assert.equal(h.isHealthy(), true);

    // Both late: not healthy until both have updated.
    h.queuedUpdate('IPv4');
    h.queuedUpdate('IPv6');
    await clock.advance(25 * SECOND);
    assert.equal(h.isHealthy(), false);
    h.updated('IPv4');
    assert.equal(h.isHealthy(), false);
    h.updated('IPv6');
    assert.equal(h.isHealthy(), true);
  });

  it('measures from the oldest queued update; the timeout boundary is unhealthy', async () => {
    const clock = new FakeClock();
    const h = new ProxyHealth({ clock, healthTimeout: 10 * SECOND });
    h.updated('IPv4');
    h.queuedUpdate('IPv4');
    await clock.advance(6 * SECOND);
    h.queuedUpdate('IPv4'); // does not move the oldest
    await clock.advance(4 * SECOND - 1);
    assert.equal(h.isHealthy(), true);
    await clock.advance(1);
    assert.equal(h.isHealthy(), false);
  });

  it('judges node eligibility: unknown, deleting or tainted nodes are not eligible', () => {
    const h = new ProxyHealth({ clock: new FakeClock(), healthTimeout: SECOND });
    const cases: { name: string; node: NodeInfo | undefined; eligible: boolean }[] = [
      { name: 'never seen', node: undefined, eligible: false },
      { name: 'plain node', node: node(), eligible: true },
      { name: 'being deleted', node: node({ deleting: true }), eligible: false },
      { name: 'ToBeDeletedByClusterAutoscaler', node: node({ toBeDeletedByAutoscaler: true }), eligible: false },
      { name: 'back to normal', node: node(), eligible: true },
      { name: 'deleted (gone)', node: undefined, eligible: false },
    ];
    assert.equal(h.nodeEligible(), false, 'not eligible before any node is seen');
    for (const c of cases) {
      h.syncNode(c.node);
      assert.equal(h.nodeEligible(), c.eligible, c.name);
      assert.equal(h.isHealthy(), true, `${c.name}: node does not affect proxier health`);
    }
  });
});
