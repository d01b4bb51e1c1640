// Issue 5 §3 through the lab, with every node's kube-proxy-ts in userspace mode
// (--proxy-mode=userspace, as root: nftables redirects steer ClusterIPs and NodePorts to its
// listeners): ClusterIP and NodePort over TCP and UDP reach the pods, and each balancing
// algorithm and session affinity is observed end to end.
//
// Source address: the userspace proxy accepts the client's connection and opens its own to the
// pod, so the pod sees the proxying node's address towards it (`ip route get <pod>` on that
// node: its pod-network gateway address for a pod on the same node, its LAN address for a pod
// on the other node), never the client's. Userspace mode cannot preserve the source IP.
// Replies come from the address the client sent to (conntrack reverses the redirect).
//
// The lab runs with --userspace-algorithm=least-connections, so a Service without the
// annotation is balanced by least connections; every other Service names its algorithm in
// kube-proxy-ts.io/load-balancing-algorithm. Pods answer HTTP on 8080 (TCP and UDP) and keep
// line connections open on 7000 (long-lived connections, for least-connections and P2C).
//
// Chance statements (4 endpoints): random over 600 connections is checked by stats.ts (a
// correct balancer fails one run in a million); P2C: one of 3 idle endpoints getting nothing
// in 45 picks: at most 3·(2/3)^45 ≈ 4e-8. Everything else is deterministic.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '../lab/agent-client.ts';
import type { Hit } from '../lab/agent-protocol.ts';
import { assertBalanced, labSkip, ok, onlyFrom, outcome, sleep, tally, useLab } from '../lab/suite.ts';
import type { Family } from '../lab/topology.ts';
import { deployWithAlgorithm, setAlgorithm, sourceTowards, USERSPACE_ARGS } from '../lab/userspace.ts';
import type { DeployedService } from '../lab/workloads.ts';

const PORTS = [
  { name: 'http', port: 80, targetPort: 8080 },
  { name: 'udp', port: 80, targetPort: 8080, protocol: 'UDP' as const },
  { name: 'line', port: 7000, targetPort: 7000 },
];
const LINE = 7000;
const SOURCES = 11;

/** Sequential picks rotate exactly through every endpoint: a permutation of `pods`, repeated. */
function assertRotation(seq: readonly string[], pods: readonly string[], what: string): void {
  const n = pods.length;
  assert.deepEqual([...seq.slice(0, n)].sort(), [...pods].sort(), `${what}: the first ${n} picks are every endpoint once: ${seq.join(' ')}`);
  seq.forEach((p, i) => { assert.equal(p, seq[i % n], `${what}: pick ${i} repeats pick ${i % n}: ${seq.join(' ')}`); });
}

/** The one pod each client source address sticks to over `per` sequential connections. */
async function stickiness(client: Agent, proto: 'tcp' | 'udp' | 'line', host: string, port: number, per: number, sources = SOURCES): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < sources; i++) {
    const localAddress = `192.168.77.${100 + i}`;
    const counts = tally(await client.batch(proto, host, port, per, { localAddress, concurrency: 1 }));
    const pods = Object.keys(counts);
    assert.equal(pods.length, 1, `${localAddress} → ${host}:${port}/${proto} sticks to one pod: ${JSON.stringify(counts)}`);
    out.push(pods[0] ?? '');
  }
  return out;
}

