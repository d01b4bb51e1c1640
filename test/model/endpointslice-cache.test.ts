// EndpointSliceCache: the cases of upstream pkg/proxy/endpointslicecache_test.go
// (TestEndpointsMapFromESC, TestEndpointInfoByServicePort, TestEsDataChanged), named as
// upstream names them, plus duplicate-endpoint rules.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointSliceCache } from '../../src/model/endpointslice-cache.ts';
import { endpoint, generateEndpointSlice, generateEndpointSliceWithOffset, makeSlice, slicePort, type EndpointSliceJSON } from './builders.ts';
import { epv, mustDecodeSlice, viewEndpointsMap, type EpView } from './helpers.ts';

interface MapCase {
  name: string;
  hostname?: string;
  service?: string;
  slices: EndpointSliceJSON[];
  expected: Record<string, EpView[]>;
}

function range(ip: (i: number) => string, from: number, to: number, ...flags: ('L' | 'R' | 'S' | 'T')[]): EpView[] {
  const out: EpView[] = [];
  for (let i = from; i <= to; i++) out.push(epv(ip(i), ...flags));
  return out;
}

const mapCases: MapCase[] = [{
  name: '1 slice, 2 hosts, ports 80,443',
  hostname: 'host1',
  slices: [generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443])],
  expected: {
    'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.2:80', 'L', 'R', 'S'), epv('10.0.1.3:80', 'R', 'S')],
    'ns1/svc1:port-1/TCP': [epv('10.0.1.1:443', 'R', 'S'), epv('10.0.1.2:443', 'L', 'R', 'S'), epv('10.0.1.3:443', 'R', 'S')],
  },
}, {
  name: '2 slices, same port',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, [], [80]),
    generateEndpointSlice('svc1', 'ns1', 2, 3, 999, 999, [], [80]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [...range((i) => `10.0.1.${i}:80`, 1, 3, 'R', 'S'), ...range((i) => `10.0.2.${i}:80`, 1, 3, 'R', 'S')],
  },
}, {
  // Same slice name twice: the second version replaces the first.
  name: '2 overlapping slices, same port',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, [], [80]),
    generateEndpointSlice('svc1', 'ns1', 1, 4, 999, 999, [], [80]),
  ],
  expected: { 'ns1/svc1:port-0/TCP': range((i) => `10.0.1.${i}:80`, 1, 4, 'R', 'S') },
}, {
  name: '2 slices, overlapping endpoints, some endpoints unready in 1 or both',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 10, 3, 999, [], [80]),
    generateEndpointSlice('svc1', 'ns1', 1, 10, 6, 999, [], [80]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [
      epv('10.0.1.10:80', 'R', 'S'), epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.2:80', 'R', 'S'), epv('10.0.1.3:80', 'R', 'S'),
      epv('10.0.1.4:80', 'R', 'S'), epv('10.0.1.5:80', 'R', 'S'), epv('10.0.1.6:80'), epv('10.0.1.7:80', 'R', 'S'),
      epv('10.0.1.8:80', 'R', 'S'), epv('10.0.1.9:80', 'R', 'S'),
    ],
  },
}, {
  name: '2 slices, overlapping endpoints, some endpoints unready and some endpoints terminating',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 10, 3, 5, [], [80]),
    generateEndpointSlice('svc1', 'ns1', 1, 10, 6, 5, [], [80]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [
      epv('10.0.1.10:80', 'S', 'T'), epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.2:80', 'R', 'S'), epv('10.0.1.3:80', 'R', 'S'),
      epv('10.0.1.4:80', 'R', 'S'), epv('10.0.1.5:80', 'S', 'T'), epv('10.0.1.6:80'), epv('10.0.1.7:80', 'R', 'S'),
      epv('10.0.1.8:80', 'R', 'S'), epv('10.0.1.9:80', 'R', 'S'),
    ],
  },
}, {
  name: '2 slices, overlapping endpoints, all unready',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 10, 1, 999, [], [80]),
    generateEndpointSlice('svc1', 'ns1', 1, 10, 1, 999, [], [80]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [epv('10.0.1.10:80'), ...range((i) => `10.0.1.${i}:80`, 1, 9)],
  },
}, {
  name: '3 slices with different services and namespaces',
  slices: [
    generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, [], [80]),
    generateEndpointSlice('svc2', 'ns1', 2, 3, 999, 999, [], [80]),
    generateEndpointSlice('svc1', 'ns2', 3, 3, 999, 999, [], [80]),
  ],
  expected: { 'ns1/svc1:port-0/TCP': range((i) => `10.0.1.${i}:80`, 1, 3, 'R', 'S') },
}, {
  // A nil port is dropped by the decoder (with a log line); nothing else breaks.
  name: 'Nil port should not break anything',
  hostname: 'host1',
  slices: [generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [null])],
  expected: {},
}, {
  name: 'Different endpoints with duplicate IPs should not be filtered',
  hostname: 'host1',
  slices: [
    generateEndpointSliceWithOffset('svc1', 'ns1', 1, 1, 2, 999, 999, ['host1', 'host2'], [80]),
    generateEndpointSliceWithOffset('svc1', 'ns1', 2, 1, 2, 999, 999, ['host1', 'host2'], [8080]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [
      epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.1:8080', 'R', 'S'), epv('10.0.1.2:80', 'L', 'R', 'S'), epv('10.0.1.2:8080', 'L', 'R', 'S'),
    ],
  },
}, {
  // upstream TestEndpointInfoByServicePort
  name: 'simple use case with 3 endpoints',
  hostname: 'host1',
  slices: [generateEndpointSlice('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80])],
  expected: { 'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.2:80', 'L', 'R', 'S'), epv('10.0.1.3:80', 'R', 'S')] },
}, {
  name: '4 different slices with duplicate IPs',
  hostname: 'host1',
  slices: [
    generateEndpointSliceWithOffset('svc1', 'ns1', 1, 1, 2, 999, 999, ['host1', 'host2'], [80]),
    generateEndpointSliceWithOffset('svc1', 'ns1', 2, 1, 2, 999, 999, ['host1', 'host2'], [8080]),
  ],
  expected: {
    'ns1/svc1:port-0/TCP': [
      epv('10.0.1.1:80', 'R', 'S'), epv('10.0.1.1:8080', 'R', 'S'), epv('10.0.1.2:80', 'L', 'R', 'S'), epv('10.0.1.2:8080', 'L', 'R', 'S'),
    ],
  },
}];

