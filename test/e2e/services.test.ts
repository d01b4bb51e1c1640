// Upstream e2e (test/e2e/network/service.go) through the lab: basic and multiport endpoints,
// ports added and removed, the same port with two protocols, and how evenly traffic is spread.
// Every object goes through the control plane's API; every check is a real connection.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointSlice } from '../lab/objects.ts';
import { assertBalanced, fails, labSkip, ok, onlyFrom, useLab } from '../lab/suite.ts';
import { createService, DeployedService } from '../lab/workloads.ts';

describe('services: endpoints, ports, protocols, balancing', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();

  it('basic endpoint: a ClusterIP reaches its one endpoint from pods on every node and from a node', async () => {
    const { lab } = s;
    const target = lab.pod('pod-2-a');
    const svc = await lab.deploy(s.ns, 'basic', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, [target]);
    for (const from of [lab.pod('pod-1-a').agent, lab.pod('pod-2-b').agent, lab.node(1).agent, lab.node(2).agent]) {
      const h = ok(await from.tcp(svc.clusterIP(), 80), `from ${from.ns.role}`);
      assert.equal(h.pod, 'pod-2-a');
      assert.equal(h.served, 'tcp/8080');
    }
  });

  it('multiport endpoints: each service port reaches its own endpoints and target port', async () => {
    const { lab } = s;
    // As upstream's test: port "portname1" is served by one pod, "portname2" by another.
    const svc = await createService(lab.api, s.ns, 'multi', {
      ports: [{ name: 'portname1', port: 80, targetPort: 8080 }, { name: 'portname2', port: 81, targetPort: 8081 }],
    });
    const [a, b] = [lab.pod('pod-1-a'), lab.pod('pod-2-a')];
    const ep = (pod: typeof a): { addresses: string[]; conditions: { ready: boolean }; nodeName: string } => ({ addresses: [pod.ip()], conditions: { ready: true }, nodeName: pod.nodeName });
    await lab.api.create(endpointSlice(s.ns, 'multi-1', 'multi', 'IPv4', [{ name: 'portname1', port: 8080, protocol: 'TCP' }], [ep(a)]));
    await lab.api.create(endpointSlice(s.ns, 'multi-2', 'multi', 'IPv4', [{ name: 'portname2', port: 8081, protocol: 'TCP' }], [ep(b)]));
    await lab.settle();
    const client = lab.pod('pod-2-b').agent;
    onlyFrom(await client.batch('tcp', svc.clusterIP(), 80, 20), ['pod-1-a']);
    onlyFrom(await client.batch('tcp', svc.clusterIP(), 81, 20), ['pod-2-a']);
    assert.equal(ok(await client.tcp(svc.clusterIP(), 81)).served, 'tcp/8081');
    // Both pods behind both ports in one slice: each port still maps to its own target port.
    await lab.api.delete('EndpointSlice', s.ns, 'multi-2');
    await lab.api.apply(endpointSlice(s.ns, 'multi-1', 'multi', 'IPv4',
      [{ name: 'portname1', port: 8080, protocol: 'TCP' }, { name: 'portname2', port: 8081, protocol: 'TCP' }], [ep(a), ep(b)]));
    await lab.settle();
    for (const [port, served] of [[80, 'tcp/8080'], [81, 'tcp/8081']] as const) {
      const hits = await client.batch('tcp', svc.clusterIP(), port, 40);
      onlyFrom(hits, ['pod-1-a', 'pod-2-a']);
      for (const h of hits) assert.equal(ok(h).served, served);
    }
  });

  it('ports added and removed: a new port serves at once, a removed port is rejected', async () => {
    const { lab } = s;
    const pods = lab.pods;
    const svc = await lab.deploy(s.ns, 'ports', { ports: [{ name: 'a', port: 80, targetPort: 8080 }] }, pods);
    const client = lab.pod('pod-1-a').agent;
    ok(await client.tcp(svc.clusterIP(), 80));
    fails(await client.tcp(svc.clusterIP(), 82, { timeoutMs: 3000 }), /ECONNREFUSED/, 'port 82 before it exists');

    const added = await lab.api.patch('Service', s.ns, 'ports', { spec: { ports: [{ name: 'a', port: 80, targetPort: 8080 }, { name: 'b', port: 82, targetPort: 9376 }] } });
    await lab.setEndpoints(new DeployedService(added), pods);
    const h = ok(await client.tcp(svc.clusterIP(), 82), 'the added port');
    assert.equal(h.served, 'tcp/9376');

    const removed = await lab.api.patch('Service', s.ns, 'ports', { spec: { ports: [{ name: 'b', port: 82, targetPort: 9376 }] } });
    await lab.setEndpoints(new DeployedService(removed), pods);
    fails(await client.tcp(svc.clusterIP(), 80, { timeoutMs: 3000 }), /ECONNREFUSED/, 'the removed port');
    ok(await client.tcp(svc.clusterIP(), 82), 'the remaining port');
  });

  it('same port, different protocols: TCP and UDP on port 80 each reach their own server', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'dual-proto', {
      ports: [{ name: 'tcp', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'udp', port: 80, targetPort: 8080, protocol: 'UDP' }],
    }, lab.pods);
    const client = lab.pod('pod-1-b').agent;
    for (const h of await client.batch('tcp', svc.clusterIP(), 80, 20)) assert.equal(ok(h).served, 'tcp/8080');
    for (const h of await client.batch('udp', svc.clusterIP(), 80, 20)) assert.equal(ok(h).served, 'udp/8080');
  });

  it('balancing: ClusterIP TCP and UDP and NodePort spread evenly over four endpoints (1e-6 bound)', async () => {
    const { lab } = s;
    const names = lab.pods.map((p) => p.name);
    const svc = await lab.deploy(s.ns, 'spread', {
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }],
    }, lab.pods);
    const from = lab.pod('pod-2-b').agent;
    assertBalanced(await from.batch('tcp', svc.clusterIP(), 80, 600), names);
    assertBalanced(await from.batch('udp', svc.clusterIP(), 53, 600), names);
    assertBalanced(await lab.client.batch('tcp', lab.node(1).ip(), svc.nodePort('http'), 600), names);
  });
});
