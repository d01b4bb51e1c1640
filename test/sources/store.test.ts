import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/sources/handlers.ts';
import { ObjectStore, validateObject, type StoreSink } from '../../src/sources/api/store.ts';
import {
  LEGACY_COMBINED_LABEL_SELECTOR, endpointSlicesResource, escapeFieldValue, nodeResource, resourceQuery, servicesResource,
} from '../../src/sources/api/resources.ts';

const services = servicesResource();
const nodes = nodeResource('node-a');

function obj(name: string, rv: string, ns = 'default'): KubeObject {
  return { metadata: { name, namespace: ns, resourceVersion: rv }, spec: {} };
}

function recorder(): { sink: StoreSink; log: string[] } {
  const log: string[] = [];
  return {
    log,
    sink: {
      add: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion ?? ''}`),
      update: (a, b) => log.push(`update ${b.metadata.name}@${a.metadata.resourceVersion ?? ''}->${b.metadata.resourceVersion ?? ''}`),
      delete: (o) => log.push(`delete ${o.metadata.name}`),
    },
  };
}

describe('ObjectStore', () => {
  it('keeps identities only: the handlers get whole new objects, and slim old/deleted ones', () => {
    const s = new ObjectStore();
    const seen: KubeObject[] = [];
    const sink: StoreSink = { add: (o) => seen.push(o), update: (a, b) => seen.push(a, b), delete: (o) => seen.push(o) };
    const big: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default', resourceVersion: '1', uid: 'u1', labels: { x: 'y' } }, spec: { ports: [] } };
    s.upsert(big, sink);
    assert.equal(seen[0], big, 'add carries the object itself');
    assert.deepEqual(s.get('default/a'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default', resourceVersion: '1', uid: 'u1' } });
    s.upsert({ ...big, metadata: { ...big.metadata, resourceVersion: '2' } }, sink);
    const [, old, current, gone] = seen;
    assert.deepEqual(old, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default', resourceVersion: '1', uid: 'u1' } });
    assert.ok(current && 'spec' in current, 'the new version is whole');
    s.replace([], sink);
    const deleted = seen[3];
    assert.ok(gone === undefined && deleted !== undefined);
    assert.deepEqual(deleted, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default', resourceVersion: '2', uid: 'u1' } });
  });

  it('replace() emits adds, updates for a new resourceVersion only, and deletes', () => {
    const s = new ObjectStore();
    const r = recorder();
    s.replace([obj('a', '1'), obj('b', '1'), obj('c', '1')], r.sink);
    r.log.length = 0;
    const res = s.replace([obj('a', '1'), obj('b', '2'), obj('d', '1')], r.sink);
    assert.deepEqual(r.log, ['update b@1->2', 'add d@1', 'delete c']);
    assert.deepEqual(res, { added: 1, updated: 1, deleted: 1, unchanged: 1 });
  });

  it('upsert() ignores a replayed version; remove() of an unknown object says nothing', () => {
    const s = new ObjectStore();
    const r = recorder();
    assert.equal(s.upsert(obj('a', '1'), r.sink), 'added');
    assert.equal(s.upsert(obj('a', '1'), r.sink), 'unchanged');
    assert.equal(s.upsert(obj('a', '2'), r.sink), 'updated');
    assert.equal(s.remove(obj('zz', '3'), r.sink), false);
    assert.equal(s.remove(obj('a', '3'), r.sink), true);
    assert.deepEqual(r.log, ['add a@1', 'update a@1->2', 'delete a']);
  });
});

describe('validateObject', () => {
  const bad: { name: string; raw: unknown; spec?: typeof services; field: string }[] = [
    { name: 'not an object', raw: 'x', field: 'object' },
    { name: 'no metadata', raw: { spec: {} }, field: 'metadata' },
    { name: 'no name', raw: { metadata: { namespace: 'd', resourceVersion: '1' } }, field: 'metadata.name' },
    { name: 'empty name', raw: { metadata: { name: '', namespace: 'd', resourceVersion: '1' } }, field: 'metadata.name' },
    { name: 'namespaced without namespace', raw: { metadata: { name: 'a', resourceVersion: '1' } }, field: 'metadata.namespace' },
    { name: 'cluster-scoped with namespace', raw: { metadata: { name: 'a', namespace: 'd', resourceVersion: '1' } }, spec: nodes, field: 'metadata.namespace' },
    { name: 'no resourceVersion', raw: { metadata: { name: 'a', namespace: 'd' } }, field: 'metadata.resourceVersion' },
    { name: 'numeric uid', raw: { metadata: { name: 'a', namespace: 'd', resourceVersion: '1', uid: 5 } }, field: 'metadata.uid' },
    { name: 'label not a string', raw: { metadata: { name: 'a', namespace: 'd', resourceVersion: '1', labels: { x: 1 } } }, field: 'metadata.labels[x]' },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      const v = validateObject(c.raw, c.spec ?? services);
      assert.ok(!v.ok);
      assert.equal(v.field, c.field);
    });
  }

  it('keeps every other field, metadata included', () => {
    const raw = { kind: 'Node', metadata: { name: 'n', resourceVersion: '7', deletionTimestamp: '2024-01-01T00:00:00Z', labels: { a: 'b' } }, spec: { taints: [] } };
    const v = validateObject(raw, nodes);
    assert.ok(v.ok);
    assert.equal(v.obj['kind'], 'Node');
    assert.deepEqual(v.obj['spec'], { taints: [] });
    const meta: object = v.obj.metadata;
    assert.ok('deletionTimestamp' in meta);
    assert.equal(meta.deletionTimestamp, '2024-01-01T00:00:00Z');
    assert.deepEqual(v.obj.metadata.labels, { a: 'b' });
  });
});

describe('resources', () => {
  it('builds upstream selectors and queries', () => {
    assert.equal(resourceQuery(services, { limit: '500', continue: undefined }),
      '/api/v1/services?labelSelector=%21service.kubernetes.io%2Fservice-proxy-name&fieldSelector=spec.clusterIP%21%3DNone&limit=500');
    assert.equal(servicesResource({ headlessFieldSelector: false }).fieldSelector, undefined);
    assert.equal(endpointSlicesResource().labelSelector, '!service.kubernetes.io/headless');
    assert.equal(nodes.fieldSelector, 'metadata.name=node-a');
    assert.equal(LEGACY_COMBINED_LABEL_SELECTOR, '!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name');
    assert.equal(escapeFieldValue('a,b=c\\d'), 'a\\,b\\=c\\\\d');
    assert.throws(() => nodeResource(''));
  });
});
