// EndpointsChangeTracker: upstream pkg/proxy/endpointschangetracker_test.go TestLastChangeTriggerTime,
// TestEndpointSliceUpdate and TestCheckoutChanges, named as upstream names them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpoint, generateEndpointSlice, generateEndpointSliceWithOffset, makeSlice, slicePort, type EndpointSliceJSON } from './builders.ts';
import { EndpointsHarness as Harness, epv, testHostname, viewEndpointsMap, type EpView } from './helpers.ts';

const RS = ['R', 'S'] as const;
const LRS = ['L', 'R', 'S'] as const;

describe('EndpointsChangeTracker trigger times (upstream TestLastChangeTriggerTime)', () => {
  const startTime = Date.parse('2018-01-01T00:00:00Z');
  const t_1 = startTime - 1000;
  const t0 = startTime + 1000;
  const t1 = t0 + 1000;
  const t2 = t1 + 1000;
  const t3 = t2 + 1000;
  const createEndpoints = (namespace: string, name: string, triggerTime: number, port = 11): EndpointSliceJSON =>
    makeSlice(namespace, name, name, (s) => {
      s.metadata.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': new Date(triggerTime).toISOString() };
      s.endpoints = [endpoint('1.1.1.1')];
      s.ports = [slicePort('p11', port)];
    });
  const modify = (s: EndpointSliceJSON, triggerTime: number): EndpointSliceJSON =>
    createEndpoints(s.metadata.namespace ?? '', s.metadata.name, triggerTime, (s.ports[0]?.port ?? 0) + 1);
  const cases: { name: string; scenario: (h: Harness) => void; expected: Record<string, number[]> }[] = [
    { name: 'Single addEndpoints', scenario: (h) => { h.add(createEndpoints('ns', 'ep1', t0)); }, expected: { 'ns/ep1': [t0] } },
    {
      name: 'addEndpoints then updatedEndpoints',
      scenario: (h) => { const e = createEndpoints('ns', 'ep1', t0); h.add(e); h.add(modify(e, t1)); },
      expected: { 'ns/ep1': [t0, t1] },
    },
    {
      name: 'Add two endpoints then modify one',
      scenario: (h) => {
        const e1 = createEndpoints('ns', 'ep1', t1);
        h.add(e1);
        h.add(createEndpoints('ns', 'ep2', t2));
        h.add(modify(e1, t3));
      },
      expected: { 'ns/ep1': [t1, t3], 'ns/ep2': [t2] },
    },
    {
      name: 'Endpoints without annotation set',
      scenario: (h) => { const e = createEndpoints('ns', 'ep1', t1); e.metadata.annotations = {}; h.add(e); },
      expected: {},
    },
    { name: 'Endpoints create before tracker started', scenario: (h) => { h.add(createEndpoints('ns', 'ep1', t_1)); }, expected: {} },
    {
      name: 'addEndpoints then deleteEndpoints',
      scenario: (h) => { const e = createEndpoints('ns', 'ep1', t1); h.add(e); h.delete(e); },
      expected: {},
    },
    {
      name: 'add then delete then add again',
      scenario: (h) => { const e = createEndpoints('ns', 'ep1', t1); h.add(e); h.delete(e); h.add(modify(e, t2)); },
      expected: { 'ns/ep1': [t2] },
    },
    { name: 'delete', scenario: (h) => { h.delete(createEndpoints('ns', 'ep1', t1)); }, expected: {} },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const h = new Harness(testHostname, startTime);
      tc.scenario(h);
      assert.deepEqual(Object.fromEntries(h.tracker.apply().lastChangeTriggerTimes), tc.expected);
    });
  }
});

