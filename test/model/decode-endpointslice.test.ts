// decodeEndpointSlice: valid slices and bad input (one warn line naming kind, namespace/name,
// field path and value), plus the slices ignored on purpose.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEndpointSlice, type DecodedEndpointSlice } from '../../src/model/decode/endpointslice.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { endpoint, makeSlice, slicePort, type EndpointSliceJSON, type Json } from './builders.ts';

const WARN = 40;

function decode(obj: unknown, opts: { serviceProxyName?: string } = {}): { slice: DecodedEndpointSlice | undefined; warns: Record<string, unknown>[]; all: Record<string, unknown>[] } {
  const { logger, records } = memoryLogger();
  const slice = decodeEndpointSlice(obj, logger, opts);
  return { slice, warns: records.filter((r) => r['level'] === WARN), all: records };
}

function base(mutate?: (s: EndpointSliceJSON) => void): EndpointSliceJSON {
  return makeSlice('ns1', 'svc1', 'svc1-abc', (s) => {
    s.ports = [slicePort('http', 8080), slicePort('dns', 53, 'UDP')];
    s.endpoints = [endpoint('10.0.0.1', { ready: true, nodeName: 'node1' }), endpoint('10.0.0.2', { ready: true, nodeName: 'node2' })];
    mutate?.(s);
  });
}

const eps = (s: EndpointSliceJSON): Json[] => s.endpoints;

interface BadCase {
  name: string;
  obj: unknown;
  field: string;
  value: string;
  message: string;
  object?: string;
  outcome: 'skipped' | ((s: DecodedEndpointSlice) => void);
}

const endpointIPs = (...ips: string[]) => (s: DecodedEndpointSlice): void => { assert.deepEqual(s.endpoints.map((e) => e.ip), ips); };
const portNames = (...names: string[]) => (s: DecodedEndpointSlice): void => { assert.deepEqual(s.ports.map((p) => p.name), names); };

