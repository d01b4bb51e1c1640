// Upstream e2e through the lab, ClusterIP side: the client's pod IP reaches the server
// unchanged, hairpin, IPv6 and dual-stack ClusterIPs, reject without endpoints, services going
// up and down and being recreated, type changes, and the labels that make kube-proxy ignore an
// object (service-proxy-name, headless).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointSlice } from '../lab/objects.ts';
import { fails, labSkip, ok, onlyFrom, useLab } from '../lab/suite.ts';
import { createService, DeployedService, writeEndpoints } from '../lab/workloads.ts';

describe('ClusterIP: source IP, hairpin, IPv6, reject, lifecycle', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }];
  const httpAndUdp = [...http, { name: 'udp', port: 80, targetPort: 8080, protocol: 'UDP' as const }];

  it('source IP preserved: the server sees the client pod\'s IP, across nodes and on one node', async () => {
    const { lab } = s;
    const client = lab.pod('pod-1-a');
    for (const server of ['pod-2-a', 'pod-1-b']) {
      const svc = await lab.deploy(s.ns, `src-${server}`, { ports: httpAndUdp }, [lab.pod(server)]);
      for (const h of await client.agent.batch('tcp', svc.clusterIP(), 80, 10)) {
        assert.equal(ok(h).pod, server);
        assert.equal(ok(h).clientIP, client.ip(), `${server} sees the client pod's address`);
      }
      const u = ok(await client.agent.udp(svc.clusterIP(), 80));
      assert.equal(u.clientIP, client.ip());
    }
  });

  it('hairpin: a pod reaches itself through its own Service (masqueraded to the node)', async () => {
    const { lab } = s;
    const pod = lab.pod('pod-2-b');
    const svc = await lab.deploy(s.ns, 'hairpin', { ports: http }, [pod]);
    for (const h of await pod.agent.batch('tcp', svc.clusterIP(), 80, 10)) {
      const hit = ok(h, 'hairpin');
      assert.equal(hit.pod, 'pod-2-b');
      assert.notEqual(hit.clientIP, pod.ip(), 'hairpin traffic is masqueraded, or the reply would bypass the NAT');
    }
  });

  it('IPv6: single-stack IPv6 and dual-stack ClusterIPs reach the pods over IPv6, source preserved', async () => {
    const { lab } = s;
    const client = lab.pod('pod-1-a');
    const v6 = await lab.deploy(s.ns, 'v6only', { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', ports: httpAndUdp }, [lab.pod('pod-2-a')]);
    assert.ok(v6.clusterIP('IPv6').startsWith('fd00:96::'));
    const h = ok(await client.agent.tcp(v6.clusterIP('IPv6'), 80));
    assert.equal(h.pod, 'pod-2-a');
    assert.equal(h.clientIP, client.ip('IPv6'));
    ok(await client.agent.udp(v6.clusterIP('IPv6'), 80), 'UDP over IPv6');

    const dual = await lab.deploy(s.ns, 'dual', { ipFamilyPolicy: 'RequireDualStack', ports: http }, lab.pods);
    const all = lab.pods.map((p) => p.name);
    onlyFrom(await client.agent.batch('tcp', dual.clusterIP('IPv4'), 80, 60), all);
    onlyFrom(await client.agent.batch('tcp', dual.clusterIP('IPv6'), 80, 60), all);
    onlyFrom(await lab.node(2).agent.batch('tcp', dual.clusterIP('IPv6'), 80, 60), all);
  });

  it('reject: a Service without endpoints refuses connections (rejected, not dropped)', async () => {
    const { lab } = s;
    const svc = await createService(lab.api, s.ns, 'empty', { type: 'NodePort', ipFamilyPolicy: 'PreferDualStack', ports: http });
    await writeEndpoints(lab.api, svc, []);
    await lab.settle();
    for (const [from, ip] of [[lab.pod('pod-1-a').agent, svc.clusterIP()], [lab.node(2).agent, svc.clusterIP()], [lab.pod('pod-2-a').agent, svc.clusterIP('IPv6')]] as const) {
      const h = await from.tcp(ip, 80, { timeoutMs: 3000 });
      fails(h, /ECONNREFUSED/, `${from.ns.role} → ${ip}`);
      // A reject is an ICMP error, answered at once. Linux may still report it only on the SYN
      // retransmitted after 1 s: an error that arrives while connect() holds the socket lock is
      // kept as a soft error (TcpExtLockDroppedIcmps), and over veth it can arrive that fast.
      // Either way a refusal, never the timeout a drop would give.
      const limit = 1500;
      assert.ok(h.ms < limit, `${from.ns.role} → ${ip} refused within ${limit} ms (took ${Math.round(h.ms)} ms)`);
    }
    fails(await lab.client.tcp(lab.node(1).ip(), svc.nodePort(), { timeoutMs: 3000 }), /ECONNREFUSED/, 'NodePort without endpoints');
    // Endpoints that are neither ready nor serving count as none.
    await lab.setEndpoints(svc, [{ pod: lab.pod('pod-1-a'), ready: false, serving: false }]);
    fails(await lab.pod('pod-2-b').agent.tcp(svc.clusterIP(), 80, { timeoutMs: 3000 }), /ECONNREFUSED/, 'only unready endpoints');
    await lab.setEndpoints(svc, [lab.pod('pod-1-a')]);
    ok(await lab.pod('pod-2-b').agent.tcp(svc.clusterIP(), 80), 'after an endpoint appears');
  });

  it('services up and down: deleting one Service leaves the others working; a new one works', async () => {
    const { lab } = s;
    const client = lab.pod('pod-1-b').agent;
    const svcs = [];
    for (const name of ['up-1', 'up-2', 'up-3']) svcs.push(await lab.deploy(s.ns, name, { ports: http }, lab.podsOn(name === 'up-2' ? 1 : 2)));
    for (const svc of svcs) ok(await client.tcp(svc.clusterIP(), 80), svc.name);
    await lab.api.delete('Service', s.ns, 'up-2');
    await lab.api.delete('EndpointSlice', s.ns, 'up-2-v4');
    await lab.settle();
    const [one, two, three] = svcs as [DeployedService, DeployedService, DeployedService];
    assert.equal((await client.tcp(two.clusterIP(), 80, { timeoutMs: 1000 })).ok, false, 'the deleted Service is gone');
    ok(await client.tcp(one.clusterIP(), 80), 'up-1 still works');
    ok(await client.tcp(three.clusterIP(), 80), 'up-3 still works');
    const four = await lab.deploy(s.ns, 'up-4', { ports: http }, lab.podsOn(1));
    onlyFrom(await client.batch('tcp', four.clusterIP(), 80, 20), lab.podsOn(1).map((p) => p.name));
  });

  it('recreated service: delete and create again (same ClusterIP) works at once', async () => {
    const { lab } = s;
    const client = lab.pod('pod-2-b').agent;
    const first = await lab.deploy(s.ns, 'again', { ports: http }, [lab.pod('pod-1-a')]);
    ok(await client.tcp(first.clusterIP(), 80));
    const ip = first.clusterIP();
    await lab.api.delete('Service', s.ns, 'again');
    await lab.api.delete('EndpointSlice', s.ns, 'again-v4');
    await lab.settle();
    assert.equal((await client.tcp(ip, 80, { timeoutMs: 1000 })).ok, false, 'gone after delete');
    const second = await lab.deploy(s.ns, 'again', { clusterIP: ip, ports: http }, [lab.pod('pod-2-a')]);
    assert.equal(ok(await client.tcp(second.clusterIP(), 80)).pod, 'pod-2-a');
  });

  it('type changes: ClusterIP → NodePort → LoadBalancer → ClusterIP → ExternalName', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'morph', { ports: http }, lab.pods);
    const ip = svc.clusterIP();
    const np = new DeployedService(await lab.api.patch('Service', s.ns, 'morph', { spec: { type: 'NodePort' } }));
    await lab.settle();
    ok(await lab.client.tcp(lab.node(2).ip(), np.nodePort()), 'NodePort after ClusterIP → NodePort');
    const lb = new DeployedService(await lab.api.patch('Service', s.ns, 'morph', { spec: { type: 'LoadBalancer' } }));
    await lab.api.setLoadBalancerIngress(s.ns, 'morph', ['203.0.113.50']);
    await lab.settle();
    ok(await lab.client.tcp('203.0.113.50', 80), 'LoadBalancer IP');
    ok(await lab.client.tcp(lab.node(1).ip(), lb.nodePort()), 'NodePort of the LoadBalancer');
    await lab.api.patch('Service', s.ns, 'morph', { spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: null }] }, status: null });
    await lab.settle();
    assert.equal((await lab.client.tcp(lab.node(1).ip(), lb.nodePort(), { timeoutMs: 1000 })).ok, false, 'NodePort gone after → ClusterIP');
    ok(await lab.pod('pod-1-a').agent.tcp(ip, 80), 'ClusterIP still works');
    await lab.api.patch('Service', s.ns, 'morph', { spec: { type: 'ExternalName', externalName: 'example.com', clusterIP: null, clusterIPs: null, ipFamilies: null, ipFamilyPolicy: null, ports: null } });
    await lab.settle();
    assert.equal((await lab.pod('pod-1-a').agent.tcp(ip, 80, { timeoutMs: 1000 })).ok, false, 'no ClusterIP once ExternalName');
  });

  it('ignored objects: a Service for another proxy, and a headless slice, are not programmed', async () => {
    const { lab } = s;
    const other = await createService(lab.api, s.ns, 'not-ours', { ports: http }, { 'service.kubernetes.io/service-proxy-name': 'some-other-proxy' });
    await writeEndpoints(lab.api, other, lab.pods);
    const headless = await createService(lab.api, s.ns, 'hl', { ports: http });
    await lab.api.create(endpointSlice(s.ns, 'hl-v4', 'hl', 'IPv4', [{ name: 'http', port: 8080, protocol: 'TCP' }],
      [{ addresses: [lab.pod('pod-1-a').ip()], conditions: { ready: true }, nodeName: 'node-1' }], { 'service.kubernetes.io/headless': '' }));
    await lab.settle();
    const client = lab.pod('pod-2-a').agent;
    assert.equal((await client.tcp(other.clusterIP(), 80, { timeoutMs: 1000 })).ok, false, 'a service-proxy-name Service is left alone');
    fails(await client.tcp(headless.clusterIP(), 80, { timeoutMs: 3000 }), /ECONNREFUSED/, 'a headless-labelled slice gives no endpoints');
    // Dropping the label hands the Service to us.
    await lab.api.patch('Service', s.ns, 'not-ours', { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': null } } });
    await lab.settle();
    ok(await client.tcp(other.clusterIP(), 80), 'programmed once the label is gone');
  });
});