describe('userspace mode: reachability, balancing algorithms, session affinity', { skip: labSkip, concurrency: false }, () => {
  const s = useLab({ proxyArgs: [...USERSPACE_ARGS, '--userspace-algorithm', 'least-connections'] });

  /** Every hit answered; the pod saw node `via`'s address towards it; the reply came from the entry point. */
  async function assertProxied(hits: readonly Hit[], via: number, host: string, port: number, family: Family, what: string): Promise<void> {
    const { lab } = s;
    for (const h of hits) {
      const hit = ok(h, what);
      const expected = await sourceTowards(lab.node(via), lab.pod(hit.pod).ip(family));
      assert.equal(hit.clientIP, expected, `${what}: ${hit.pod} sees node-${via}'s address towards it`);
      // (For UDP, `from` is the reply datagram's source; agent-ops formats it host:port unbracketed.)
      assert.equal(hit.from, `${host}:${port}`, `${what}: the reply comes from the address the client sent to`);
    }
  }

  it('ClusterIP and NodePort, TCP and UDP, from pods, a node and the client: every pod reached; the pod sees the proxying node', async () => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'reach', 'round-robin', { type: 'NodePort', ports: PORTS }, lab.pods);
    const all = lab.pods.map((p) => p.name);
    const cases: { what: string; from: Agent; via: number; host: string; tcp: number; udp: number }[] = [
      { what: 'pod-1-a → ClusterIP', from: lab.pod('pod-1-a').agent, via: 1, host: svc.clusterIP(), tcp: 80, udp: 80 },
      { what: 'pod-2-b → ClusterIP', from: lab.pod('pod-2-b').agent, via: 2, host: svc.clusterIP(), tcp: 80, udp: 80 },
      { what: 'node-2 → ClusterIP', from: lab.node(2).agent, via: 2, host: svc.clusterIP(), tcp: 80, udp: 80 },
      { what: 'client → ClusterIP (routed to node-1)', from: lab.client, via: 1, host: svc.clusterIP(), tcp: 80, udp: 80 },
      ...[1, 2].map((n) => ({
        what: `client → node-${n} NodePort`, from: lab.client, via: n, host: lab.node(n).ip(), tcp: svc.nodePort('http', 'TCP'), udp: svc.nodePort('udp', 'UDP'),
      })),
    ];
    for (const c of cases) {
      for (const proto of ['tcp', 'udp'] as const) {
        const port = proto === 'tcp' ? c.tcp : c.udp;
        const hits = await c.from.batch(proto, c.host, port, 8, { concurrency: 1 });
        onlyFrom(hits, all);
        await assertProxied(hits, c.via, c.host, port, 'IPv4', `${c.what} ${proto}`);
      }
      // Not the client's own address: the proxy's connection is what reaches the pod.
      if (c.from === lab.client) for (const h of await c.from.batch('tcp', c.host, c.tcp, 4)) assert.notEqual(ok(h).clientIP, lab.clientIP(0));
    }

    const dual = await deployWithAlgorithm(lab, s.ns, 'reach-v6', 'round-robin', { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ports: PORTS }, lab.pods);
    for (const proto of ['tcp', 'udp'] as const) {
      const ip6 = dual.clusterIP('IPv6');
      const fromPod = await lab.pod('pod-1-b').agent.batch(proto, ip6, 80, 8, { concurrency: 1 });
      onlyFrom(fromPod, all);
      await assertProxied(fromPod, 1, ip6, 80, 'IPv6', `pod-1-b → IPv6 ClusterIP ${proto}`);
      const np = dual.nodePort(proto === 'tcp' ? 'http' : 'udp', proto === 'tcp' ? 'TCP' : 'UDP');
      const fromClient = await lab.client.batch(proto, lab.node(2).ip('IPv6'), np, 8, { concurrency: 1 });
      onlyFrom(fromClient, all);
      await assertProxied(fromClient, 2, lab.node(2).ip('IPv6'), np, 'IPv6', `client → node-2 IPv6 NodePort ${proto}`);
    }
  });

  it('round-robin (annotation): sequential connections and UDP flows rotate exactly over the endpoints', async () => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'rr', 'round-robin', { type: 'NodePort', ports: PORTS }, lab.pods);
    const all = lab.pods.map((p) => p.name);
    const cases = [
      { what: 'pod-2-a → ClusterIP', from: lab.pod('pod-2-a').agent, host: svc.clusterIP(), tcp: 80, udp: 80 },
      { what: 'client → node-1 NodePort', from: lab.client, host: lab.node(1).ip(), tcp: svc.nodePort('http', 'TCP'), udp: svc.nodePort('udp', 'UDP') },
    ];
    for (const c of cases) {
      for (const proto of ['tcp', 'udp'] as const) {
        const seq = (await c.from.batch(proto, c.host, proto === 'tcp' ? c.tcp : c.udp, 12, { concurrency: 1 })).map(outcome);
        assertRotation(seq, all, `${c.what} ${proto}`);
      }
    }
  });

  it('random (annotation): 600 connections pass the statistical balance check', async () => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'rand', 'random', { ports: PORTS }, lab.pods);
    assertBalanced(await lab.client.batch('tcp', svc.clusterIP(), 80, 600), lab.pods.map((p) => p.name));
  });

  /**
   * Holds 4 line connections to `busy` (the Service's only endpoint at first), then gives the
   * Service every pod; returns the held connections' ids (the caller closes them).
   */
  async function loadOnePod(svc: DeployedService, busy: string): Promise<number[]> {
    const { lab } = s;
    const held = await lab.client.hold(svc.clusterIP(), LINE, 4);
    for (const h of held) assert.equal(ok(h.hit, 'held connection').pod, busy);
    await lab.setEndpoints(svc, lab.pods);
    return held.map((h) => h.id);
  }

  it('least-connections (the --userspace-algorithm default): new connections avoid the endpoint holding long-lived ones; the annotation overrides it', async () => {
    const { lab } = s;
    const busy = lab.pod('pod-1-a');
    const idle = lab.pods.filter((p) => p !== busy).map((p) => p.name);
    const svc = await deployWithAlgorithm(lab, s.ns, 'lc', undefined, { ports: PORTS }, [busy]);
    const held = await loadOnePod(svc, busy.name);
    try {
      const counts = onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 30, { concurrency: 1 }), idle);
      assert.ok(Object.values(counts).every((c) => c >= 8), `idle endpoints share the new connections: ${JSON.stringify(counts)}`);
      for (const h of await lab.client.pingHeld(held)) assert.equal(ok(h, 'held connection').pod, busy.name, 'held connections stay where they are');
      // Round-robin by annotation ignores load: the busy pod is back in the rotation.
      await setAlgorithm(lab, svc, 'round-robin');
      assertRotation((await lab.client.batch('line', svc.clusterIP(), LINE, 8, { concurrency: 1 })).map(outcome), lab.pods.map((p) => p.name), 'round-robin by annotation');
      await setAlgorithm(lab, svc, null);
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 12, { concurrency: 1 }), idle);
    } finally {
      await lab.client.closeHeld(held);
    }
    // Its connections closed, the busy pod is one of the idle ones again.
    await sleep(100);
    onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 12, { concurrency: 1 }), lab.pods.map((p) => p.name));
  });

  it('power-of-two-choices (annotation): new connections prefer the idle endpoints', async () => {
    const { lab } = s;
    const busy = lab.pod('pod-2-b');
    const svc = await deployWithAlgorithm(lab, s.ns, 'p2c', 'power-of-two-choices', { ports: PORTS }, [busy]);
    const held = await loadOnePod(svc, busy.name);
    try {
      // Two distinct endpoints are drawn and the less loaded wins: the busy one never does.
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 45, { concurrency: 1 }), lab.pods.filter((p) => p !== busy).map((p) => p.name));
    } finally {
      await lab.client.closeHeld(held);
    }
  });

  it('source-hash (annotation): one pod per client IP over many connections, different IPs spread, the same choice on both nodes', async () => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'sh', 'source-hash', { type: 'NodePort', ports: PORTS }, lab.pods);
    const viaClusterIP = await stickiness(lab.client, 'tcp', svc.clusterIP(), 80, 8);
    assert.ok(new Set(viaClusterIP).size >= 2, `different client IPs land on different pods: ${viaClusterIP.join(' ')}`);
    // Rendezvous hashing depends only on the client IP and the endpoints ("ip:port"): node-2
    // picks what node-1 picked, and so does the UDP port (same target port, same keys).
    assert.deepEqual(await stickiness(lab.client, 'tcp', lab.node(2).ip(), svc.nodePort('http', 'TCP'), 3), viaClusterIP, 'NodePort on node-2');
    assert.deepEqual(await stickiness(lab.client, 'udp', svc.clusterIP(), 80, 3), viaClusterIP, 'UDP flows');
    const pod = lab.pod('pod-2-a');
    assert.equal(Object.keys(tally(await pod.agent.batch('tcp', svc.clusterIP(), 80, 20))).length, 1, 'a pod client sticks too');
  });

  it('sessionAffinity ClientIP sticks with round-robin and least-connections and expires after timeoutSeconds', async () => {
    const { lab } = s;
    const affinity = { sessionAffinity: 'ClientIP' as const, sessionAffinityConfig: { clientIP: { timeoutSeconds: 3 } } };
    const rr = await deployWithAlgorithm(lab, s.ns, 'aff-rr', 'round-robin', { ...affinity, ports: PORTS }, lab.pods);
    const lc = await deployWithAlgorithm(lab, s.ns, 'aff-lc', 'least-connections', { ...affinity, ports: PORTS }, lab.pods);
    const src = (i: number): string => lab.clientIP(i);
    const sticky = async (svc: DeployedService, proto: 'tcp' | 'line', i: number, n: number): Promise<string> => {
      const counts = tally(await lab.client.batch(proto, svc.clusterIP(), proto === 'tcp' ? 80 : LINE, n, { localAddress: src(i), concurrency: 1 }));
      assert.equal(Object.keys(counts).length, 1, `${src(i)} → ${svc.name} sticks: ${JSON.stringify(counts)}`);
      return Object.keys(counts)[0] ?? '';
    };

    // Round-robin: each new client takes the next endpoint, then keeps it (without affinity
    // every connection would move on).
    const rrFirst: string[] = [];
    for (let i = 0; i < 4; i++) rrFirst.push(ok(await lab.client.tcp(rr.clusterIP(), 80, { localAddress: src(i) })).pod);
    assert.equal(new Set(rrFirst).size, 4, `four new clients, four endpoints in turn: ${rrFirst.join(' ')}`);
    for (let i = 0; i < 4; i++) assert.equal(await sticky(rr, 'tcp', i, 5), rrFirst[i]);

    // Least-connections: client 0's three long-lived connections all go to one endpoint
    // (affinity beats load); client 1 is sent elsewhere (least loaded), then sticks.
    const held = await lab.client.hold(lc.clusterIP(), LINE, 3, { localAddress: src(0) });
    try {
      const x = ok(held[0]?.hit ?? assert.fail('no held connection')).pod;
      for (const h of held) assert.equal(ok(h.hit).pod, x, 'every connection of client 0 on one endpoint');
      const y = await sticky(lc, 'line', 1, 5);
      assert.notEqual(y, x, 'a new client goes to a less loaded endpoint');

      await sleep(3500);
      // Round-robin: expired. A new client takes the next in turn — client 0's old endpoint —
      // and client 0, balanced afresh, the one after.
      assert.equal(ok(await lab.client.tcp(rr.clusterIP(), 80, { localAddress: src(4) })).pod, rrFirst[0]);
      assert.equal(await sticky(rr, 'tcp', 0, 3), rrFirst[1], 'client 0 moved after the timeout, and sticks again');
      // Least-connections: client 0's entry expired too, and its own three connections now
      // keep its new connections away from x.
      const again = await sticky(lc, 'line', 0, 3);
      assert.notEqual(again, x, 'client 0 balanced afresh after the timeout');
    } finally {
      await lab.client.closeHeld(held.map((h) => h.id));
    }
  });
});
