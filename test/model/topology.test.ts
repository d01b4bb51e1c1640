// categorizeEndpoints: every case of upstream pkg/proxy/topology_test.go TestCategorizeEndpoints
// (named as upstream names them), plus PreferSameNode cases of our own (marked "[ours]").

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { categorizeEndpoints, LABEL_TOPOLOGY_ZONE } from '../../src/model/topology.ts';
import { makeServicePortName } from '../../src/model/service-port.ts';
import type { Endpoint, ServicePort } from '../../src/model/types.ts';
import { modelEndpoint as ep } from './builders.ts';

function servicePort(o: { internalPolicyLocal?: boolean; externalPolicyLocal?: boolean; nodePort?: number } = {}): ServicePort {
  return {
    name: makeServicePortName('ns1', 'svc1', '', 'TCP'), family: 'IPv4', clusterIP: '172.30.0.1', port: 80, protocol: 'TCP',
    nodePort: o.nodePort ?? 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [], sessionAffinity: { type: 'None' },
    externalPolicyLocal: o.externalPolicyLocal ?? false, internalPolicyLocal: o.internalPolicyLocal ?? false,
    healthCheckNodePort: 0, trafficDistribution: undefined,
  };
}

interface Case {
  name: string;
  nodeName?: string;
  nodeLabels?: Record<string, string>;
  serviceInfo: ServicePort;
  endpoints: Endpoint[];
  /** undefined: "service does not use this kind"; []: uses it, has none. */
  clusterEndpoints: string[] | undefined;
  localEndpoints: string[] | undefined;
  /** Only needed when both of the above are set (else it equals the one that is set). */
  allEndpoints?: string[];
  /** hasAnyEndpoints is true although allEndpoints is empty. */
  onlyRemoteEndpoints?: boolean;
}

const zoneA = { [LABEL_TOPOLOGY_ZONE]: 'zone-a' };