describe('EndpointsChangeTracker update (upstream TestEndpointSliceUpdate)', () => {
  const fqdnSlice = generateEndpointSlice('svc1', 'ns1', 2, 5, 999, 999, ['host1'], [80, 443]);
  fqdnSlice.addressType = 'FQDN';
  const gen = generateEndpointSlice;
  const cases: { name: string; starting: EndpointSliceJSON[]; param: EndpointSliceJSON; remove: boolean; expectedReturn: boolean; expectedCurrent: Record<string, EpView[]> | null }[] = [{
    name: "add a simple slice that doesn't already exist",
    starting: [], param: gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: {
      'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', ...RS), epv('10.0.1.2:80', ...LRS), epv('10.0.1.3:80', ...RS)],
      'ns1/svc1:port-1/TCP': [epv('10.0.1.1:443', ...RS), epv('10.0.1.2:443', ...LRS), epv('10.0.1.3:443', ...RS)],
    },
  }, {
    name: 'add the same slice that already exists',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443]), remove: false, expectedReturn: false, expectedCurrent: null,
  }, {
    name: 'add an FQDN slice (invalid address type)',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443])],
    param: fqdnSlice, remove: false, expectedReturn: false, expectedCurrent: null,
  }, {
    name: 'add a slice that overlaps with existing state',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443]), gen('svc1', 'ns1', 2, 2, 999, 999, ['host1', 'host2'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 5, 999, 999, ['host1'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: Object.fromEntries([80, 443].map((p, i) => [`ns1/svc1:port-${i}/TCP`, [
      epv(`10.0.1.1:${p}`, ...LRS), epv(`10.0.1.2:${p}`, ...LRS), epv(`10.0.1.3:${p}`, ...LRS), epv(`10.0.1.4:${p}`, ...LRS), epv(`10.0.1.5:${p}`, ...LRS),
      epv(`10.0.2.1:${p}`, ...RS), epv(`10.0.2.2:${p}`, ...LRS),
    ]])),
  }, {
    name: 'add a slice that overlaps with existing state and partial ports',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443]), gen('svc1', 'ns1', 2, 2, 999, 999, ['host1', 'host2'], [80, 443])],
    param: generateEndpointSliceWithOffset('svc1', 'ns1', 3, 1, 5, 999, 999, ['host1'], [80]), remove: false, expectedReturn: true,
    expectedCurrent: {
      'ns1/svc1:port-0/TCP': [
        epv('10.0.1.1:80', ...LRS), epv('10.0.1.2:80', ...LRS), epv('10.0.1.3:80', ...LRS), epv('10.0.1.4:80', ...LRS), epv('10.0.1.5:80', ...LRS),
        epv('10.0.2.1:80', ...RS), epv('10.0.2.2:80', ...LRS),
      ],
      'ns1/svc1:port-1/TCP': [
        epv('10.0.1.1:443', ...RS), epv('10.0.1.2:443', ...LRS), epv('10.0.1.3:443', ...RS), epv('10.0.2.1:443', ...RS), epv('10.0.2.2:443', ...LRS),
      ],
    },
  }, {
    name: 'remove a slice that overlaps with existing state',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443]), gen('svc1', 'ns1', 2, 2, 999, 999, ['host1', 'host2'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 5, 999, 999, ['host1'], [80, 443]), remove: true, expectedReturn: true,
    expectedCurrent: {
      'ns1/svc1:port-0/TCP': [epv('10.0.2.1:80', ...RS), epv('10.0.2.2:80', ...LRS)],
      'ns1/svc1:port-1/TCP': [epv('10.0.2.1:443', ...RS), epv('10.0.2.2:443', ...LRS)],
    },
  }, {
    name: "remove a slice that doesn't even exist in current state",
    starting: [gen('svc1', 'ns1', 1, 5, 999, 999, ['host1'], [80, 443]), gen('svc1', 'ns1', 2, 2, 999, 999, ['host1'], [80, 443])],
    param: gen('svc1', 'ns1', 3, 5, 999, 999, ['host1'], [80, 443]), remove: true, expectedReturn: false, expectedCurrent: null,
  }, {
    name: 'transition all endpoints to unready state',
    starting: [gen('svc1', 'ns1', 1, 3, 999, 999, ['host1', 'host2'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 3, 1, 999, ['host1'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: Object.fromEntries([80, 443].map((p, i) => [`ns1/svc1:port-${i}/TCP`, [1, 2, 3].map((n) => epv(`10.0.1.${n}:${p}`, 'L'))])),
  }, {
    name: 'transition all endpoints to ready state',
    starting: [gen('svc1', 'ns1', 1, 2, 1, 999, ['host1', 'host2'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 2, 999, 999, ['host1'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: Object.fromEntries([80, 443].map((p, i) => [`ns1/svc1:port-${i}/TCP`, [1, 2].map((n) => epv(`10.0.1.${n}:${p}`, ...LRS))])),
  }, {
    name: 'transition some endpoints to ready state',
    starting: [gen('svc1', 'ns1', 1, 3, 2, 999, ['host1'], [80, 443]), gen('svc1', 'ns1', 2, 2, 2, 999, ['host1'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 3, 3, 999, ['host1'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: Object.fromEntries([80, 443].map((p, i) => [`ns1/svc1:port-${i}/TCP`, [
      epv(`10.0.1.1:${p}`, ...LRS), epv(`10.0.1.2:${p}`, ...LRS), epv(`10.0.1.3:${p}`, 'L'), epv(`10.0.2.1:${p}`, ...LRS), epv(`10.0.2.2:${p}`, 'L'),
    ]])),
  }, {
    name: 'transition some endpoints to terminating state',
    starting: [gen('svc1', 'ns1', 1, 3, 2, 2, ['host1'], [80, 443]), gen('svc1', 'ns1', 2, 2, 2, 2, ['host1'], [80, 443])],
    param: gen('svc1', 'ns1', 1, 3, 3, 2, ['host1'], [80, 443]), remove: false, expectedReturn: true,
    expectedCurrent: Object.fromEntries([80, 443].map((p, i) => [`ns1/svc1:port-${i}/TCP`, [
      epv(`10.0.1.1:${p}`, ...LRS), epv(`10.0.1.2:${p}`, 'L', 'S', 'T'), epv(`10.0.1.3:${p}`, 'L'), epv(`10.0.2.1:${p}`, ...LRS), epv(`10.0.2.2:${p}`, 'L', 'T'),
    ]])),
  }];
  for (const tc of cases) {
    it(tc.name, () => {
      const h = new Harness('host1');
      for (const s of tc.starting) h.add(s);
      h.tracker.apply();
      const got = tc.remove ? h.delete(tc.param) : h.add(tc.param);
      assert.equal(got, tc.expectedReturn, 'return value');
      const changes = h.tracker.cache.checkoutChanges();
      if (tc.expectedCurrent === null) {
        assert.equal(changes.size, 0);
      } else {
        const change = changes.get('ns1/svc1');
        assert.ok(change, 'expected ns1/svc1 to have changes');
        assert.deepEqual(viewEndpointsMap(change.current), tc.expectedCurrent);
      }
    });
  }
});

describe('EndpointSliceCache checkout (upstream TestCheckoutChanges)', () => {
  const cases: { name: string; applied: EndpointSliceJSON[]; pending: EndpointSliceJSON[]; expected: { previous: Record<string, EpView[]>; current: Record<string, EpView[]> }[] }[] = [{
    name: 'empty slices', applied: [], pending: [], expected: [],
  }, {
    name: 'adding initial slice',
    applied: [],
    pending: [generateEndpointSlice('svc1', 'ns1', 1, 3, 3, 2, ['host1'], [80])],
    expected: [{ previous: {}, current: { 'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', ...RS), epv('10.0.1.2:80', 'S', 'T'), epv('10.0.1.3:80')] } }],
  }, {
    name: 'removing port in update',
    applied: [generateEndpointSlice('svc1', 'ns1', 1, 3, 3, 999, ['host1'], [80, 443])],
    pending: [generateEndpointSlice('svc1', 'ns1', 1, 3, 3, 999, ['host1'], [80])],
    expected: [{
      previous: {
        'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', ...RS), epv('10.0.1.2:80', ...RS), epv('10.0.1.3:80')],
        'ns1/svc1:port-1/TCP': [epv('10.0.1.1:443', ...RS), epv('10.0.1.2:443', ...RS), epv('10.0.1.3:443')],
      },
      current: { 'ns1/svc1:port-0/TCP': [epv('10.0.1.1:80', ...RS), epv('10.0.1.2:80', ...RS), epv('10.0.1.3:80')] },
    }],
  }];
  for (const tc of cases) {
    it(tc.name, () => {
      const h = new Harness('');
      for (const s of tc.applied) h.add(s);
      h.tracker.cache.checkoutChanges();
      for (const s of tc.pending) h.add(s);
      const changes = [...h.tracker.cache.checkoutChanges().values()];
      assert.deepEqual(changes.map((c) => ({ previous: viewEndpointsMap(c.previous), current: viewEndpointsMap(c.current) })), tc.expected);
    });
  }
});
