// Upstream e2e through the lab, traffic from outside the nodes: NodePorts on every node (both
// families), an externalIP assigned to no node, and LoadBalancer IPs with and without
// loadBalancerSourceRanges. The client namespace sits on the nodes' LAN and routes the external
// range to a node, as the router in front of a cluster would.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { externalIP } from '../lab/topology.ts';
import { labSkip, ok, onlyFrom, outcome, useLab } from '../lab/suite.ts';

describe('external traffic: NodePort, externalIP, LoadBalancer', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' as const }];

  it('NodePort: reachable from outside the node on every node, IPv4 and IPv6, TCP and UDP', async () => {
    const { lab } = s;
    const all = lab.pods.map((p) => p.name);
    const svc = await lab.deploy(s.ns, 'np', { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ports: http }, lab.pods);
    for (const node of lab.nodes) {
      for (const f of ['IPv4', 'IPv6'] as const) {
        onlyFrom(await lab.client.batch('tcp', node.ip(f), svc.nodePort('http'), 60), all);
        onlyFrom(await lab.client.batch('udp', node.ip(f), svc.nodePort('dns', 'UDP'), 60), all);
      }
    }
    // Only on the node's primary IPs (nftables-mode default): not on the pod gateway address.
    assert.equal((await lab.pod('pod-1-a').agent.tcp('10.244.1.1', svc.nodePort('http'), { timeoutMs: 1000 })).ok, false);
  });

  it('externalIP not assigned to any node: routed to a node, it reaches the endpoints', async () => {
    const { lab } = s;
    const vip = externalIP(10, 'IPv4');
    const vip6 = externalIP(10, 'IPv6');
    const svc = await lab.deploy(s.ns, 'eip', { ipFamilyPolicy: 'RequireDualStack', externalIPs: [vip, vip6], ports: http }, lab.podsOn(2));
    const on2 = lab.podsOn(2).map((p) => p.name);
    onlyFrom(await lab.client.batch('tcp', vip, 80, 30), on2);
    onlyFrom(await lab.client.batch('tcp', vip6, 80, 30), on2);
    onlyFrom(await lab.client.batch('udp', vip, 53, 30), on2);
    await lab.routeClient(`${vip}/32`, 2);
    onlyFrom(await lab.client.batch('tcp', vip, 80, 30), on2, false);
    // From a pod the node's own rules catch it too.
    onlyFrom(await lab.pod('pod-1-a').agent.batch('tcp', vip, 80, 20), on2, false);
    // The ClusterIP is unaffected.
    ok(await lab.pod('pod-1-b').agent.tcp(svc.clusterIP(), 80));
    await lab.network.client.run('ip', ['route', 'del', `${vip}/32`]);
  });

  it('LoadBalancer IP without source ranges: any client reaches it', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'lb', { type: 'LoadBalancer', ports: http }, lab.pods);
    const lbIP = externalIP(20, 'IPv4');
    await lab.api.setLoadBalancerIngress(s.ns, svc.name, [lbIP]);
    await lab.settle();
    const all = lab.pods.map((p) => p.name);
    onlyFrom(await lab.client.batch('tcp', lbIP, 80, 60), all);
    ok(await lab.client.tcp(lbIP, 80, { localAddress: lab.clientIP(5) }), 'from another client address');
    ok(await lab.client.udp(lbIP, 53), 'UDP to the LB IP');
  });

  it('LoadBalancer IP with source ranges: allowed sources reach it, others are dropped; ranges can change', async () => {
    const { lab } = s;
    const allowed = `${lab.clientIP(0)}/32`;
    const svc = await lab.deploy(s.ns, 'lbsr', { type: 'LoadBalancer', loadBalancerSourceRanges: [allowed], ports: http }, lab.pods);
    const lbIP = externalIP(21, 'IPv4');
    await lab.api.setLoadBalancerIngress(s.ns, svc.name, [lbIP]);
    await lab.settle();
    ok(await lab.client.tcp(lbIP, 80), 'from the allowed source');
    const denied = await lab.client.tcp(lbIP, 80, { localAddress: lab.clientIP(3), timeoutMs: 1000 });
    assert.equal(outcome(denied), 'ETIMEDOUT', 'a source outside the ranges is dropped, not rejected');
    // NodePorts are not subject to the source ranges (as upstream).
    ok(await lab.client.tcp(lab.node(1).ip(), svc.nodePort('http'), { localAddress: lab.clientIP(3) }), 'NodePort ignores source ranges');

    await lab.api.patch('Service', s.ns, svc.name, { spec: { loadBalancerSourceRanges: [`${lab.clientIP(3)}/32`] } });
    await lab.settle();
    ok(await lab.client.tcp(lbIP, 80, { localAddress: lab.clientIP(3) }), 'newly allowed source');
    assert.equal((await lab.client.tcp(lbIP, 80, { timeoutMs: 1000 })).ok, false, 'no longer allowed');
    await lab.api.patch('Service', s.ns, svc.name, { spec: { loadBalancerSourceRanges: null } });
    await lab.settle();
    ok(await lab.client.tcp(lbIP, 80), 'ranges removed: open to all');
  });
});