const badCases: BadCase[] = [
  { name: 'IPv6 address in an IPv4 slice', obj: base((s) => { s.endpoints.push(endpoint('2001:db8::1')); }), field: 'endpoints[2].addresses[0]', value: '"2001:db8::1"', message: 'EndpointSlice ns1/svc1-abc: endpoints[2].addresses[0]: "2001:db8::1" is not an IPv4 address (addressType IPv4); endpoint skipped', outcome: endpointIPs('10.0.0.1', '10.0.0.2') },
  { name: 'IPv4 address in an IPv6 slice', obj: base((s) => { s.addressType = 'IPv6'; s.endpoints = [endpoint('2001:db8::1'), endpoint('10.0.0.1')]; }), field: 'endpoints[1].addresses[0]', value: '"10.0.0.1"', message: 'is not an IPv6 address', outcome: endpointIPs('2001:db8::1') },
  { name: 'bad IP', obj: base((s) => { s.endpoints[0] = endpoint('10.0.0.256'); }), field: 'endpoints[0].addresses[0]', value: '"10.0.0.256"', message: 'is not a valid IP address', outcome: endpointIPs('10.0.0.2') },
  { name: 'no addresses', obj: base((s) => { s.endpoints[0] = { addresses: [] }; }), field: 'endpoints[0].addresses', value: '[]', message: 'is not a non-empty list', outcome: endpointIPs('10.0.0.2') },
  { name: 'endpoint not an object', obj: base((s) => { eps(s)[0] = '10.0.0.1' as unknown as Json; }), field: 'endpoints[0]', value: '"10.0.0.1"', message: 'is not an object', outcome: endpointIPs('10.0.0.2') },
  { name: 'ready as a string', obj: base((s) => { eps(s)[1] = { addresses: ['10.0.0.2'], conditions: { ready: 'true' } }; }), field: 'endpoints[1].conditions.ready', value: '"true"', message: 'is not a boolean', outcome: endpointIPs('10.0.0.1') },
  { name: 'terminating as a number', obj: base((s) => { eps(s)[1] = { addresses: ['10.0.0.2'], conditions: { terminating: 1 } }; }), field: 'endpoints[1].conditions.terminating', value: '1', message: 'is not a boolean', outcome: endpointIPs('10.0.0.1') },
  { name: 'nodeName not a string', obj: base((s) => { eps(s)[0] = { addresses: ['10.0.0.1'], nodeName: 5 }; }), field: 'endpoints[0].nodeName', value: '5', message: 'is not a string', outcome: endpointIPs('10.0.0.2') },
  { name: 'zone hints not a list', obj: base((s) => { eps(s)[0] = { addresses: ['10.0.0.1'], hints: { forZones: 'zone-a' } }; }), field: 'endpoints[0].hints.forZones', value: '"zone-a"', message: 'is not a list; endpoint skipped', outcome: endpointIPs('10.0.0.2') },
  { name: 'zone hint without name', obj: base((s) => { eps(s)[0] = { addresses: ['10.0.0.1'], hints: { forZones: [{ zone: 'a' }, { name: 'zone-b' }] } }; }), field: 'endpoints[0].hints.forZones[0]', value: '{"zone":"a"}', message: 'hint skipped', outcome: (s) => { assert.deepEqual([...(s.endpoints[0]?.zoneHints ?? [])], ['zone-b']); } },
  { name: 'port 0', obj: base((s) => { s.ports[0] = slicePort('http', 0); }), field: 'ports[0].port', value: '0', message: 'is not a valid port; port skipped', outcome: portNames('dns') },
  { name: 'port 65536', obj: base((s) => { s.ports[1] = slicePort('dns', 65536, 'UDP'); }), field: 'ports[1].port', value: '65536', message: 'is not a valid port', outcome: portNames('http') },
  { name: 'port without name', obj: base((s) => { s.ports[0] = { port: 8080, protocol: 'TCP' }; }), field: 'ports[0].name', value: 'undefined', message: 'is not a string', outcome: portNames('dns') },
  { name: 'unknown protocol', obj: base((s) => { s.ports[1] = slicePort('dns', 53, 'QUIC'); }), field: 'ports[1].protocol', value: '"QUIC"', message: 'is not a supported protocol', outcome: portNames('http') },
  { name: 'duplicate ports', obj: base((s) => { s.ports.push(slicePort('http', 9090)); }), field: 'ports[2]', value: '{"name":"http","protocol":"TCP"}', message: 'duplicates ports[0]', outcome: portNames('http', 'dns') },
  { name: 'no service-name label', obj: base((s) => { s.metadata.labels = {}; }), field: 'metadata.labels["kubernetes.io/service-name"]', value: 'undefined', message: 'is missing or empty; EndpointSlice skipped', outcome: 'skipped' },
  { name: 'no addressType', obj: base((s) => { delete (s as Partial<EndpointSliceJSON>).addressType; }), field: 'addressType', value: 'undefined', message: 'is not a string', outcome: 'skipped' },
  { name: 'endpoints not a list', obj: base((s) => { (s as Json)['endpoints'] = {}; }), field: 'endpoints', value: '{}', message: 'is not a list', outcome: 'skipped' },
  { name: 'ports not a list', obj: base((s) => { (s as Json)['ports'] = 80; }), field: 'ports', value: '80', message: 'is not a list', outcome: 'skipped' },
  { name: 'no metadata', obj: { kind: 'EndpointSlice', addressType: 'IPv4' }, object: '<unknown>', field: 'metadata', value: 'undefined', message: 'is not an object', outcome: 'skipped' },
  { name: 'bad trigger time', obj: base((s) => { s.metadata.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': 'yesterday' }; }), field: 'metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"]', value: '"yesterday"', message: 'annotation skipped', outcome: (s) => { assert.equal(s.triggerTime, undefined); assert.equal(s.endpoints.length, 2); } },
];

describe('decodeEndpointSlice bad input', () => {
  for (const tc of badCases) {
    it(tc.name, () => {
      const { slice, warns } = decode(tc.obj);
      assert.equal(warns.length, 1, `exactly one warn line, got ${JSON.stringify(warns)}`);
      const w = warns[0] ?? {};
      assert.equal(w['kind'], 'EndpointSlice');
      assert.equal(w['object'], tc.object ?? 'ns1/svc1-abc');
      assert.equal(w['field'], tc.field);
      assert.equal(w['value'], tc.value);
      const msg = String(w['msg']);
      assert.ok(msg.includes(tc.message) && msg.includes(tc.field) && msg.includes(tc.value), msg);
      if (tc.outcome === 'skipped') assert.equal(slice, undefined);
      else {
        assert.ok(slice);
        tc.outcome(slice);
      }
    });
  }

  it('the object is null', () => {
    const { slice, warns } = decode(null);
    assert.equal(slice, undefined);
    assert.equal(warns[0]?.['field'], '(object)');
  });

  it('null ports and endpoints mean none', () => {
    const { slice, warns } = decode(base((s) => { (s as Json)['ports'] = null; (s as Json)['endpoints'] = null; }));
    assert.equal(warns.length, 0);
    assert.deepEqual([slice?.ports, slice?.endpoints], [[], []]);
  });
});

describe('decodeEndpointSlice valid input', () => {
  it('decodes endpoints, conditions and hints', () => {
    const { slice, warns } = decode(makeSlice('ns1', 'svc1', 'svc1-v6', (s) => {
      s.addressType = 'IPv6';
      s.metadata.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': '2018-01-01T00:00:01.123456789Z' };
      s.ports = [slicePort('', 80)];
      s.endpoints = [
        endpoint('2001:DB8::0:1', { nodeName: 'node1', zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: ['node1'] }),
        endpoint('2001:db8::2', { ready: false }),
        endpoint('2001:db8::3', { ready: false, serving: true, terminating: true }),
        endpoint('2001:db8::4', { ready: null, serving: null, terminating: null }),
      ];
    }));
    assert.equal(warns.length, 0);
    assert.ok(slice);
    assert.equal(slice.serviceKey, 'ns1/svc1');
    assert.equal(slice.family, 'IPv6');
    assert.equal(slice.triggerTime, Date.parse('2018-01-01T00:00:01.123Z'));
    const view = slice.endpoints.map((e) => [e.ip, e.ready, e.serving, e.terminating, e.nodeName, e.zone, [...e.zoneHints], [...e.nodeHints]]);
    assert.deepEqual(view, [
      ['2001:db8::1', true, true, false, 'node1', 'zone-a', ['zone-a'], ['node1']],
      // serving unset reads as true, as upstream's endpointslicecache.go; terminating unset is false.
      ['2001:db8::2', false, true, false, undefined, undefined, [], []],
      ['2001:db8::3', false, true, true, undefined, undefined, [], []],
      ['2001:db8::4', true, true, false, undefined, undefined, [], []],
    ]);
  });

  it('defaults a port protocol to TCP', () => {
    const { slice } = decode(base((s) => { s.ports = [{ name: 'p', port: 80 }]; }));
    assert.deepEqual(slice?.ports, [{ name: 'p', port: 80, protocol: 'TCP' }]);
  });
});

describe('decodeEndpointSlice skips on purpose (debug, not warn)', () => {
  const cases: [string, EndpointSliceJSON, { serviceProxyName?: string }, boolean][] = [
    ['FQDN slice', base((s) => { s.addressType = 'FQDN'; s.endpoints = [endpoint('example.com')]; }), {}, false],
    ['unknown address type', base((s) => { s.addressType = 'IPX'; }), {}, false],
    ['headless label', base((s) => { s.metadata.labels = { ...s.metadata.labels, 'service.kubernetes.io/headless': '' }; }), {}, false],
    ['another proxy', base((s) => { s.metadata.labels = { ...s.metadata.labels, 'service.kubernetes.io/service-proxy-name': 'other' }; }), {}, false],
    ['our proxy name', base((s) => { s.metadata.labels = { ...s.metadata.labels, 'service.kubernetes.io/service-proxy-name': 'ours' }; }), { serviceProxyName: 'ours' }, true],
  ];
  for (const [name, obj, opts, kept] of cases) {
    it(name, () => {
      const { slice, warns, all } = decode(obj, opts);
      assert.equal(warns.length, 0);
      assert.equal(slice !== undefined, kept);
      if (!kept) assert.ok(all.some((r) => r['level'] === 20 && r['object'] === 'ns1/svc1-abc'));
    });
  }
});
