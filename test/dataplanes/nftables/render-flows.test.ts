// Packet-flow tests through the rendered ruleset (ports of upstream's runPacketFlowTests cases).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderFamily } from '../../../src/dataplanes/nftables/render.ts';
import type { NftablesRenderOptions } from '../../../src/dataplanes/nftables/options.ts';
import type { FamilySnapshot } from '../../../src/model/types.ts';
import {
  local, makeEndpoint, makePort, makeSnapshot, notServing, terminating, testOptions,
  TEST_EXTERNAL_CLIENT, TEST_EXTERNAL_CLIENT_BLOCKED, TEST_NODE_IP, TEST_NODE_IP_ALT, TEST_NODE_IPS,
} from './fixtures.ts';
import { assertFlows, type FlowTest } from './tracer.ts';

function flows(snap: FamilySnapshot, tests: readonly FlowTest[], options: NftablesRenderOptions = testOptions(snap.family)): void {
  assertFlows(renderFamily(snap, options), TEST_NODE_IPS, tests);
}

const lbService = (fn: Parameters<typeof makePort>[3] = () => undefined): ReturnType<typeof makePort> =>
  makePort('ns1', 'svc1', 'p80', (s) => {
    s.clusterIP = '172.30.0.41'; s.nodePort = 3001; s.externalIPs = ['192.168.99.11']; s.loadBalancerVIPs = ['1.2.3.4'];
    fn(s);
  });

