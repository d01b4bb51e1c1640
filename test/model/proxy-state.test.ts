// ProxyState: handlers in, immutable per-family snapshots out.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyState } from '../../src/model/proxy-state.ts';
import type { KubeObject } from '../../src/sources/handlers.ts';
import type { Clock } from '../../src/util/clock.ts';
import { memoryLogger, silentLogger } from '../../src/util/logger.ts';
import { addPort, endpoint, makeNode, makeService, makeSlice, setClusterIPs, slicePort } from './builders.ts';
import { epv, viewEndpointsMap } from './helpers.ts';

const fakeClock = (now: number): Clock => ({ now: () => now, monotonic: () => 0, setTimeout: () => ({ cancel: () => undefined }) });

function newState(opts: { families?: ('IPv4' | 'IPv6')[]; serviceProxyName?: string; now?: number } = {}): { state: ProxyState; changes: () => number } {
  let n = 0;
  const state = new ProxyState({
    nodeName: 'node1', families: opts.families ?? ['IPv4'], logger: silentLogger(), serviceProxyName: opts.serviceProxyName,
    onChange: () => { n++; }, clock: fakeClock(opts.now ?? 0),
  });
  return { state, changes: () => n };
}

const svc1 = (port = 53, protocol = 'UDP'): KubeObject => makeService('ns1', 'svc1', (s) => { addPort(s, 'dns', protocol, port); });
const slice1 = (...ips: string[]): KubeObject => makeSlice('ns1', 'svc1', 1, (s) => {
  s.ports = [slicePort('dns', 5353, 'UDP')];
  s.endpoints = ips.map((ip) => endpoint(ip, { nodeName: ip.endsWith('.1') ? 'node1' : 'node2' }));
});

describe('ProxyState sync state and change notification', () => {
  it('is synced once both initial lists are in, and nudges the loop once then', () => {
    const { state, changes } = newState();
    assert.equal(state.synced, false);
    state.onServicesSynced();
    assert.equal(state.synced, false);
    state.onEndpointSlicesSynced();
    assert.equal(state.synced, true);
    assert.equal(changes(), 1);
    state.onServicesSynced();
    assert.equal(changes(), 1);
  });

  it('calls onChange for real changes only', () => {
    const { state, changes } = newState();
    state.onServiceAdd(svc1());
    assert.equal(changes(), 1);
    state.onServiceUpdate(svc1(), svc1());
    assert.equal(changes(), 1, 'no-op update');
    state.onServiceAdd(makeService('ns1', 'headless', (s) => { setClusterIPs(s, 'None'); addPort(s, 'p', 'TCP', 80); }));
    assert.equal(changes(), 1, 'headless service');
    state.onEndpointSliceAdd(slice1('10.0.0.1'));
    assert.equal(changes(), 2);
    state.onEndpointSliceUpdate(slice1('10.0.0.1'), slice1('10.0.0.1'));
    assert.equal(changes(), 2, 'no-op slice update');
    state.onEndpointSliceDelete(makeSlice('ns1', 'other', 1));
    assert.equal(changes(), 2, 'deleting an unknown slice');
    state.onServiceDelete(svc1());
    assert.equal(changes(), 3);
    state.onNodeUpdate(makeNode('node2'), makeNode('node2', (n) => { n.metadata.labels = { 'topology.kubernetes.io/zone': 'z' }; }));
    assert.equal(changes(), 3, 'another node');
  });

  it('never throws out of a handler, and survives a throwing onChange', () => {
    const { logger, records } = memoryLogger();
    const state = new ProxyState({ nodeName: 'node1', families: ['IPv4'], logger, onChange: () => { throw new Error('boom'); } });
    const garbage = [null, undefined, 7, 'x', {}, { metadata: null }, { metadata: { name: 5 } }] as unknown as KubeObject[];
    for (const g of garbage) {
      state.onServiceAdd(g);
      state.onServiceUpdate(g, g);
      state.onServiceDelete(g);
      state.onEndpointSliceAdd(g);
      state.onEndpointSliceUpdate(g, g);
      state.onEndpointSliceDelete(g);
      state.onNodeAdd(g);
      state.onNodeUpdate(g, g);
      state.onNodeDelete(g);
    }
    state.onServiceAdd(svc1());
    assert.equal(state.takeSnapshots().families[0]?.services.size, 1);
    assert.ok(records.some((r) => String(r['msg']).includes('onChange callback failed')));
  });

  it('counts pending changes', () => {
    const { state } = newState({ families: ['IPv4', 'IPv6'] });
    state.onServiceAdd(makeService('ns1', 'a', (s) => { setClusterIPs(s, '172.30.0.1', 'fd00::1'); addPort(s, 'p', 'TCP', 80); }));
    state.onServiceAdd(makeService('ns1', 'b', (s) => { addPort(s, 'p', 'TCP', 80); }));
    state.onEndpointSliceAdd(slice1('10.0.0.1'));
    state.onEndpointSliceUpdate(slice1('10.0.0.1'), slice1('10.0.0.2'));
    assert.deepEqual(state.pending(), { services: 2, endpoints: 2 });
    assert.equal(state.serviceCount, 2);
    assert.equal(state.endpointSliceCount, 1);
    state.takeSnapshots();
    assert.deepEqual(state.pending(), { services: 0, endpoints: 0 });
  });
});

