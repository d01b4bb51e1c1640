// EndpointsChangeTracker: the cases of upstream pkg/proxy/endpointschangetracker_test.go
// TestGetLocalEndpointIPs and TestUpdateEndpointsMap, named as upstream names them (the other
// tests of that file are in endpoints-slice-update.test.ts). The conntrack
// expectations of TestUpdateEndpointsMap follow the rule documented in
// detectStaleConntrackEntries (upstream's 1.27–1.29 DeletedUDPEndpoints/NewlyActiveUDPServices
// tests had the same values for these cases).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { localReadyEndpoints } from '../../src/model/endpoints-change-tracker.ts';
import type { Endpoint } from '../../src/model/types.ts';
import { endpoint, makeSlice, modelEndpoint, slicePort, type EndpointJSON, type EndpointPortJSON, type EndpointSliceJSON } from './builders.ts';
import { EndpointsHarness as Harness, epv, testHostname, viewEndpointsMap, type EpView } from './helpers.ts';

describe('localReadyEndpoints (upstream TestGetLocalEndpointIPs)', () => {
  const e = (key: string, isLocal: boolean, ready = true): Endpoint => modelEndpoint(key, { isLocal, ready, serving: true, terminating: !ready });
  const cases: { name: string; map: Record<string, Endpoint[]>; expected: Record<string, number> }[] = [
    { name: 'Case[0]: nothing', map: {}, expected: {} },
    { name: 'Case[1]: unnamed port', map: { 'ns1/ep1:/TCP': [e('1.1.1.1:11', false)] }, expected: {} },
    { name: 'Case[2]: unnamed port local', map: { 'ns1/ep1:/TCP': [e('1.1.1.1:11', true)] }, expected: { 'ns1/ep1': 1 } },
    {
      name: 'Case[3]: named local and non-local ports for the same IP.',
      map: {
        'ns1/ep1:p11/TCP': [e('1.1.1.1:11', false), e('1.1.1.2:11', true)],
        'ns1/ep1:p12/TCP': [e('1.1.1.1:12', false), e('1.1.1.2:12', true)],
      },
      expected: { 'ns1/ep1': 1 },
    },
    {
      name: 'Case[4]: named local and non-local ports for different IPs.',
      map: {
        'ns1/ep1:p11/TCP': [e('1.1.1.1:11', false)],
        'ns2/ep2:p22/TCP': [e('2.2.2.2:22', true), e('2.2.2.22:22', true)],
        'ns2/ep2:p23/TCP': [e('2.2.2.3:23', true)],
        'ns4/ep4:p44/TCP': [e('4.4.4.4:44', true), e('4.4.4.5:44', false)],
        'ns4/ep4:p45/TCP': [e('4.4.4.6:45', true)],
      },
      expected: { 'ns2/ep2': 3, 'ns4/ep4': 2 },
    },
    {
      name: 'Case[5]: named local and non-local ports for different IPs, some not ready.',
      map: {
        'ns1/ep1:p11/TCP': [e('1.1.1.1:11', false)],
        'ns2/ep2:p22/TCP': [e('2.2.2.2:22', true), e('2.2.2.22:22', true)],
        'ns2/ep2:p23/TCP': [e('2.2.2.3:23', true, false)],
        'ns4/ep4:p44/TCP': [e('4.4.4.4:44', true), e('4.4.4.5:44', false)],
        'ns4/ep4:p45/TCP': [e('4.4.4.6:45', true)],
      },
      expected: { 'ns2/ep2': 2, 'ns4/ep4': 2 },
    },
    {
      name: 'Case[6]: all endpoints are terminating,, so getLocalReadyEndpointIPs should return 0 ready endpoints',
      map: {
        'ns1/ep1:p11/TCP': [e('1.1.1.1:11', false, false)],
        'ns2/ep2:p22/TCP': [e('2.2.2.2:22', true, false), e('2.2.2.22:22', true, false)],
        'ns2/ep2:p23/TCP': [e('2.2.2.3:23', true, false)],
        'ns4/ep4:p44/TCP': [e('4.4.4.4:44', true, false), e('4.4.4.5:44', false, false)],
        'ns4/ep4:p45/TCP': [e('4.4.4.6:45', true, false)],
      },
      expected: {},
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      assert.deepEqual(Object.fromEntries(localReadyEndpoints(Object.entries(tc.map))), tc.expected);
    });
  }
});

// ---- TestUpdateEndpointsMap ----

