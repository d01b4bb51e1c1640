// decodeNode: the fields the proxy reads, and bad input.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNode } from '../../src/model/decode/node.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { makeNode, type Json } from './builders.ts';

function decode(obj: unknown): { node: ReturnType<typeof decodeNode>; warns: Record<string, unknown>[] } {
  const { logger, records } = memoryLogger();
  return { node: decodeNode(obj, logger), warns: records.filter((r) => r['level'] === 40) };
}

describe('decodeNode', () => {
  it('decodes labels, deletion, autoscaler taint, addresses and pod CIDRs', () => {
    const { node, warns } = decode(makeNode('node1', (n) => {
      n.metadata.labels = { 'topology.kubernetes.io/zone': 'zone-a' };
      n.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
      n.spec.taints = [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }];
      n.spec.podCIDRs = ['10.244.1.7/24', 'fd00:10:244:1::/64'];
      n.status.addresses = [
        { type: 'InternalIP', address: '192.168.0.10' }, { type: 'ExternalIP', address: '2001:DB8::10' },
        { type: 'Hostname', address: 'node1' }, { type: 'InternalIP', address: '192.168.0.10' },
      ];
    }));
    assert.equal(warns.length, 0);
    assert.deepEqual(node && {
      name: node.name, labels: Object.fromEntries(node.labels), deleting: node.deleting, tbd: node.toBeDeletedByAutoscaler,
      addresses: node.addresses, podCIDRs: node.podCIDRs,
    }, {
      name: 'node1', labels: { 'topology.kubernetes.io/zone': 'zone-a' }, deleting: true, tbd: true,
      addresses: ['192.168.0.10', '2001:db8::10'], podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
    });
  });

  it('falls back to spec.podCIDR', () => {
    const { node } = decode(makeNode('node1', (n) => { n.spec.podCIDR = '10.244.2.0/24'; }));
    assert.deepEqual(node?.podCIDRs, ['10.244.2.0/24']);
    assert.equal(node.deleting, false);
    assert.equal(node.toBeDeletedByAutoscaler, false);
  });

  const bad: [string, unknown, string, string, boolean][] = [
    ['bad address is dropped', makeNode('node1', (n) => { n.status.addresses = [{ type: 'InternalIP', address: '192.168.0.300' }]; }), 'status.addresses[0].address', '"192.168.0.300"', true],
    ['bad pod CIDR is dropped', makeNode('node1', (n) => { n.spec.podCIDRs = ['10.244.0.0/40']; }), 'spec.podCIDRs[0]', '"10.244.0.0/40"', true],
    ['taints not a list', makeNode('node1', (n) => { (n.spec as Json)['taints'] = 'NoSchedule'; }), 'spec.taints', '"NoSchedule"', false],
    ['no metadata', { kind: 'Node' }, 'metadata', 'undefined', false],
    ['labels with a non-string value', makeNode('node1', (n) => { (n.metadata as Json)['labels'] = { a: 1 }; }), 'metadata.labels["a"]', '1', false],
  ];
  for (const [name, obj, field, value, kept] of bad) {
    it(name, () => {
      const { node, warns } = decode(obj);
      assert.equal(warns.length, 1);
      assert.equal(warns[0]?.['kind'], 'Node');
      assert.equal(warns[0]['field'], field);
      assert.equal(warns[0]['value'], value);
      assert.equal(node !== undefined, kept);
    });
  }
});
