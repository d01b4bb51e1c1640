import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Json, JsonObject } from '../../src/controlplane/json.ts';
import { applyMergePatch } from '../../src/controlplane/patch/merge-patch.ts';
import { applyJsonPatch, PatchError } from '../../src/controlplane/patch/json-patch.ts';
import { applyStrategicMergePatch } from '../../src/controlplane/patch/strategic.ts';
import { SCHEMA_NAMES } from '../../src/controlplane/registry/schema.ts';

const service = (): JsonObject => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'web', labels: { a: '1', b: '2' }, finalizers: ['x/one'] },
  spec: {
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 }],
    selector: { app: 'web' },
    externalIPs: ['192.0.2.1', '192.0.2.2'],
    type: 'ClusterIP',
  },
});

const smp = (patch: Json, base: JsonObject = service()): JsonObject => applyStrategicMergePatch(base, patch, SCHEMA_NAMES.service);
const spec = (o: JsonObject): JsonObject => o['spec'] as JsonObject;

describe('merge patch (RFC 7386)', () => {
  it('merges objects, deletes on null, replaces lists', () => {
    const out = applyMergePatch(service(), { metadata: { labels: { a: null, c: '3' } }, spec: { ports: [{ port: 81 }] } }) as JsonObject;
    assert.deepEqual((out['metadata'] as JsonObject)['labels'], { b: '2', c: '3' });
    assert.deepEqual(spec(out)['ports'], [{ port: 81 }]);
  });
  it('does not modify its input', () => {
    const base = service();
    applyMergePatch(base, { spec: { type: 'NodePort' } });
    assert.equal(spec(base)['type'], 'ClusterIP');
  });
});

describe('JSON patch (RFC 6902)', () => {
  it('applies add/remove/replace/move/copy/test', () => {
    const out = applyJsonPatch(service(), [
      { op: 'test', path: '/spec/type', value: 'ClusterIP' },
      { op: 'add', path: '/metadata/labels/c~1d', value: '3' },
      { op: 'remove', path: '/metadata/labels/a' },
      { op: 'replace', path: '/spec/ports/0/port', value: 8000 },
      { op: 'add', path: '/spec/externalIPs/-', value: '192.0.2.3' },
      { op: 'copy', from: '/spec/selector', path: '/metadata/annotations' },
      { op: 'move', from: '/spec/externalIPs/0', path: '/spec/externalIPs/1' },
    ]) as JsonObject;
    assert.deepEqual((out['metadata'] as JsonObject)['labels'], { b: '2', 'c/d': '3' });
    assert.deepEqual((out['metadata'] as JsonObject)['annotations'], { app: 'web' });
    assert.equal(((spec(out)['ports'] as JsonObject[])[0] ?? {})['port'], 8000);
    assert.deepEqual(spec(out)['externalIPs'], ['192.0.2.2', '192.0.2.1', '192.0.2.3']);
  });
  for (const [name, ops] of [
    ['failed test', [{ op: 'test', path: '/spec/type', value: 'NodePort' }]],
    ['missing path', [{ op: 'remove', path: '/spec/nope' }]],
    ['bad index', [{ op: 'replace', path: '/spec/ports/9', value: {} }]],
    ['unknown op', [{ op: 'frob', path: '/spec' }]],
    ['not a list', { op: 'add' }],
  ] as [string, Json][]) {
    it(`rejects ${name}`, () => {
      assert.throws(() => applyJsonPatch(service(), ops), PatchError);
    });
  }
});

describe('strategic merge patch', () => {
  it('merges Service ports by their merge key (port)', () => {
    const out = smp({ spec: { ports: [{ port: 443, targetPort: 9443 }, { name: 'metrics', port: 9090 }] } });
    assert.deepEqual(spec(out)['ports'], [
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
      { name: 'https', port: 443, protocol: 'TCP', targetPort: 9443 },
      { name: 'metrics', port: 9090 },
    ]);
  });
  it('deletes list elements with $patch: delete', () => {
    const out = smp({ spec: { ports: [{ port: 80, $patch: 'delete' }] } });
    assert.deepEqual((spec(out)['ports'] as JsonObject[]).map((p) => p['port']), [443]);
  });
  it('replaces a whole list with $patch: replace', () => {
    const out = smp({ spec: { ports: [{ port: 1 }, { $patch: 'replace' }] } });
    assert.deepEqual(spec(out)['ports'], [{ port: 1 }]);
  });
  it('replaces atomic lists (externalIPs) and merges maps (selector, labels)', () => {
    const out = smp({ metadata: { labels: { a: null, z: '9' } }, spec: { externalIPs: ['198.51.100.1'], selector: { tier: 'x' } } });
    assert.deepEqual(spec(out)['externalIPs'], ['198.51.100.1']);
    assert.deepEqual(spec(out)['selector'], { app: 'web', tier: 'x' });
    assert.deepEqual((out['metadata'] as JsonObject)['labels'], { b: '2', z: '9' });
  });
  it('merges primitive lists with patchStrategy merge (finalizers) and honours $deleteFromPrimitiveList', () => {
    const added = smp({ metadata: { finalizers: ['x/two'] } });
    // Upstream's normalizeElementOrder puts items named in the patch before server-only ones
    // when their relative order is unknown.
    assert.deepEqual((added['metadata'] as JsonObject)['finalizers'], ['x/two', 'x/one']);
    const removed = smp({ metadata: { '$deleteFromPrimitiveList/finalizers': ['x/one'] } }, added);
    assert.deepEqual((removed['metadata'] as JsonObject)['finalizers'], ['x/two']);
  });
  it('orders merged lists by $setElementOrder, as kubectl apply sends it', () => {
    const out = smp({ spec: { '$setElementOrder/ports': [{ port: 443 }, { port: 80 }], ports: [{ port: 80, targetPort: 81 }] } });
    assert.deepEqual((spec(out)['ports'] as JsonObject[]).map((p) => [p['port'], p['targetPort']]), [[443, 8443], [80, 81]]);
  });
  it('removes fields set to null and replaces maps with $patch: replace', () => {
    const out = smp({ spec: { selector: { $patch: 'replace', only: 'this' }, type: null } });
    assert.deepEqual(spec(out)['selector'], { only: 'this' });
    assert.equal(spec(out)['type'], undefined);
  });
  it('merges EndpointSlice lists atomically (endpoints replace)', () => {
    const slice: JsonObject = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }] };
    const out = applyStrategicMergePatch(slice, { endpoints: [{ addresses: ['10.0.0.3'] }] }, SCHEMA_NAMES.endpointSlice);
    assert.deepEqual(out['endpoints'], [{ addresses: ['10.0.0.3'] }]);
  });
  it('merges Node addresses by type and podCIDRs as a set', () => {
    const node: JsonObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { podCIDRs: ['10.244.0.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.10' }, { type: 'Hostname', address: 'n' }] } };
    const out = applyStrategicMergePatch(node, { spec: { podCIDRs: ['fd00::/64'] }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }] } }, SCHEMA_NAMES.node);
    assert.deepEqual((out['spec'] as JsonObject)['podCIDRs'], ['fd00::/64', '10.244.0.0/24']);
    assert.deepEqual((out['status'] as JsonObject)['addresses'], [{ type: 'InternalIP', address: '192.0.2.11' }, { type: 'Hostname', address: 'n' }]);
  });
  it('rejects merged list elements without the merge key', () => {
    assert.throws(() => smp({ spec: { ports: [{ name: 'x' }] } }), PatchError);
  });
});