const udp = (name: string, port: number): EndpointPortJSON => slicePort(name, port, 'UDP');
const local = (ip: string, extra: Parameters<typeof endpoint>[1] = {}): EndpointJSON => endpoint(ip, { nodeName: testHostname, ...extra });
type Fill = (s: EndpointSliceJSON) => void;
const fill = (ports: EndpointPortJSON[], endpoints: EndpointJSON[]): Fill => (s) => { s.ports = ports; s.endpoints = endpoints; };

const emptyEndpoint = fill([], []);
const unnamedPort = fill([udp('', 11)], [endpoint('1.1.1.1')]);
const unnamedPortReady = fill([udp('', 11)], [endpoint('1.1.1.1', { ready: true, serving: true, terminating: false })]);
const unnamedPortTerminating = fill([udp('', 11)], [endpoint('1.1.1.1', { ready: false, serving: true, terminating: true })]);
const unnamedPortLocal = fill([udp('', 11)], [local('1.1.1.1')]);
const namedPortLocal = fill([udp('p11', 11)], [local('1.1.1.1')]);
const namedPort = fill([udp('p11', 11)], [endpoint('1.1.1.1')]);
const namedPortRenamed = fill([udp('p11-2', 11)], [endpoint('1.1.1.1')]);
const namedPortRenumbered = fill([udp('p11', 22)], [endpoint('1.1.1.1')]);
const namedPortsLocalNoLocal = fill([udp('p11', 11), udp('p12', 12)], [endpoint('1.1.1.1'), local('1.1.1.2')]);
const multipleSubsetsS1 = fill([udp('p11', 11)], [endpoint('1.1.1.1')]);
const multipleSubsetsS2 = fill([udp('p12', 12)], [endpoint('1.1.1.2')]);
const multipleSubsetsWithLocalS1 = fill([udp('p11', 11)], [endpoint('1.1.1.1')]);
const multipleSubsetsWithLocalS2 = fill([udp('p12', 12)], [local('1.1.1.2')]);
const multipleSubsetsMultiplePortsLocalS1 = fill([udp('p11', 11), udp('p12', 12)], [local('1.1.1.1')]);
const multipleSubsetsMultiplePortsLocalS2 = fill([udp('p13', 13)], [endpoint('1.1.1.3')]);
const multipleSubsetsIPsPorts1S1 = fill([udp('p11', 11), udp('p12', 12)], [endpoint('1.1.1.1'), local('1.1.1.2')]);
const multipleSubsetsIPsPorts1S2 = fill([udp('p13', 13), udp('p14', 14)], [endpoint('1.1.1.3'), local('1.1.1.4')]);
const multipleSubsetsIPsPorts2 = fill([udp('p21', 21), udp('p22', 22)], [endpoint('2.2.2.1'), local('2.2.2.2')]);
const complexBefore1 = fill([udp('p11', 11)], [endpoint('1.1.1.1')]);
const complexBefore2S1 = fill([udp('p22', 22)], [local('2.2.2.2'), local('2.2.2.22')]);
const complexBefore2S2 = fill([udp('p23', 23)], [local('2.2.2.3')]);
const complexBefore4S1 = fill([udp('p44', 44)], [local('4.4.4.4'), local('4.4.4.5')]);
const complexBefore4S2 = fill([udp('p45', 45)], [local('4.4.4.6')]);
const complexAfter1S1 = fill([udp('p11', 11)], [endpoint('1.1.1.1'), endpoint('1.1.1.11')]);
const complexAfter1S2 = fill([udp('p12', 12), udp('p122', 122)], [endpoint('1.1.1.2')]);
const complexAfter3 = fill([udp('p33', 33)], [endpoint('3.3.3.3')]);
const complexAfter4 = fill([udp('p44', 44)], [local('4.4.4.4')]);

const mk = (ns: string, name: string, n: number, f: Fill): EndpointSliceJSON => makeSlice(ns, name, n, f);

interface UpdateCase {
  name: string;
  previous: (EndpointSliceJSON | null)[];
  current: (EndpointSliceJSON | null)[];
  previousMap: Record<string, EpView[]>;
  expectedResult: Record<string, EpView[]>;
  expectedLocalEndpoints: Record<string, number>;
  expectedChanged: string[];
  /** "portKey endpointKey" */
  expectedDeletedUDPEndpoints: string[];
  expectedNewlyActiveUDPServices: string[];
}

const RS = ['R', 'S'] as const;
const LRS = ['L', 'R', 'S'] as const;