describe('ProxyState snapshots', () => {
  it('hands out services, endpoints and the changed services per family', () => {
    const { state } = newState();
    state.onServiceAdd(svc1());
    state.onEndpointSliceAdd(slice1('10.0.0.1', '10.0.0.2'));
    const { families, topologyChanged } = state.takeSnapshots();
    assert.equal(topologyChanged, false);
    assert.equal(families.length, 1);
    const snap = families[0];
    assert.ok(snap);
    assert.equal(snap.family, 'IPv4');
    assert.equal(snap.nodeName, 'node1');
    assert.deepEqual([...snap.services.keys()], ['ns1/svc1:dns/UDP']);
    assert.deepEqual(viewEndpointsMap(snap.endpoints), { 'ns1/svc1:dns/UDP': [epv('10.0.0.1:5353', 'L', 'R', 'S'), epv('10.0.0.2:5353', 'R', 'S')] });
    assert.deepEqual([...snap.changedServices], ['ns1/svc1']);
    assert.deepEqual(snap.newlyActiveUDPServices.map((s) => s.key), ['ns1/svc1:dns/UDP']);

    const again = state.takeSnapshots().families[0];
    assert.equal(again?.changedServices.size, 0);
    assert.equal(again.services, snap.services, 'unchanged maps are the same object');
    assert.equal(again.endpoints, snap.endpoints);
  });

  it('never changes a snapshot already handed out', () => {
    const { state } = newState();
    state.onServiceAdd(svc1());
    state.onEndpointSliceAdd(slice1('10.0.0.1'));
    const first = state.takeSnapshots().families[0];
    state.onServiceUpdate(svc1(), svc1(54));
    state.onServiceAdd(makeService('ns2', 'svc2', (s) => { addPort(s, 'p', 'TCP', 80); }));
    state.onEndpointSliceUpdate(slice1('10.0.0.1'), slice1('10.0.0.2'));
    const second = state.takeSnapshots().families[0];
    assert.equal(first?.services.get('ns1/svc1:dns/UDP')?.port, 53);
    assert.equal(first.services.size, 1);
    assert.deepEqual(Object.keys(viewEndpointsMap(first.endpoints)), ['ns1/svc1:dns/UDP']);
    assert.equal(first.endpoints.get('ns1/svc1:dns/UDP')?.[0]?.ip, '10.0.0.1');
    assert.equal(second?.services.get('ns1/svc1:dns/UDP')?.port, 54);
    assert.equal(second.services.size, 2);
    assert.equal(second.endpoints.get('ns1/svc1:dns/UDP')?.[0]?.ip, '10.0.0.2');
    assert.deepEqual([...second.changedServices].sort(), ['ns1/svc1', 'ns2/svc2']);
    assert.deepEqual(second.deletedUDPEndpoints.map((d) => d.endpoint.key), ['10.0.0.1:5353']);
    assert.ok(Object.isFrozen(second.endpoints.get('ns1/svc1:dns/UDP')));
  });

  it('keeps address families apart', () => {
    const { state } = newState({ families: ['IPv4', 'IPv6'] });
    state.onServiceAdd(makeService('ns1', 'svc1', (s) => { setClusterIPs(s, '172.30.0.1', 'fd00:172:30::1'); addPort(s, 'p', 'TCP', 80); }));
    state.onEndpointSliceAdd(makeSlice('ns1', 'svc1', 'v4', (s) => { s.ports = [slicePort('p', 8080)]; s.endpoints = [endpoint('10.0.0.1')]; }));
    state.onEndpointSliceAdd(makeSlice('ns1', 'svc1', 'v6', (s) => { s.addressType = 'IPv6'; s.ports = [slicePort('p', 8080)]; s.endpoints = [endpoint('fd00:10::1')]; }));
    state.onEndpointSliceAdd(makeSlice('ns1', 'svc1', 'fqdn', (s) => { s.addressType = 'FQDN'; s.ports = [slicePort('p', 8080)]; s.endpoints = [endpoint('a.example.com')]; }));
    const [v4, v6] = state.takeSnapshots().families;
    assert.equal(v4?.services.get('ns1/svc1:p/TCP')?.clusterIP, '172.30.0.1');
    assert.equal(v6?.services.get('ns1/svc1:p/TCP')?.clusterIP, 'fd00:172:30::1');
    assert.deepEqual(v4.endpoints.get('ns1/svc1:p/TCP')?.map((e) => e.key), ['10.0.0.1:8080']);
    assert.deepEqual(v6.endpoints.get('ns1/svc1:p/TCP')?.map((e) => e.key), ['[fd00:10::1]:8080']);
    assert.equal(state.endpointSliceCount, 2);
  });

  it('an update that cannot be used removes the Service', () => {
    const { state } = newState();
    state.onServiceAdd(svc1());
    state.takeSnapshots();
    state.onServiceUpdate(svc1(), makeService('ns1', 'svc1', (s) => { s.spec.type = 'Bogus'; addPort(s, 'dns', 'UDP', 53); }));
    const snap = state.takeSnapshots().families[0];
    assert.equal(snap?.services.size, 0);
    assert.deepEqual([...snap.deletedUDPClusterIPs], ['172.30.0.1']);
  });

  it('a slice whose service-name label changes moves to the new Service', () => {
    const { state } = newState();
    state.onEndpointSliceAdd(slice1('10.0.0.1'));
    state.takeSnapshots();
    const moved = makeSlice('ns1', 'svc2', 'svc1-1', (s) => { s.ports = [slicePort('dns', 5353, 'UDP')]; s.endpoints = [endpoint('10.0.0.1')]; });
    state.onEndpointSliceUpdate(slice1('10.0.0.1'), moved);
    const snap = state.takeSnapshots().families[0];
    assert.deepEqual([...(snap?.endpoints.keys() ?? [])], ['ns1/svc2:dns/UDP']);
    assert.deepEqual([...(snap?.changedServices ?? [])].sort(), ['ns1/svc1', 'ns1/svc2']);
  });

  it('a slice that gains the headless label, or another proxy name, goes away', () => {
    for (const label of ['service.kubernetes.io/headless', 'service.kubernetes.io/service-proxy-name']) {
      const { state } = newState();
      state.onEndpointSliceAdd(slice1('10.0.0.1'));
      state.takeSnapshots();
      const relabelled = makeSlice('ns1', 'svc1', 1, (s) => { s.metadata.labels = { ...s.metadata.labels, [label]: 'x' }; });
      state.onEndpointSliceUpdate(slice1('10.0.0.1'), relabelled);
      assert.equal(state.takeSnapshots().families[0]?.endpoints.size, 0, label);
    }
  });

  it('honours the configured service proxy name', () => {
    const { state } = newState({ serviceProxyName: 'ours' });
    state.onServiceAdd(makeService('ns1', 'a', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'ours' }; addPort(s, 'p', 'TCP', 80); }));
    state.onServiceAdd(makeService('ns1', 'b', (s) => { s.metadata.labels = { 'service.kubernetes.io/service-proxy-name': 'theirs' }; addPort(s, 'p', 'TCP', 80); }));
    state.onServiceAdd(makeService('ns1', 'c', (s) => { addPort(s, 'p', 'TCP', 80); }));
    assert.deepEqual([...(state.takeSnapshots().families[0]?.services.keys() ?? [])].sort(), ['ns1/a:p/TCP', 'ns1/c:p/TCP']);
  });

  it('collects last-change-trigger-times after the start', () => {
    const start = Date.parse('2024-01-01T00:00:00Z');
    const { state } = newState({ now: start });
    const at = (t: string, ip: string): KubeObject => makeSlice('ns1', 'svc1', 1, (s) => {
      s.metadata.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': t };
      s.ports = [slicePort('dns', 53, 'UDP')];
      s.endpoints = [endpoint(ip)];
    });
    state.onEndpointSliceAdd(at('2023-12-31T23:59:59Z', '10.0.0.1'));
    assert.deepEqual(state.takeSnapshots().changeTriggerTimes, []);
    state.onEndpointSliceUpdate(at('2023-12-31T23:59:59Z', '10.0.0.1'), at('2024-01-01T00:00:05Z', '10.0.0.2'));
    assert.deepEqual(state.takeSnapshots().changeTriggerTimes, [start + 5000]);
  });
});

