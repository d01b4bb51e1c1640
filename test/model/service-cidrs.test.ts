// ServiceCIDR objects in the model: snapshots carry the union of their CIDRs per family once
// their initial list is in (not before: the configured ones apply meanwhile); a CIDR that does
// not parse is logged naming the object and the field, and skipped; a change notifies the loop.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import type { KubeObject } from '../../src/sources/handlers.ts';
import { memoryLogger } from '../../src/util/logger.ts';

const cidr = (name: string, cidrs: unknown, rv = '1'): KubeObject => ({ metadata: { name, resourceVersion: rv }, spec: { cidrs } });

describe('ProxyState: ServiceCIDRs', () => {
  it('no CIDRs in snapshots until the initial list is in; then the union per family, sorted and distinct', () => {
    const { logger } = memoryLogger();
    let notified = 0;
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4', 'IPv6'], logger, onChange: () => { notified++; } });
    state.onServiceCIDRAdd(cidr('kubernetes', ['10.96.0.0/12', 'fd00:10:96::/112']));
    state.onServiceCIDRAdd(cidr('extra', ['10.200.0.0/16', '10.96.0.0/12']));
    assert.equal(notified, 0);
    assert.equal(state.takeSnapshots().families[0]?.serviceCIDRs, undefined, 'not synced yet: the configured ones apply');
    state.onServiceCIDRsSynced();
    assert.equal(notified, 1);
    const [v4, v6] = state.takeSnapshots().families;
    assert.deepEqual(v4?.serviceCIDRs, ['10.200.0.0/16', '10.96.0.0/12']);
    assert.deepEqual(v6?.serviceCIDRs, ['fd00:10:96::/112']);
    state.onServiceCIDRDelete(cidr('extra', []));
    assert.equal(notified, 2);
    assert.deepEqual(state.takeSnapshots().families[0]?.serviceCIDRs, ['10.96.0.0/12']);
    // The same CIDRs again (another object, or a new resourceVersion): no change, no sync.
    state.onServiceCIDRUpdate(cidr('kubernetes', []), cidr('kubernetes', ['10.96.0.0/12', 'fd00:10:96::/112'], '2'));
    assert.equal(notified, 2);
    state.onServiceCIDRDelete(cidr('kubernetes', []));
    assert.deepEqual(state.takeSnapshots().families.map((f) => f.serviceCIDRs), [[], []], 'none left: no range to drop');
  });

  it('a CIDR that does not parse is logged with the object and the field, and skipped; the others count', () => {
    const { logger, records } = memoryLogger();
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger });
    state.onServiceCIDRsSynced();
    state.onServiceCIDRAdd(cidr('odd', ['10.96.0.1/12', 'not-a-cidr', 7, '10.0.0.0/33']));
    state.onServiceCIDRAdd(cidr('broken', 'x'));
    assert.deepEqual(state.takeSnapshots().families[0]?.serviceCIDRs, ['10.96.0.0/12'], 'canonical network');
    const warned = records.filter((r) => r['level'] === 40).map((r) => [r['serviceCIDR'], r['field']]);
    assert.deepEqual(warned, [['odd', 'spec.cidrs[1]'], ['odd', 'spec.cidrs[2]'], ['odd', 'spec.cidrs[3]'], ['broken', 'spec.cidrs']]);
  });
});