describe('nftables packet flows', () => {
  it('no endpoints: ClusterIP, external IP, NodePort and LB IP all reject', () => {
    flows(makeSnapshot({ ports: [[lbService(), []]] }), [
      { name: 'pod to cluster IP', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: 'REJECT' },
      { name: 'external to external IP', src: TEST_EXTERNAL_CLIENT, dst: '192.168.99.11', port: 80, output: 'REJECT' },
      { name: 'pod to NodePort', src: '10.0.0.2', dst: TEST_NODE_IP, port: 3001, output: 'REJECT' },
      { name: 'external to NodePort', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: 'REJECT' },
      { name: 'pod to LB IP', src: '10.0.0.2', dst: '1.2.3.4', port: 80, output: 'REJECT' },
      { name: 'external to LB IP', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: 'REJECT' },
    ]);
  });

  it('ClusterIP: hairpin, multiple endpoints, target port, TCP/UDP/SCTP on one port, unused ports, unallocated IPs', () => {
    const svc2 = (name: string, proto: 'TCP' | 'UDP' | 'SCTP', port: number): ReturnType<typeof makePort> =>
      makePort('ns2', 'svc2', name, (s) => { s.clusterIP = '172.30.0.42'; s.port = port; }, proto);
    const both = (port: number): ReturnType<typeof makeEndpoint>[] => [makeEndpoint('10.180.0.1', port, local), makeEndpoint('10.180.2.1', port)];
    flows(makeSnapshot({ ports: [
      [makePort('ns1', 'svc1', 'http', (s) => { s.clusterIP = '172.30.0.41'; }), [makeEndpoint('10.180.0.1', 80, local)]],
      [svc2('http', 'TCP', 80), both(80)],
      [svc2('https', 'TCP', 443), both(8443)],
      [svc2('dns-udp', 'UDP', 53), both(53)],
      [svc2('dns-tcp', 'TCP', 53), both(5353)],
      [svc2('dns-sctp', 'SCTP', 53), both(53)],
    ] }), [
      { name: 'simple clusterIP', src: '10.180.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80' },
      { name: 'hairpin to cluster IP', src: '10.180.0.1', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80', masq: true },
      { name: 'multiple endpoints', src: '10.180.0.2', dst: '172.30.0.42', port: 80, output: '10.180.0.1:80, 10.180.2.1:80' },
      { name: 'target port', src: '10.180.0.2', dst: '172.30.0.42', port: 443, output: '10.180.0.1:8443, 10.180.2.1:8443' },
      { name: 'same port TCP', src: '10.180.0.2', dst: '172.30.0.42', port: 53, output: '10.180.0.1:5353, 10.180.2.1:5353' },
      { name: 'same port UDP', src: '10.180.0.2', dst: '172.30.0.42', port: 53, proto: 'udp', output: '10.180.0.1:53, 10.180.2.1:53' },
      { name: 'same port SCTP', src: '10.180.0.2', dst: '172.30.0.42', port: 53, proto: 'sctp', output: '10.180.0.1:53, 10.180.2.1:53' },
      { name: 'TCP-only port does not match UDP', src: '10.180.0.2', dst: '172.30.0.42', port: 80, proto: 'udp', output: 'REJECT' },
      { name: "svc1 does not accept svc2's ports", src: '10.180.0.2', dst: '172.30.0.41', port: 443, output: 'REJECT' },
      { name: 'unallocated cluster IP', src: '10.180.0.2', dst: '172.30.0.50', port: 80, output: 'DROP' },
      { name: 'off-cluster source to ClusterIP is masqueraded', src: TEST_EXTERNAL_CLIENT, dst: '172.30.0.41', port: 80, output: '10.180.0.1:80', masq: true },
    ]);
  });

  it('LoadBalancer with source ranges; NodePort bypasses them; node allowed via its IP', () => {
    const snap = makeSnapshot({ ports: [[makePort('ns1', 'svc1', 'p80', (s) => {
      s.clusterIP = '172.30.0.41'; s.nodePort = 3001; s.loadBalancerVIPs = ['1.2.3.4', '5.6.7.8'];
      s.loadBalancerSourceRanges = ['192.168.0.0/24', '203.0.113.0/25'];
    }), [makeEndpoint('10.180.0.1', 80)]]] });
    flows(snap, [
      { name: 'pod to cluster IP', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80' },
      { name: 'external to nodePort', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: '10.180.0.1:80', masq: true },
      { name: 'nodePort bypasses source ranges', src: TEST_EXTERNAL_CLIENT_BLOCKED, dst: TEST_NODE_IP, port: 3001, output: '10.180.0.1:80', masq: true },
      { name: 'accepted external to LB1', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: '10.180.0.1:80', masq: true },
      { name: 'accepted external to LB2', src: TEST_EXTERNAL_CLIENT, dst: '5.6.7.8', port: 80, output: '10.180.0.1:80', masq: true },
      { name: 'blocked external to LB1', src: TEST_EXTERNAL_CLIENT_BLOCKED, dst: '1.2.3.4', port: 80, output: 'DROP' },
      { name: 'pod to LB2 blocked', src: '10.0.0.2', dst: '5.6.7.8', port: 80, output: 'DROP' },
      { name: 'node to LB1 allowed', src: TEST_NODE_IP, dst: '1.2.3.4', port: 80, output: '10.180.0.1:80', masq: true },
      { name: 'LB1 to itself (SNATed) implicitly allowed', src: '1.2.3.4', dst: '1.2.3.4', port: 80, output: '10.180.0.1:80', masq: true },
    ]);
  });

  it('NodePorts: primary IP only by default, secondary IPs with CIDRs, every address with "all"', () => {
    const snap = makeSnapshot({ ports: [[makePort('ns1', 'svc1', 'p80', (s) => { s.nodePort = 3001; }), [makeEndpoint('10.180.0.1', 80)]]] });
    const out = '10.180.0.1:80';
    flows(snap, [
      { name: 'external to nodePort', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: out, masq: true },
      { name: 'node to nodePort', src: TEST_NODE_IP, dst: TEST_NODE_IP, port: 3001, output: out, masq: true },
      { name: 'secondary node IP ignores NodePorts', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP_ALT, port: 3001, output: '' },
    ], testOptions('IPv4', { nodePortAddresses: { kind: 'primary' } }));
    flows(snap, [
      { name: 'secondary IP accepted', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP_ALT, port: 3001, output: out, masq: true },
    ], testOptions('IPv4', { nodePortAddresses: { kind: 'cidrs', cidrs: ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'] } }));
    flows(snap, [
      { name: 'any local IP accepted', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP_ALT, port: 3001, output: out, masq: true },
      { name: 'non-local IP ignored', src: TEST_EXTERNAL_CLIENT, dst: '192.168.5.5', port: 3001, output: '' },
    ], testOptions('IPv4', { nodePortAddresses: { kind: 'all' } }));
  });

  it('externalTrafficPolicy Local: no masquerade, external clients only reach local endpoints, pods short-circuit', () => {
    const snap = makeSnapshot({ ports: [[lbService((s) => { s.externalPolicyLocal = true; s.healthCheckNodePort = 30000; }),
      [makeEndpoint('10.180.0.1', 80), makeEndpoint('10.180.2.1', 80, local)]]] });
    const both = '10.180.0.1:80, 10.180.2.1:80';
    flows(snap, [
      { name: 'pod to cluster IP', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: both },
      { name: 'pod to external IP', src: '10.0.0.2', dst: '192.168.99.11', port: 80, output: both },
      { name: 'external to external IP', src: TEST_EXTERNAL_CLIENT, dst: '192.168.99.11', port: 80, output: '10.180.2.1:80' },
      { name: 'pod to LB IP', src: '10.0.0.2', dst: '1.2.3.4', port: 80, output: both },
      { name: 'external to LB IP', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: '10.180.2.1:80' },
      { name: 'pod to NodePort', src: '10.0.0.2', dst: TEST_NODE_IP, port: 3001, output: both },
      { name: 'external to NodePort', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: '10.180.2.1:80' },
      { name: 'node to LB IP is masqueraded', src: TEST_NODE_IP, dst: '1.2.3.4', port: 80, output: both, masq: true },
    ]);
    // No local endpoint: external traffic is dropped (not rejected); pods still get through.
    const remote = makeSnapshot({ ports: [[lbService((s) => { s.externalPolicyLocal = true; }), [makeEndpoint('10.180.0.1', 80)]]] });
    flows(remote, [
      { name: 'external to LB dropped', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: 'DROP' },
      { name: 'external to NodePort dropped', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: 'DROP' },
      { name: 'pod to LB short-circuited', src: '10.0.0.2', dst: '1.2.3.4', port: 80, output: '10.180.0.1:80' },
    ]);
  });

  it('externalTrafficPolicy Cluster masquerades every external entry point', () => {
    const snap = makeSnapshot({ ports: [[lbService(), [makeEndpoint('10.180.0.1', 80), makeEndpoint('10.180.2.1', 80, local)]]] });
    const both = '10.180.0.1:80, 10.180.2.1:80';
    flows(snap, [
      { name: 'pod to cluster IP', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: both },
      { name: 'pod to external IP', src: '10.0.0.2', dst: '192.168.99.11', port: 80, output: both, masq: true },
      { name: 'external to LB', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: both, masq: true },
      { name: 'external to NodePort', src: TEST_EXTERNAL_CLIENT, dst: TEST_NODE_IP, port: 3001, output: both, masq: true },
    ]);
  });

  it('internalTrafficPolicy Local: local endpoints only; none local -> drop', () => {
    const itp = (): ReturnType<typeof makePort> => makePort('ns1', 'svc1', '', (s) => { s.clusterIP = '172.30.1.1'; s.internalPolicyLocal = true; });
    flows(makeSnapshot({ ports: [[itp(), [makeEndpoint('10.0.1.1', 80, local), makeEndpoint('10.0.1.2', 80, local), makeEndpoint('10.0.1.3', 80)]]] }), [
      { name: 'local endpoints only', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: '10.0.1.1:80, 10.0.1.2:80' },
    ]);
    flows(makeSnapshot({ ports: [[itp(), [makeEndpoint('10.0.1.1', 80), makeEndpoint('10.0.1.2', 80)]]] }), [
      { name: 'no local endpoints', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: 'DROP' },
    ]);
  });

  it('terminating endpoints: used only when nothing is ready (Local and Cluster fallback separately)', () => {
    const svc = (): ReturnType<typeof makePort> => makePort('ns1', 'svc1', '', (s) => {
      s.clusterIP = '172.30.1.1'; s.loadBalancerVIPs = ['1.2.3.4']; s.externalPolicyLocal = true; s.healthCheckNodePort = 30000;
    });
    flows(makeSnapshot({ ports: [[svc(), [
      makeEndpoint('10.0.1.1', 80, local), makeEndpoint('10.0.1.2', 80, local),
      makeEndpoint('10.0.1.3', 80, (e) => { local(e); terminating(e); }), makeEndpoint('10.0.1.4', 80, (e) => { local(e); notServing(e); }),
      makeEndpoint('10.0.1.5', 80),
    ]]] }), [
      { name: 'ready ones, pod to clusterIP', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80' },
      { name: 'ready ones, external to LB', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: '10.0.1.1:80, 10.0.1.2:80' },
    ]);
    flows(makeSnapshot({ ports: [[svc(), [
      makeEndpoint('10.0.1.2', 80, (e) => { local(e); terminating(e); }), makeEndpoint('10.0.1.3', 80, (e) => { local(e); terminating(e); }),
      makeEndpoint('10.0.1.4', 80, (e) => { local(e); notServing(e); }), makeEndpoint('10.0.1.5', 80),
    ]]] }), [
      { name: 'cluster uses the remote ready one', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: '10.0.1.5:80' },
      { name: 'external falls back to local terminating', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: '10.0.1.2:80, 10.0.1.3:80' },
    ]);
    flows(makeSnapshot({ ports: [[svc(), [makeEndpoint('10.0.1.5', 80, terminating)]]] }), [
      { name: 'remote terminating only: cluster uses it', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: '10.0.1.5:80' },
      { name: 'remote terminating only: external dropped', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: 'DROP' },
    ]);
    flows(makeSnapshot({ ports: [[svc(), [makeEndpoint('10.0.1.5', 80, (e) => { local(e); notServing(e); })]]] }), [
      { name: 'nothing usable: reject', src: '10.0.0.2', dst: '172.30.1.1', port: 80, output: 'REJECT' },
      { name: 'nothing usable: external reject', src: TEST_EXTERNAL_CLIENT, dst: '1.2.3.4', port: 80, output: 'REJECT' },
    ]);
  });

  it('masquerading: masqueradeAll, no local detector, interface-based detectors', () => {
    const snap = makeSnapshot({ ports: [[lbService((s) => { s.externalPolicyLocal = true; }), [makeEndpoint('10.180.0.1', 80), makeEndpoint('10.180.0.2', 80, local)]]] });
    flows(snap, [
      { name: 'pod to ClusterIP masqueraded with masqueradeAll', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80', masq: true },
    ], testOptions('IPv4', { masqueradeAll: true }));
    flows(snap, [
      { name: 'without a detector nothing to a ClusterIP is masqueraded', src: TEST_EXTERNAL_CLIENT, dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80' },
      { name: 'and pods get only local endpoints via the LB', src: '10.0.0.2', dst: '1.2.3.4', port: 80, output: '10.180.0.2:80' },
    ], testOptions('IPv4', { localDetector: { mode: 'None' } }));
    flows(snap, [
      { name: 'from the bridge: pod traffic', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80', iifname: 'cbr0' },
      { name: 'from elsewhere: masqueraded', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80', masq: true, iifname: 'eth0' },
    ], testOptions('IPv4', { localDetector: { mode: 'BridgeInterface', interfaceName: 'cbr0' } }));
    flows(snap, [
      { name: 'veth prefix: pod traffic', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80', iifname: 'veth1234' },
      { name: 'other interface: masqueraded', src: '10.0.0.2', dst: '172.30.0.41', port: 80, output: '10.180.0.1:80, 10.180.0.2:80', masq: true, iifname: 'eth0' },
    ], testOptions('IPv4', { localDetector: { mode: 'InterfaceNamePrefix', prefix: 'veth' } }));
  });

  it('IPv6: ClusterIP, NodePort and affinity', () => {
    const snap = makeSnapshot({ family: 'IPv6', ports: [[makePort('ns1', 'svc1', 'p80', (s) => {
      s.family = 'IPv6'; s.clusterIP = 'fd00:172:30::41'; s.nodePort = 3001; s.sessionAffinity = { type: 'ClientIP', timeoutSeconds: 10 };
    }), [makeEndpoint('fd00:10:180::1', 80), makeEndpoint('fd00:10:180::2:1', 80, local)]]] });
    flows(snap, [
      { name: 'pod to cluster IP', src: 'fd00:10::2', dst: 'fd00:172:30::41', port: 80, output: '[fd00:10:180::1]:80, [fd00:10:180::2:1]:80' },
      { name: 'external to NodePort', src: '2600:5200::1', dst: '2001:db8::1', port: 3001, output: '[fd00:10:180::1]:80, [fd00:10:180::2:1]:80', masq: true },
      { name: 'unallocated', src: 'fd00:10::2', dst: 'fd00:10:96::9', port: 80, output: 'DROP' },
    ]);
  });

  it('hairpin: local endpoints and endpoints of unknown node are masqueraded when they reach themselves; remote ones cannot hairpin here', () => {
    const sp = makePort('ns1', 'hp', 'p80', (x) => { x.clusterIP = '172.30.0.60'; });
    const eps = [
      makeEndpoint('10.180.0.61', 80, (e) => { e.isLocal = true; e.nodeName = 'node-1'; }),
      makeEndpoint('10.180.0.62', 80),
      makeEndpoint('10.180.0.63', 80, (e) => { e.nodeName = 'node-2'; }),
    ];
    const ruleset = renderFamily(makeSnapshot({ ports: [[sp, eps]] }), testOptions('IPv4'));
    const frag = [...ruleset.services.values()][0];
    assert.ok(frag);
    assert.deepEqual([...frag.hairpin].sort(), ['10.180.0.61', '10.180.0.62']);
    flows(makeSnapshot({ ports: [[sp, [eps[0] ?? assert.fail()]]] }), [
      { name: 'local pod to itself', src: '10.180.0.61', dst: '172.30.0.60', port: 80, output: '10.180.0.61:80', masq: true },
    ]);
  });
});