describe('ProxyState node', () => {
  it('tracks only our own Node, and reports topology changes once', () => {
    const { state, changes } = newState();
    assert.equal(state.node(), undefined);
    state.onNodeAdd(makeNode('node2'));
    assert.equal(state.node(), undefined);
    const zoned = (zone: string, extra: Record<string, string> = {}): KubeObject => makeNode('node1', (n) => { n.metadata.labels = { 'topology.kubernetes.io/zone': zone, ...extra }; });
    state.onNodeAdd(zoned('zone-a'));
    assert.equal(state.node()?.name, 'node1');
    assert.equal(changes(), 1);
    let snaps = state.takeSnapshots();
    assert.equal(snaps.topologyChanged, true);
    assert.deepEqual(Object.fromEntries(snaps.families[0]?.nodeLabels ?? []), { 'topology.kubernetes.io/zone': 'zone-a' });
    assert.equal(state.takeSnapshots().topologyChanged, false);

    state.onNodeUpdate(zoned('zone-a'), zoned('zone-a', { team: 'x' }));
    assert.equal(changes(), 1, 'non-topology label');
    assert.equal(state.takeSnapshots().topologyChanged, false);
    state.onNodeUpdate(zoned('zone-a'), zoned('zone-b'));
    assert.equal(changes(), 2);
    snaps = state.takeSnapshots();
    assert.equal(snaps.topologyChanged, true);
    assert.equal(snaps.families[0]?.nodeLabels.get('topology.kubernetes.io/zone'), 'zone-b');

    state.onNodeUpdate(zoned('zone-b'), makeNode('node1', (n) => { (n.status as Record<string, unknown>)['addresses'] = 'bad'; }));
    assert.equal(state.node()?.labels.get('topology.kubernetes.io/zone'), 'zone-b', 'an unusable update keeps what we knew');
    state.onNodeDelete(zoned('zone-b'));
    assert.equal(state.node(), undefined);
    assert.equal(state.takeSnapshots().topologyChanged, false, 'topology is kept on deletion');
  });
});
