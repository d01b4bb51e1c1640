import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { addPort, makeService } from './builders.ts';

describe('FamilySnapshot.portsByService', () => {
  it('indexes the port keys of each Service, following adds, port changes and deletes', () => {
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger: silentLogger() });
    const svc = makeService('ns1', 'svc1', (s) => { s.spec.clusterIP = '172.30.0.1'; addPort(s, 'a', 'TCP', 80); addPort(s, 'b', 'UDP', 53); });
    state.onServiceAdd(svc);
    state.onServiceAdd(makeService('ns1', 'svc2', (s) => { s.spec.clusterIP = '172.30.0.2'; addPort(s, '', 'TCP', 8080); }));
    const first = state.takeSnapshots().families[0];
    assert.ok(first);
    assert.deepEqual([...(first.portsByService.get('ns1/svc1') ?? [])].sort(), ['ns1/svc1:a/TCP', 'ns1/svc1:b/UDP']);
    assert.deepEqual(first.portsByService.get('ns1/svc2'), ['ns1/svc2:/TCP']);
    state.onServiceUpdate(svc, makeService('ns1', 'svc1', (s) => { s.spec.clusterIP = '172.30.0.1'; addPort(s, 'a', 'TCP', 80); }));
    state.onServiceDelete(makeService('ns1', 'svc2'));
    const snap = state.takeSnapshots().families[0];
    assert.ok(snap);
    assert.deepEqual(snap.portsByService.get('ns1/svc1'), ['ns1/svc1:a/TCP']);
    assert.equal(snap.portsByService.has('ns1/svc2'), false);
    assert.equal(first.portsByService.has('ns1/svc2'), true, 'an earlier snapshot never changes');
  });
});
