// Upstream e2e "SCTP" cases through the lab: a ClusterIP and a NodePort with protocol SCTP.
// This kernel may lack SCTP sockets (CONFIG_IP_SCTP) while its conntrack and NAT handle SCTP,
// which is all kube-proxy relies on; the lab then exchanges INIT / INIT-ACK over raw sockets
// (test/lab/sctp.py) with valid checksums, so conntrack tracks and NAT rewrites real SCTP.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { probeSctp, sctpHits, startSctpServer, type SctpSupport } from '../lab/sctp.ts';
import { labSkip, ok, onlyFrom, useLab } from '../lab/suite.ts';

describe('SCTP services', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  let support: SctpSupport | undefined;
  const sctp = [{ name: 'sctp', port: 5060, targetPort: 7777, protocol: 'SCTP' as const }];

  before(async () => {
    support = await probeSctp(s.lab.network.client);
    if (!support.usable) return;
    for (const pod of s.lab.pods) await startSctpServer(support, pod.ns, pod.name, 7777);
  });

  it('SCTP ClusterIP: associations reach every endpoint, source address preserved', async (t) => {
    if (!support?.usable) {
      t.skip(`SCTP untestable here: ${support?.reason ?? 'not probed'}`);
      return;
    }
    t.diagnostic(`SCTP: ${support.reason}`);
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'sctp', { ports: sctp }, lab.pods);
    const client = lab.pod('pod-1-a');
    const hits = await sctpHits(support, client.ns, svc.clusterIP(), 5060, 40);
    // Every endpoint, the client pod itself included (hairpin, masqueraded).
    onlyFrom(hits, lab.pods.map((p) => p.name));
    for (const h of hits) {
      const hit = ok(h, 'SCTP association');
      assert.equal(hit.from, `${svc.clusterIP()}:5060`, 'the INIT-ACK comes back from the service address');
      assert.equal(hit.served, 'sctp/7777');
      if (hit.pod !== 'pod-1-a') assert.equal(hit.clientIP, client.ip(), 'pod source address preserved');
    }
  });

  it('SCTP NodePort from outside the node; without endpoints no association', async (t) => {
    if (!support?.usable) {
      t.skip(`SCTP untestable here: ${support?.reason ?? 'not probed'}`);
      return;
    }
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'sctp-np', { type: 'NodePort', ports: sctp }, lab.podsOn(2));
    const hits = await sctpHits(support, lab.network.client, lab.node(1).ip(), svc.nodePort(), 20);
    onlyFrom(hits, lab.podsOn(2).map((p) => p.name));
    await lab.setEndpoints(svc, []);
    const none = await sctpHits(support, lab.network.client, lab.node(1).ip(), svc.nodePort(), 1, 1000);
    assert.equal(none[0]?.ok, false, 'no endpoints: rejected');
  });
});
