// ApiSource with serviceCIDRs: ServiceCIDR objects are listed and watched when the API server
// serves them, and not asked for again when it answers 404 (before 1.33, or the feature off);
// the other resources are unaffected either way.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, ServiceCIDRHandler } from '../../src/sources/handlers.ts';
import { SERVICE_CIDRS } from './fake-apiserver.ts';
import { RecordingHandlers, waitFor } from './fixtures.ts';
import { converged, resourceRequests, seedCluster, startHarness } from './harness.ts';

class WithServiceCIDRs extends RecordingHandlers implements ServiceCIDRHandler {
  readonly cidrEvents: string[] = [];
  onServiceCIDRAdd(o: KubeObject): void { this.cidrEvents.push(`add ${o.metadata.name} ${JSON.stringify(o['spec'])}`); }
  onServiceCIDRUpdate(_a: KubeObject, o: KubeObject): void { this.cidrEvents.push(`update ${o.metadata.name} ${JSON.stringify(o['spec'])}`); }
  onServiceCIDRDelete(o: KubeObject): void { this.cidrEvents.push(`delete ${o.metadata.name}`); }
  onServiceCIDRsSynced(): void { this.cidrEvents.push('synced'); }
}

describe('ApiSource: ServiceCIDRs', () => {
  it('lists and watches them when served: adds, then synced, then changes', async (t) => {
    const handlers = new WithServiceCIDRs();
    const h = await startHarness(t, {
      fake: { serviceCIDRs: true }, serviceCIDRs: true, handlers,
      seed: (fake) => {
        seedCluster(fake);
        fake.upsert(SERVICE_CIDRS, { metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/12'] } });
      },
    });
    await converged(h);
    await waitFor('ServiceCIDRs synced', () => handlers.cidrEvents.includes('synced'));
    assert.deepEqual(handlers.cidrEvents, ['add kubernetes {"cidrs":["10.96.0.0/12"]}', 'synced']);
    await waitFor('ServiceCIDR watch open', () => resourceRequests(h, SERVICE_CIDRS.path, true).length === 1);
    h.fake.upsert(SERVICE_CIDRS, { metadata: { name: 'extra' }, spec: { cidrs: ['10.200.0.0/16'] } });
    h.fake.remove(SERVICE_CIDRS, undefined, 'kubernetes');
    await waitFor('watch events', () => handlers.cidrEvents.length === 4);
    assert.deepEqual(handlers.cidrEvents.slice(2), ['add extra {"cidrs":["10.200.0.0/16"]}', 'delete kubernetes']);
    assert.equal(h.source.status()['servicecidrs']?.synced, true);
  });

  it('an API server that does not serve them (404) is asked once; the rest is watched as usual', async (t) => {
    const handlers = new WithServiceCIDRs();
    const h = await startHarness(t, { serviceCIDRs: true, handlers, seed: seedCluster });
    await converged(h);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(resourceRequests(h, SERVICE_CIDRS.path, false).length, 1, 'one LIST, no retries');
    assert.deepEqual(handlers.cidrEvents, [], 'nothing delivered, not even synced: the configured CIDRs stay');
    assert.ok(h.logs.some((r) => r['msg'] === 'servicecidrs are not served by this API server: not watched'));
    assert.deepEqual(h.counters.errors, []);
  });

  it('off by default, and with handlers that do not take them', async (t) => {
    const h = await startHarness(t, { fake: { serviceCIDRs: true }, seed: seedCluster });
    await converged(h);
    const h2 = await startHarness(t, { fake: { serviceCIDRs: true }, serviceCIDRs: true, seed: seedCluster });
    await converged(h2);
    assert.equal(resourceRequests(h, SERVICE_CIDRS.path, false).length + resourceRequests(h2, SERVICE_CIDRS.path, false).length, 0);
  });
});