function appliedView(cache: EndpointSliceCache, service: string): Record<string, EpView[]> {
  return viewEndpointsMap(cache.appliedEndpoints(service));
}

describe('EndpointSliceCache endpoints map (upstream TestEndpointsMapFromESC, TestEndpointInfoByServicePort)', () => {
  for (const tc of mapCases) {
    it(tc.name, () => {
      const cache = new EndpointSliceCache('IPv4', tc.hostname ?? '');
      const before = JSON.stringify(tc.slices);
      for (const s of tc.slices) cache.updatePending(mustDecodeSlice(s));
      cache.checkoutChanges();
      assert.deepEqual(appliedView(cache, tc.service ?? 'ns1/svc1'), tc.expected);
      assert.equal(JSON.stringify(tc.slices), before, 'input objects were mutated');
    });
  }
});

describe('EndpointSliceCache change detection (upstream TestEsDataChanged)', () => {
  const port80 = slicePort('http', 80);
  const port443 = slicePort('https', 443);
  const endpoint1 = endpoint('10.0.1.0');
  const endpoint2 = endpoint('10.0.1.1');
  const slice = (ports: typeof port80[], endpoints: ReturnType<typeof endpoint>[] = []): EndpointSliceJSON =>
    makeSlice('bar', 'svc1', 'foo', (s) => { s.ports = ports; s.endpoints = endpoints; });
  const cases: { name: string; initial: EndpointSliceJSON; updated: EndpointSliceJSON; expectChanged: boolean }[] = [
    { name: 'identical slices, ports only', initial: slice([port80]), updated: slice([port80]), expectChanged: false },
    { name: 'identical slices, ports out of order', initial: slice([port443, port80]), updated: slice([port80, port443]), expectChanged: true },
    { name: 'port removed', initial: slice([port443, port80]), updated: slice([port443]), expectChanged: true },
    { name: 'port added', initial: slice([port443]), updated: slice([port443, port80]), expectChanged: true },
    { name: 'identical with endpoints', initial: slice([port443], [endpoint1, endpoint2]), updated: slice([port443], [endpoint1, endpoint2]), expectChanged: false },
    { name: 'identical with endpoints out of order', initial: slice([port443], [endpoint1, endpoint2]), updated: slice([port443], [endpoint2, endpoint1]), expectChanged: true },
    { name: 'identical with endpoint added', initial: slice([port443], [endpoint1]), updated: slice([port443], [endpoint2, endpoint1]), expectChanged: true },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const cache = new EndpointSliceCache('IPv4', '');
      assert.equal(cache.updatePending(mustDecodeSlice(tc.initial)), true);
      cache.checkoutChanges();
      assert.equal(cache.updatePending(mustDecodeSlice(tc.updated)), tc.expectChanged);
    });
  }

  it('a reordered slice is a change, but reports no Service whose endpoints are the same', () => {
    const cache = new EndpointSliceCache('IPv4', '');
    cache.updatePending(mustDecodeSlice(slice([port443], [endpoint1, endpoint2])));
    assert.equal(cache.checkoutChanges().size, 1);
    assert.equal(cache.updatePending(mustDecodeSlice(slice([port443], [endpoint2, endpoint1]))), true);
    assert.equal(cache.checkoutChanges().size, 0);
  });

  it('a change reverted before checkout leaves nothing pending', () => {
    const cache = new EndpointSliceCache('IPv4', '');
    cache.updatePending(mustDecodeSlice(slice([port80], [endpoint1])));
    cache.checkoutChanges();
    assert.equal(cache.updatePending(mustDecodeSlice(slice([port80], [endpoint2]))), true);
    assert.equal(cache.updatePending(mustDecodeSlice(slice([port80], [endpoint1]))), true);
    assert.equal(cache.hasPending, false);
    assert.equal(cache.removePending('bar', 'foo'), true);
    assert.equal(cache.removePending('bar', 'foo'), false);
    assert.equal(cache.removePending('bar', 'never-seen'), false);
  });
});

