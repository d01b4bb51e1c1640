// Upstream e2e through the lab: sessionAffinity ClientIP on a ClusterIP and on a NodePort, its
// timeout, and switching it on and off. The client namespace has 11 source addresses
// (192.168.77.100–110): affinity is per client IP, so each address is an independent client.
//
// Chance statements (4 endpoints, uniform choice): 11 fresh choices all equal to the previous
// ones: 4^-11 ≈ 2.4e-7; 20 connections without affinity all to one pod: 4^-19. Both under the
// one-in-a-million budget.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '../lab/agent-client.ts';
import { labSkip, ok, sleep, tally, useLab } from '../lab/suite.ts';

const SOURCES = 11;

/** The one pod each client address sticks to (asserting it sticks over `perSource` connections). */
async function stickiness(client: Agent, host: string, port: number, perSource: number, sources = SOURCES): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < sources; i++) {
    const localAddress = `192.168.77.${100 + i}`;
    const counts = tally(await client.batch('tcp', host, port, perSource, { localAddress, concurrency: 1 }));
    const pods = Object.keys(counts);
    assert.equal(pods.length, 1, `${localAddress} → ${host}:${port} sticks to one pod: ${JSON.stringify(counts)}`);
    out.push(pods[0] ?? '');
  }
  return out;
}

describe('session affinity', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }];

  it('ClusterIP with ClientIP affinity: every connection of a client goes to one endpoint', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'sticky', { sessionAffinity: 'ClientIP', ports: http }, lab.pods);
    for (const pod of [lab.pod('pod-1-a'), lab.pod('pod-2-b')]) {
      const counts = tally(await pod.agent.batch('tcp', svc.clusterIP(), 80, 30, { concurrency: 1 }));
      assert.equal(Object.keys(counts).length, 1, `${pod.name} sticks: ${JSON.stringify(counts)}`);
    }
    // Off-cluster clients (ClusterIP routed to node-1): one pod per client, not one for all.
    const chosen = await stickiness(lab.client, svc.clusterIP(), 80, 5);
    assert.ok(new Set(chosen).size > 1, `different clients land on different pods: ${chosen.join(' ')}`);
  });

  it('NodePort with ClientIP affinity: sticky per client, and the same endpoint as through the ClusterIP', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'sticky-np', { type: 'NodePort', sessionAffinity: 'ClientIP', ports: http }, lab.pods);
    const viaNodePort = await stickiness(lab.client, lab.node(1).ip(), svc.nodePort(), 5);
    assert.ok(new Set(viaNodePort).size > 1, `different clients land on different pods: ${viaNodePort.join(' ')}`);
    // One affinity record per client per service port, whatever the entry point (upstream).
    const viaClusterIP = await stickiness(lab.client, svc.clusterIP(), 80, 3);
    assert.deepEqual(viaClusterIP, viaNodePort);
  });

  it('affinity timeout: sticky within timeoutSeconds, chosen afresh after it expires (ClusterIP and NodePort)', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'sticky-2s', {
      type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 2 } }, ports: http,
    }, lab.pods);
    const sets = await lab.nft(1, ['list', 'sets', 'ip']);
    assert.match(sets, /set affinity-[^\n]*sticky-2s[\s\S]*?timeout 2s/, 'per-endpoint affinity sets with a 2 s timeout');
    const clusterIP = [svc.clusterIP(), 80] as const;
    const nodePort = [lab.node(1).ip(), svc.nodePort()] as const;
    const before = await stickiness(lab.client, ...clusterIP, 3);
    assert.deepEqual(await stickiness(lab.client, ...nodePort, 2), before, 'within the timeout: sticky on both entry points');
    await sleep(2600);
    const after = await stickiness(lab.client, ...nodePort, 2);
    const moved = before.filter((p, i) => p !== after[i]).length;
    assert.ok(moved > 0, `after the timeout some client moved (before ${before.join(' ')}, after ${after.join(' ')})`);
    assert.deepEqual(await stickiness(lab.client, ...clusterIP, 2), after, 'and sticks to its new endpoint');
  });

  it('switching affinity on and off takes effect for new connections', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'switch', { ports: http }, lab.pods);
    const client = lab.pod('pod-1-a').agent;
    const spread = async (): Promise<number> => Object.keys(tally(await client.batch('tcp', svc.clusterIP(), 80, 20, { concurrency: 1 }))).length;
    assert.ok(await spread() > 1, 'no affinity: connections spread');
    await lab.api.patch('Service', s.ns, 'switch', { spec: { sessionAffinity: 'ClientIP' } });
    await lab.settle();
    assert.equal(await spread(), 1, 'affinity on: one pod');
    await lab.api.patch('Service', s.ns, 'switch', { spec: { sessionAffinity: 'None', sessionAffinityConfig: null } });
    await lab.settle();
    assert.ok(await spread() > 1, 'affinity off again: connections spread');
    ok(await client.tcp(svc.clusterIP(), 80));
  });
});