const updateCases: UpdateCase[] = [{
  name: 'empty', previous: [], current: [], previousMap: {}, expectedResult: {}, expectedLocalEndpoints: {}, expectedChanged: [],
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'no change, unnamed port',
  previous: [mk('ns1', 'ep1', 1, unnamedPort)], current: [mk('ns1', 'ep1', 1, unnamedPort)],
  previousMap: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: [], expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'no change, named port, local',
  previous: [mk('ns1', 'ep1', 1, namedPortLocal)], current: [mk('ns1', 'ep1', 1, namedPortLocal)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...LRS)] },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...LRS)] },
  expectedLocalEndpoints: { 'ns1/ep1': 1 }, expectedChanged: [], expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'no change, multiple slices',
  previous: [mk('ns1', 'ep1', 1, multipleSubsetsS1), mk('ns1', 'ep1', 2, multipleSubsetsS2)],
  current: [mk('ns1', 'ep1', 1, multipleSubsetsS1), mk('ns1', 'ep1', 2, multipleSubsetsS2)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.2:12', ...RS)] },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.2:12', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: [], expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'no change, multiple slices, multiple ports, local',
  previous: [mk('ns1', 'ep1', 1, multipleSubsetsMultiplePortsLocalS1), mk('ns1', 'ep1', 2, multipleSubsetsMultiplePortsLocalS2)],
  current: [mk('ns1', 'ep1', 1, multipleSubsetsMultiplePortsLocalS1), mk('ns1', 'ep1', 2, multipleSubsetsMultiplePortsLocalS2)],
  previousMap: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...LRS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...LRS)], 'ns1/ep1:p13/UDP': [epv('1.1.1.3:13', ...RS)],
  },
  expectedResult: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...LRS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...LRS)], 'ns1/ep1:p13/UDP': [epv('1.1.1.3:13', ...RS)],
  },
  expectedLocalEndpoints: { 'ns1/ep1': 1 }, expectedChanged: [], expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'no change, multiple services, slices, IPs, and ports',
  previous: [mk('ns1', 'ep1', 1, multipleSubsetsIPsPorts1S1), mk('ns1', 'ep1', 2, multipleSubsetsIPsPorts1S2), mk('ns2', 'ep2', 1, multipleSubsetsIPsPorts2)],
  current: [mk('ns1', 'ep1', 1, multipleSubsetsIPsPorts1S1), mk('ns1', 'ep1', 2, multipleSubsetsIPsPorts1S2), mk('ns2', 'ep2', 1, multipleSubsetsIPsPorts2)],
  previousMap: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS), epv('1.1.1.2:11', ...LRS)],
    'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...RS), epv('1.1.1.2:12', ...LRS)],
    'ns1/ep1:p13/UDP': [epv('1.1.1.3:13', ...RS), epv('1.1.1.4:13', ...LRS)],
    'ns1/ep1:p14/UDP': [epv('1.1.1.3:14', ...RS), epv('1.1.1.4:14', ...LRS)],
    'ns2/ep2:p21/UDP': [epv('2.2.2.1:21', ...RS), epv('2.2.2.2:21', ...LRS)],
    'ns2/ep2:p22/UDP': [epv('2.2.2.1:22', ...RS), epv('2.2.2.2:22', ...LRS)],
  },
  expectedResult: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS), epv('1.1.1.2:11', ...LRS)],
    'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...RS), epv('1.1.1.2:12', ...LRS)],
    'ns1/ep1:p13/UDP': [epv('1.1.1.3:13', ...RS), epv('1.1.1.4:13', ...LRS)],
    'ns1/ep1:p14/UDP': [epv('1.1.1.3:14', ...RS), epv('1.1.1.4:14', ...LRS)],
    'ns2/ep2:p21/UDP': [epv('2.2.2.1:21', ...RS), epv('2.2.2.2:21', ...LRS)],
    'ns2/ep2:p22/UDP': [epv('2.2.2.1:22', ...RS), epv('2.2.2.2:22', ...LRS)],
  },
  expectedLocalEndpoints: { 'ns1/ep1': 2, 'ns2/ep2': 1 }, expectedChanged: [], expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'add an EndpointSlice',
  previous: [null], current: [mk('ns1', 'ep1', 1, unnamedPortLocal)],
  previousMap: {},
  expectedResult: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...LRS)] },
  expectedLocalEndpoints: { 'ns1/ep1': 1 }, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: ['ns1/ep1:/UDP'],
}, {
  name: 'remove an EndpointSlice',
  previous: [mk('ns1', 'ep1', 1, unnamedPortLocal)], current: [null],
  previousMap: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...LRS)] },
  expectedResult: {},
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:/UDP 1.1.1.1:11'], expectedNewlyActiveUDPServices: [],
}, {
  name: 'add an IP and port',
  previous: [mk('ns1', 'ep1', 1, namedPort)], current: [mk('ns1', 'ep1', 1, namedPortsLocalNoLocal)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS), epv('1.1.1.2:11', ...LRS)],
    'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...RS), epv('1.1.1.2:12', ...LRS)],
  },
  expectedLocalEndpoints: { 'ns1/ep1': 1 }, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: ['ns1/ep1:p12/UDP'],
}, {
  name: 'remove an IP and port',
  previous: [mk('ns1', 'ep1', 1, namedPortsLocalNoLocal)], current: [mk('ns1', 'ep1', 1, namedPort)],
  previousMap: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS), epv('1.1.1.2:11', ...LRS)],
    'ns1/ep1:p12/UDP': [epv('1.1.1.1:12', ...RS), epv('1.1.1.2:12', ...LRS)],
  },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:p11/UDP 1.1.1.2:11', 'ns1/ep1:p12/UDP 1.1.1.1:12', 'ns1/ep1:p12/UDP 1.1.1.2:12'],
  expectedNewlyActiveUDPServices: [],
}, {
  name: 'add a slice to an endpoint',
  previous: [mk('ns1', 'ep1', 1, namedPort), null],
  current: [mk('ns1', 'ep1', 1, multipleSubsetsWithLocalS1), mk('ns1', 'ep1', 2, multipleSubsetsWithLocalS2)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.2:12', ...LRS)] },
  expectedLocalEndpoints: { 'ns1/ep1': 1 }, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: ['ns1/ep1:p12/UDP'],
}, {
  name: 'remove a slice from an endpoint',
  previous: [mk('ns1', 'ep1', 1, multipleSubsetsS1), mk('ns1', 'ep1', 2, multipleSubsetsS2)],
  current: [mk('ns1', 'ep1', 1, namedPort), null],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)], 'ns1/ep1:p12/UDP': [epv('1.1.1.2:12', ...RS)] },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:p12/UDP 1.1.1.2:12'], expectedNewlyActiveUDPServices: [],
}, {
  name: 'rename a port',
  previous: [mk('ns1', 'ep1', 1, namedPort)], current: [mk('ns1', 'ep1', 1, namedPortRenamed)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: { 'ns1/ep1:p11-2/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:p11/UDP 1.1.1.1:11'], expectedNewlyActiveUDPServices: ['ns1/ep1:p11-2/UDP'],
}, {
  name: 'renumber a port',
  previous: [mk('ns1', 'ep1', 1, namedPort)], current: [mk('ns1', 'ep1', 1, namedPortRenumbered)],
  previousMap: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:22', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:p11/UDP 1.1.1.1:11'], expectedNewlyActiveUDPServices: [],
}, {
  name: 'complex add and remove',
  previous: [
    mk('ns1', 'ep1', 1, complexBefore1), null,
    mk('ns2', 'ep2', 1, complexBefore2S1), mk('ns2', 'ep2', 2, complexBefore2S2),
    null, null,
    mk('ns4', 'ep4', 1, complexBefore4S1), mk('ns4', 'ep4', 2, complexBefore4S2),
  ],
  current: [
    mk('ns1', 'ep1', 1, complexAfter1S1), mk('ns1', 'ep1', 2, complexAfter1S2),
    null, null,
    mk('ns3', 'ep3', 1, complexAfter3), null,
    mk('ns4', 'ep4', 1, complexAfter4), null,
  ],
  previousMap: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)],
    'ns2/ep2:p22/UDP': [epv('2.2.2.22:22', ...LRS), epv('2.2.2.2:22', ...LRS)],
    'ns2/ep2:p23/UDP': [epv('2.2.2.3:23', ...LRS)],
    'ns4/ep4:p44/UDP': [epv('4.4.4.4:44', ...LRS), epv('4.4.4.5:44', ...LRS)],
    'ns4/ep4:p45/UDP': [epv('4.4.4.6:45', ...LRS)],
  },
  expectedResult: {
    'ns1/ep1:p11/UDP': [epv('1.1.1.11:11', ...RS), epv('1.1.1.1:11', ...RS)],
    'ns1/ep1:p12/UDP': [epv('1.1.1.2:12', ...RS)],
    'ns1/ep1:p122/UDP': [epv('1.1.1.2:122', ...RS)],
    'ns3/ep3:p33/UDP': [epv('3.3.3.3:33', ...RS)],
    'ns4/ep4:p44/UDP': [epv('4.4.4.4:44', ...LRS)],
  },
  expectedLocalEndpoints: { 'ns4/ep4': 1 }, expectedChanged: ['ns1/ep1', 'ns2/ep2', 'ns3/ep3', 'ns4/ep4'],
  expectedDeletedUDPEndpoints: [
    'ns2/ep2:p22/UDP 2.2.2.22:22', 'ns2/ep2:p22/UDP 2.2.2.2:22', 'ns2/ep2:p23/UDP 2.2.2.3:23', 'ns4/ep4:p44/UDP 4.4.4.5:44', 'ns4/ep4:p45/UDP 4.4.4.6:45',
  ],
  expectedNewlyActiveUDPServices: ['ns1/ep1:p12/UDP', 'ns1/ep1:p122/UDP', 'ns3/ep3:p33/UDP'],
}, {
  name: 'change from 0 endpoint address to 1 unnamed port',
  previous: [mk('ns1', 'ep1', 1, emptyEndpoint)], current: [mk('ns1', 'ep1', 1, unnamedPort)],
  previousMap: {},
  expectedResult: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: ['ns1/ep1:/UDP'],
}, {
  name: 'change from ready to terminating pod',
  previous: [mk('ns1', 'ep1', 1, unnamedPortReady)], current: [mk('ns1', 'ep1', 1, unnamedPortTerminating)],
  previousMap: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', ...RS)] },
  expectedResult: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', 'S', 'T')] },
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  // Still serving: existing flows may continue.
  expectedDeletedUDPEndpoints: [], expectedNewlyActiveUDPServices: [],
}, {
  name: 'change from terminating to empty pod',
  previous: [mk('ns1', 'ep1', 1, unnamedPortTerminating)], current: [mk('ns1', 'ep1', 1, emptyEndpoint)],
  previousMap: { 'ns1/ep1:/UDP': [epv('1.1.1.1:11', 'S', 'T')] },
  expectedResult: {},
  expectedLocalEndpoints: {}, expectedChanged: ['ns1/ep1'],
  expectedDeletedUDPEndpoints: ['ns1/ep1:/UDP 1.1.1.1:11'], expectedNewlyActiveUDPServices: [],
}];