describe('EndpointSliceCache duplicate endpoints across slices', () => {
  const mk = (name: string, terminating: boolean): EndpointSliceJSON => makeSlice('ns1', 'svc1', name, (s) => {
    s.ports = [slicePort('p', 80)];
    s.endpoints = [endpoint('10.0.0.1', { ready: !terminating, serving: true, terminating, nodeName: terminating ? 'old' : 'new' })];
  });
  for (const order of [['a', 'b'], ['b', 'a']] as const) {
    it(`prefers the non-terminating copy (terminating copy in slice ${order[0]})`, () => {
      const cache = new EndpointSliceCache('IPv4', 'new');
      cache.updatePending(mustDecodeSlice(mk(order[0], true)));
      cache.updatePending(mustDecodeSlice(mk(order[1], false)));
      cache.checkoutChanges();
      assert.deepEqual(appliedView(cache, 'ns1/svc1'), { 'ns1/svc1:p/TCP': [epv('10.0.0.1:80', 'L', 'R', 'S')] });
    });
  }

  it('the endpoint stays while it moves between slices', () => {
    const cache = new EndpointSliceCache('IPv4', '');
    cache.updatePending(mustDecodeSlice(mk('a', false)));
    cache.checkoutChanges();
    cache.updatePending(mustDecodeSlice(mk('b', false)));
    cache.updatePending(mustDecodeSlice(makeSlice('ns1', 'svc1', 'a', (s) => { s.ports = [slicePort('p', 80)]; })));
    assert.equal(cache.checkoutChanges().size, 0, 'same endpoints: no change reported');
    assert.deepEqual(appliedView(cache, 'ns1/svc1'), { 'ns1/svc1:p/TCP': [epv('10.0.0.1:80', 'R', 'S')] });
  });

  it('resolves target ports per slice by port name', () => {
    const cache = new EndpointSliceCache('IPv4', '');
    cache.updatePending(mustDecodeSlice(makeSlice('ns1', 'svc1', 'a', (s) => { s.ports = [slicePort('http', 8080)]; s.endpoints = [endpoint('10.0.0.1')]; })));
    cache.updatePending(mustDecodeSlice(makeSlice('ns1', 'svc1', 'b', (s) => { s.ports = [slicePort('http', 9090)]; s.endpoints = [endpoint('10.0.0.2')]; })));
    cache.checkoutChanges();
    assert.deepEqual(appliedView(cache, 'ns1/svc1'), { 'ns1/svc1:http/TCP': [epv('10.0.0.1:8080', 'R', 'S'), epv('10.0.0.2:9090', 'R', 'S')] });
  });
});
