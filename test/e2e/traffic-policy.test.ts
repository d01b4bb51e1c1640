// Upstream e2e through the lab: internalTrafficPolicy Local, externalTrafficPolicy Local with
// its healthCheckNodePort (200 / 503) and the client's source IP preserved, fallback to
// serving-terminating endpoints under each policy, and trafficDistribution PreferClose.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertBalanced, healthCheck, labSkip, ok, outcome, onlyFrom, useLab } from '../lab/suite.ts';
import { externalIP } from '../lab/topology.ts';

describe('traffic policies and terminating endpoints', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' as const }];

  it('internalTrafficPolicy Local: pods use only their own node\'s endpoints; none on the node → dropped', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'itp', { internalTrafficPolicy: 'Local', ports: http }, [lab.pod('pod-1-a'), lab.pod('pod-2-a')]);
    onlyFrom(await lab.pod('pod-1-b').agent.batch('tcp', svc.clusterIP(), 80, 30), ['pod-1-a']);
    onlyFrom(await lab.pod('pod-2-b').agent.batch('tcp', svc.clusterIP(), 80, 30), ['pod-2-a']);
    onlyFrom(await lab.pod('pod-2-b').agent.batch('udp', svc.clusterIP(), 53, 30), ['pod-2-a']);
    onlyFrom(await lab.node(1).agent.batch('tcp', svc.clusterIP(), 80, 10), ['pod-1-a']);
    await lab.setEndpoints(svc, [lab.pod('pod-1-a')]);
    ok(await lab.pod('pod-1-b').agent.tcp(svc.clusterIP(), 80));
    const h = await lab.pod('pod-2-b').agent.tcp(svc.clusterIP(), 80, { timeoutMs: 1000 });
    assert.equal(outcome(h), 'ETIMEDOUT', 'no local endpoint: dropped, not rejected');
  });

  it('externalTrafficPolicy Local: only local endpoints, client IP preserved, health check node port 200 / 503', async () => {
    const { lab } = s;
    const local = lab.podsOn(1);
    const svc = await lab.deploy(s.ns, 'etp', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ipFamilyPolicy: 'RequireDualStack', ports: http }, local);
    const lbIP = externalIP(30, 'IPv4');
    await lab.api.setLoadBalancerIngress(s.ns, svc.name, [lbIP]);
    await lab.settle();
    const names = local.map((p) => p.name);
    for (const f of ['IPv4', 'IPv6'] as const) {
      const hits = await lab.client.batch('tcp', lab.node(1).ip(f), svc.nodePort('http'), 400);
      for (const h of hits) assert.equal(ok(h).clientIP, lab.clientIP(0, f), 'the client address reaches the pod unchanged');
      assertBalanced(hits, names);
      const dropped = await lab.client.tcp(lab.node(2).ip(f), svc.nodePort('http'), { timeoutMs: 1000 });
      assert.equal(outcome(dropped), 'ETIMEDOUT', `node-2 has no local endpoint: dropped (${f})`);
    }
    onlyFrom(await lab.client.batch('udp', lab.node(1).ip(), svc.nodePort('dns', 'UDP'), 20), names);
    const viaLB = ok(await lab.client.tcp(lbIP, 80), 'LB IP routed to node-1');
    assert.equal(viaLB.clientIP, lab.clientIP());
    // Pods and the node itself are not "external": they use every endpoint (short-circuit to
    // the cluster chain), even on a node without local endpoints.
    onlyFrom(await lab.pod('pod-2-a').agent.batch('tcp', lab.node(2).ip(), svc.nodePort('http'), 20), names, false);
    onlyFrom(await lab.node(2).agent.batch('tcp', lab.node(2).ip('IPv6'), svc.nodePort('http'), 20), names, false);

    // A dual-stack pod is one endpoint: weight 2, on either family's node address.
    const hc = svc.healthCheckNodePort;
    for (const f of ['IPv4', 'IPv6'] as const) {
      assert.deepEqual(await healthCheck(lab, 1, hc, f), { status: 200, localEndpoints: 2, weight: '2' });
      assert.deepEqual(await healthCheck(lab, 2, hc, f), { status: 503, localEndpoints: 0, weight: '0' });
    }

    // Moving the endpoints moves the health answer and the traffic.
    await lab.setEndpoints(svc, lab.podsOn(2));
    assert.equal((await healthCheck(lab, 1, hc)).status, 503);
    assert.equal((await healthCheck(lab, 2, hc)).status, 200);
    await lab.routeClient(`${lbIP}/32`, 2);
    const moved = ok(await lab.client.tcp(lbIP, 80), 'LB IP routed to node-2');
    assert.ok(moved.pod.startsWith('pod-2-'));
    assert.equal(moved.clientIP, lab.clientIP());
    await lab.network.client.run('ip', ['route', 'del', `${lbIP}/32`]);
  });

  it('terminating fallback, policy Cluster: only serving-terminating endpoints left → they get the traffic', async () => {
    const { lab } = s;
    const [a, b, c] = [lab.pod('pod-1-a'), lab.pod('pod-2-a'), lab.pod('pod-2-b')];
    const svc = await lab.deploy(s.ns, 'term-c', { ports: http }, [a, { pod: b, ready: false, serving: true, terminating: true }]);
    const client = lab.pod('pod-1-b').agent;
    onlyFrom(await client.batch('tcp', svc.clusterIP(), 80, 30), ['pod-1-a'], true);
    // No ready endpoint anywhere: the serving-terminating ones are used, the non-serving never.
    await lab.setEndpoints(svc, [{ pod: b, ready: false, serving: true, terminating: true }, { pod: c, ready: false, serving: false, terminating: true }]);
    onlyFrom(await client.batch('tcp', svc.clusterIP(), 80, 30), ['pod-2-a']);
    await lab.setEndpoints(svc, [{ pod: c, ready: false, serving: false, terminating: true }]);
    const h = await client.tcp(svc.clusterIP(), 80, { timeoutMs: 3000 });
    assert.equal(outcome(h), 'ECONNREFUSED', 'nothing serving: rejected');
  });

  it('terminating fallback, internalTrafficPolicy Local: a node with only a terminating local endpoint uses it', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'term-itp', { internalTrafficPolicy: 'Local', ports: http }, [
      { pod: lab.pod('pod-1-a'), ready: false, serving: true, terminating: true }, lab.pod('pod-2-a'),
    ]);
    onlyFrom(await lab.pod('pod-1-b').agent.batch('tcp', svc.clusterIP(), 80, 20), ['pod-1-a']);
    onlyFrom(await lab.pod('pod-2-b').agent.batch('tcp', svc.clusterIP(), 80, 20), ['pod-2-a']);
    // Ready local endpoints win over terminating ones.
    await lab.setEndpoints(svc, [{ pod: lab.pod('pod-1-a'), ready: false, serving: true, terminating: true }, lab.pod('pod-1-b'), lab.pod('pod-2-a')]);
    onlyFrom(await lab.pod('pod-1-a').agent.batch('tcp', svc.clusterIP(), 80, 20), ['pod-1-b']);
  });

  it('terminating fallback, externalTrafficPolicy Local: traffic still served, but the health check fails (503)', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'term-etp', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: http }, [
      { pod: lab.pod('pod-1-a'), ready: false, serving: true, terminating: true }, lab.pod('pod-2-a'),
    ]);
    const hc = svc.healthCheckNodePort;
    assert.deepEqual(await healthCheck(lab, 1, hc), { status: 503, localEndpoints: 0, weight: '0' }, 'only terminating endpoints: the LB should stop sending here');
    assert.equal((await healthCheck(lab, 2, hc)).status, 200);
    for (const h of await lab.client.batch('tcp', lab.node(1).ip(), svc.nodePort('http'), 20)) {
      assert.equal(ok(h).pod, 'pod-1-a', 'connections still in flight to node-1 drain to its terminating endpoint');
      assert.equal(ok(h).clientIP, lab.clientIP());
    }
    onlyFrom(await lab.client.batch('tcp', lab.node(2).ip(), svc.nodePort('http'), 20), ['pod-2-a']);
  });

  it('trafficDistribution PreferClose: zone hints keep traffic in the client\'s zone', async () => {
    const { lab } = s;
    const hinted = lab.pods.map((p) => ({ pod: p, forZones: [p.zone] }));
    const svc = await lab.deploy(s.ns, 'close', { trafficDistribution: 'PreferClose', ports: http }, hinted);
    onlyFrom(await lab.pod('pod-1-a').agent.batch('tcp', svc.clusterIP(), 80, 40), lab.podsOn(1).map((p) => p.name));
    onlyFrom(await lab.pod('pod-2-a').agent.batch('tcp', svc.clusterIP(), 80, 40), lab.podsOn(2).map((p) => p.name));
    // One endpoint without a hint: hints are ignored everywhere.
    await lab.setEndpoints(svc, [...hinted.slice(1), lab.pod('pod-1-a')]);
    onlyFrom(await lab.pod('pod-2-b').agent.batch('tcp', svc.clusterIP(), 80, 60), lab.pods.map((p) => p.name));
  });
});