const cases: Case[] = [{
  name: "should use topology since all endpoints have hints, node has a zone label and and there are endpoints for the node's zone",
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-c'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.6:80'],
  localEndpoints: undefined,
}, {
  name: 'externalTrafficPolicy: Local, topology ignored for Local endpoints',
  nodeLabels: zoneA,
  serviceInfo: servicePort({ externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true, isLocal: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true, isLocal: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-c'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.6:80'],
  localEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
  allEndpoints: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
}, {
  name: 'internalTrafficPolicy: Local, topology ignored for Local endpoints',
  nodeLabels: zoneA,
  serviceInfo: servicePort({ internalPolicyLocal: true, externalPolicyLocal: false, nodePort: 8080 }),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true, isLocal: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true, isLocal: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-c'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.6:80'],
  localEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
  allEndpoints: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
}, {
  name: 'empty node labels',
  nodeLabels: {},
  serviceInfo: servicePort(),
  endpoints: [ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true })],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: 'empty zone label',
  nodeLabels: { [LABEL_TOPOLOGY_ZONE]: '' },
  serviceInfo: servicePort(),
  endpoints: [ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true })],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: 'node in different zone, no endpoint filtering',
  nodeLabels: { [LABEL_TOPOLOGY_ZONE]: 'zone-b' },
  serviceInfo: servicePort(),
  endpoints: [ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true })],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: 'unready endpoint',
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-c'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: false }),
  ],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: 'only unready endpoints in same zone (should not filter)',
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: false }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-c'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: false }),
  ],
  clusterEndpoints: ['10.1.2.4:80', '10.1.2.5:80'],
  localEndpoints: undefined,
}, {
  name: 'missing hints, no filtering applied',
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b'], ready: true }),
    ep('10.1.2.5:80', { ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-a'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.5:80', '10.1.2.6:80'],
  localEndpoints: undefined,
}, {
  name: 'multiple hints per endpoint, filtering includes any endpoint with zone included',
  nodeLabels: { [LABEL_TOPOLOGY_ZONE]: 'zone-c' },
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { zoneHints: ['zone-a', 'zone-b', 'zone-c'], ready: true }),
    ep('10.1.2.4:80', { zoneHints: ['zone-b', 'zone-c'], ready: true }),
    ep('10.1.2.5:80', { zoneHints: ['zone-b', 'zone-d'], ready: true }),
    ep('10.1.2.6:80', { zoneHints: ['zone-c'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.4:80', '10.1.2.6:80'],
  localEndpoints: undefined,
}, {
  name: 'conflicting topology and localness require merging allEndpoints',
  nodeLabels: zoneA,
  serviceInfo: servicePort({ internalPolicyLocal: false, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [
    ep('10.0.0.0:80', { zoneHints: ['zone-a'], ready: true, isLocal: true }),
    ep('10.0.0.1:80', { zoneHints: ['zone-b'], ready: true, isLocal: true }),
    ep('10.0.0.2:80', { zoneHints: ['zone-a'], ready: true, isLocal: false }),
    ep('10.0.0.3:80', { zoneHints: ['zone-b'], ready: true, isLocal: false }),
  ],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.2:80'],
  localEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80', '10.0.0.2:80'],
}, {
  name: 'internalTrafficPolicy: Local, with empty endpoints',
  serviceInfo: servicePort({ internalPolicyLocal: true }),
  endpoints: [],
  clusterEndpoints: undefined,
  localEndpoints: [],
}, {
  name: 'internalTrafficPolicy: Local, but all endpoints are remote',
  serviceInfo: servicePort({ internalPolicyLocal: true }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: false }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: undefined,
  localEndpoints: [],
  onlyRemoteEndpoints: true,
}, {
  name: 'internalTrafficPolicy: Local, all endpoints are local',
  serviceInfo: servicePort({ internalPolicyLocal: true }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: true }), ep('10.0.0.1:80', { ready: true, isLocal: true })],
  clusterEndpoints: undefined,
  localEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'internalTrafficPolicy: Local, some endpoints are local',
  serviceInfo: servicePort({ internalPolicyLocal: true }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: true }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: undefined,
  localEndpoints: ['10.0.0.0:80'],
}, {
  name: 'Cluster traffic policy, endpoints not Ready',
  serviceInfo: servicePort(),
  endpoints: [ep('10.0.0.0:80', { ready: false }), ep('10.0.0.1:80', { ready: false })],
  clusterEndpoints: [],
  localEndpoints: undefined,
}, {
  name: 'Cluster traffic policy, some endpoints are Ready',
  serviceInfo: servicePort(),
  endpoints: [ep('10.0.0.0:80', { ready: false }), ep('10.0.0.1:80', { ready: true })],
  clusterEndpoints: ['10.0.0.1:80'],
  localEndpoints: undefined,
}, {
  name: 'Cluster traffic policy, all endpoints are terminating',
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.0.0.0:80', { ready: false, serving: true, terminating: true, isLocal: true }),
    ep('10.0.0.1:80', { ready: false, serving: true, terminating: true, isLocal: false }),
  ],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: undefined,
}, {
  name: 'iTP: Local, eTP: Cluster, some endpoints local',
  serviceInfo: servicePort({ internalPolicyLocal: true, externalPolicyLocal: false, nodePort: 8080 }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: true }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: ['10.0.0.0:80'],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'iTP: Cluster, eTP: Local, some endpoints local',
  serviceInfo: servicePort({ internalPolicyLocal: false, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: true }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: ['10.0.0.0:80'],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'iTP: Local, eTP: Local, some endpoints local',
  serviceInfo: servicePort({ internalPolicyLocal: true, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: true }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: ['10.0.0.0:80'],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'iTP: Local, eTP: Local, all endpoints remote',
  serviceInfo: servicePort({ internalPolicyLocal: true, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: false }), ep('10.0.0.1:80', { ready: true, isLocal: false })],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: [],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'iTP: Local, eTP: Local, all endpoints remote and terminating',
  serviceInfo: servicePort({ internalPolicyLocal: true, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [
    ep('10.0.0.0:80', { ready: false, serving: true, terminating: true, isLocal: false }),
    ep('10.0.0.1:80', { ready: false, serving: true, terminating: true, isLocal: false }),
  ],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: [],
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  onlyRemoteEndpoints: true,
}, {
  name: 'iTP: Cluster, eTP: Local, with terminating endpoints',
  serviceInfo: servicePort({ internalPolicyLocal: false, externalPolicyLocal: true, nodePort: 8080 }),
  endpoints: [
    ep('10.0.0.0:80', { ready: true, isLocal: false }),
    ep('10.0.0.1:80', { ready: false, serving: false, isLocal: true }),
    ep('10.0.0.2:80', { ready: false, serving: true, terminating: true, isLocal: true }),
    ep('10.0.0.3:80', { ready: false, serving: true, terminating: true, isLocal: false }),
  ],
  clusterEndpoints: ['10.0.0.0:80'],
  localEndpoints: ['10.0.0.2:80'],
  allEndpoints: ['10.0.0.0:80', '10.0.0.2:80'],
}, {
  name: 'externalTrafficPolicy ignored if not externally accessible',
  serviceInfo: servicePort({ externalPolicyLocal: true }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: false }), ep('10.0.0.1:80', { ready: true, isLocal: true })],
  clusterEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
  localEndpoints: undefined,
  allEndpoints: ['10.0.0.0:80', '10.0.0.1:80'],
}, {
  name: 'no cluster endpoints for iTP:Local internal-only service',
  serviceInfo: servicePort({ internalPolicyLocal: true }),
  endpoints: [ep('10.0.0.0:80', { ready: true, isLocal: false }), ep('10.0.0.1:80', { ready: true, isLocal: true })],
  clusterEndpoints: undefined,
  localEndpoints: ['10.0.0.1:80'],
  allEndpoints: ['10.0.0.1:80'],
},
// ---- PreferSameNode (node hints) [ours] ----
{
  name: '[ours] node hints used when every ready endpoint has one and one names this node',
  nodeName: 'node-a',
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { nodeHints: ['node-a'], zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.4:80', { nodeHints: ['node-b'], zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.5:80', { nodeHints: ['node-c'], zoneHints: ['zone-b'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: '[ours] node hints not naming this node fall back to zone hints',
  nodeName: 'node-z',
  nodeLabels: zoneA,
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { nodeHints: ['node-a'], zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.4:80', { nodeHints: ['node-b'], zoneHints: ['zone-a'], ready: true }),
    ep('10.1.2.5:80', { nodeHints: ['node-c'], zoneHints: ['zone-b'], ready: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
  localEndpoints: undefined,
}, {
  name: '[ours] a ready endpoint without node hint disables node hints',
  nodeName: 'node-a',
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { nodeHints: ['node-a'], ready: true }),
    ep('10.1.2.4:80', { ready: true }),
    ep('10.1.2.5:80', { nodeHints: ['node-a'], ready: false }),
  ],
  clusterEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
  localEndpoints: undefined,
}, {
  name: '[ours] unready endpoints without node hints do not disable node hints',
  nodeName: 'node-a',
  serviceInfo: servicePort(),
  endpoints: [
    ep('10.1.2.3:80', { nodeHints: ['node-a'], ready: true }),
    ep('10.1.2.4:80', { nodeHints: ['node-b'], ready: true }),
    ep('10.1.2.5:80', { ready: false, serving: true, terminating: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: undefined,
}, {
  name: '[ours] node hints with eTP Local: topology for Cluster, Local ignores it, both merged',
  nodeName: 'node-a',
  serviceInfo: servicePort({ externalPolicyLocal: true, nodePort: 30080 }),
  endpoints: [
    ep('10.1.2.3:80', { nodeHints: ['node-a'], ready: true }),
    ep('10.1.2.4:80', { nodeHints: ['node-b'], ready: true, isLocal: true }),
  ],
  clusterEndpoints: ['10.1.2.3:80'],
  localEndpoints: ['10.1.2.4:80'],
  allEndpoints: ['10.1.2.3:80', '10.1.2.4:80'],
}];

function keys(eps: readonly Endpoint[] | undefined): string[] | undefined {
  return eps?.map((e) => e.key).sort();
}

describe('categorizeEndpoints (upstream TestCategorizeEndpoints)', () => {
  for (const tc of cases) {
    it(tc.name, () => {
      const labels = new Map(Object.entries(tc.nodeLabels ?? {}));
      const got = categorizeEndpoints(tc.endpoints, tc.serviceInfo, tc.nodeName ?? 'test-node', labels);
      assert.deepEqual(keys(got.clusterEndpoints), tc.clusterEndpoints?.slice().sort(), 'clusterEndpoints');
      assert.deepEqual(keys(got.localEndpoints), tc.localEndpoints?.slice().sort(), 'localEndpoints');
      const expectedAll = tc.clusterEndpoints !== undefined && tc.localEndpoints === undefined ? tc.clusterEndpoints
        : tc.localEndpoints !== undefined && tc.clusterEndpoints === undefined ? tc.localEndpoints : tc.allEndpoints ?? [];
      assert.deepEqual(keys(got.allReachableEndpoints), expectedAll.slice().sort(), 'allReachableEndpoints');
      assert.equal(got.hasAnyEndpoints, expectedAll.length > 0 || tc.onlyRemoteEndpoints === true, 'hasAnyEndpoints');
    });
  }

  it('keeps the input order and does not mutate its input', () => {
    const eps = [ep('10.0.0.1:80', { ready: true, isLocal: true }), ep('10.0.0.2:80', { ready: false, serving: true, terminating: true, isLocal: true }), ep('10.0.0.3:80', { ready: true })];
    const frozen = Object.freeze([...eps]);
    const got = categorizeEndpoints(frozen, servicePort({ externalPolicyLocal: true, nodePort: 30000 }), 'n', new Map());
    assert.deepEqual(got.allReachableEndpoints.map((e) => e.key), ['10.0.0.1:80', '10.0.0.3:80']);
  });
});