describe('EndpointsChangeTracker apply (upstream TestUpdateEndpointsMap)', () => {
  for (const tc of updateCases) {
    it(tc.name, () => {
      const h = new Harness();
      for (const s of tc.previous) if (s !== null) h.add(s);
      const first = h.tracker.apply();
      assert.deepEqual(viewEndpointsMap(first.endpoints), tc.previousMap, 'previous map');
      assert.equal(tc.previous.length, tc.current.length);
      tc.previous.forEach((prev, i) => {
        const curr = tc.current[i] ?? null;
        if (prev === null && curr !== null) h.add(curr);
        else if (prev !== null && curr === null) h.delete(prev);
        else if (prev !== null && curr !== null) h.add(curr);
      });
      const result = h.tracker.apply();
      assert.deepEqual(viewEndpointsMap(result.endpoints), tc.expectedResult, 'endpoints');
      assert.deepEqual([...result.updatedServices].sort(), tc.expectedChanged.slice().sort(), 'updatedServices');
      assert.deepEqual(result.deletedUDPEndpoints.map((d) => `${d.servicePort.key} ${d.endpoint.key}`).sort(), tc.expectedDeletedUDPEndpoints.slice().sort(), 'deletedUDPEndpoints');
      assert.deepEqual(result.newlyActiveUDPServices.map((s) => s.key).sort(), tc.expectedNewlyActiveUDPServices.slice().sort(), 'newlyActiveUDPServices');
      assert.deepEqual(Object.fromEntries(localReadyEndpoints(result.endpoints)), tc.expectedLocalEndpoints, 'localReadyEndpoints');
    });
  }

  it('earlier versions of the endpoints map stay as they were', () => {
    const h = new Harness();
    h.add(mk('ns1', 'ep1', 1, namedPort));
    const v1 = h.tracker.apply().endpoints;
    h.add(mk('ns1', 'ep1', 1, namedPortsLocalNoLocal));
    const v2 = h.tracker.apply().endpoints;
    assert.deepEqual(viewEndpointsMap(v1), { 'ns1/ep1:p11/UDP': [epv('1.1.1.1:11', ...RS)] });
    assert.equal(v2.size, 2);
  });
});
