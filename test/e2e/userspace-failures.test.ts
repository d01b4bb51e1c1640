// Issue 5 §3 through the lab, with every node's kube-proxy-ts in userspace mode: an endpoint
// killed mid-stream, drain of a terminating endpoint, and kube-proxy-ts restarted under load.
//
// "Killed": the pod's line server stops — its connections are reset and its port refuses, as
// when the server process crashes — while its EndpointSlice still says ready (no controller
// has noticed yet), so only passive health can keep new connections away from it.
//
// Restarts: in userspace mode the connections live in the kube-proxy-ts process, so they end
// with it, and its listeners with them. The nftables redirects stay; the new process reads them
// back and listens on the same ports, and until it does the kernel drops (not refuses) a new
// connection's SYN to a port nobody listens on, so the client retransmits it and the new
// process answers. What is asserted: no new connection refused or lost across the restart (only
// the few in flight in the old process at the SIGTERM are reset), each held at most about the
// down time plus one SYN retransmission; the listener ports unchanged; a UDP flow that keeps its
// source port answered again; the other node unaffected. The numbers are printed as test
// diagnostics.
//
// With serving threads (--userspace-threads 2): SIGTERM ends the process promptly even while it
// forwards connections: held ones, ones to a killed endpoint, to a terminating endpoint, and
// ones still draining from a Service deleted earlier (these once kept it alive for ever).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Agent } from '../lab/agent-client.ts';
import type { LoadReport } from '../lab/agent-protocol.ts';
import { eventually, fails, labSkip, ok, onlyFrom, sleep, tally, useLab } from '../lab/suite.ts';
import { connectFailures, deployWithAlgorithm, USERSPACE_ARGS } from '../lab/userspace.ts';

const PORTS = [
  { name: 'http', port: 80, targetPort: 8080 },
  { name: 'udp', port: 80, targetPort: 8080, protocol: 'UDP' as const },
  { name: 'line', port: 7000, targetPort: 7000 },
];
const LINE = 7000;

/** A load of new TCP connections every 10 ms, and when (on this process's clock) it started. */
async function startLoad(from: Agent, host: string, port: number, timeoutMs = 3000): Promise<{ stop(): Promise<LoadReport>; before: number; after: number }> {
  const before = performance.now();
  const load = await from.load('tcp', host, port, 10, { timeoutMs });
  return { stop: () => load.stop(), before, after: performance.now() };
}

function summary(r: LoadReport): string {
  const span = r.firstFailureAtMs === null ? '' : ` between ${r.firstFailureAtMs} and ${r.lastFailureAtMs ?? r.firstFailureAtMs} ms`;
  return `${r.failed}/${r.total} failed${span} ${JSON.stringify(r.errors)}, ${r.delayedOk} delayed ≥ 500 ms, slowest success ${r.slowestOkMs} ms`;
}

/** Redirect map elements ("172.30.0.1 . tcp . 80 : 41234") of a node's userspace table. */
async function redirects(lab: { nft(n: number, args: readonly string[]): Promise<string> }, n: number): Promise<string[]> {
  const out = await Promise.all(['service-ips', 'service-nodeports'].map((m) => lab.nft(n, ['list', 'map', 'ip', 'kube-proxy-userspace', m])));
  return out.flatMap((text) => [...text.matchAll(/[\w.:]+(?: \. [\w.:]+)+ : \d+/g)].map((m) => m[0])).sort();
}

describe('userspace mode: endpoint failure, drain, restart', { skip: labSkip, concurrency: false }, () => {
  const s = useLab({ proxyArgs: USERSPACE_ARGS });

  it('an endpoint killed mid-stream breaks only its own connections; new ones avoid it (passive health) before its EndpointSlice changes', async () => {
    const { lab } = s;
    const [victim, survivor] = [lab.pod('pod-1-a'), lab.pod('pod-2-a')];
    const svc = await deployWithAlgorithm(lab, s.ns, 'kill', 'round-robin', { ports: PORTS }, [victim, survivor]);
    const held = await lab.client.hold(svc.clusterIP(), LINE, 6);
    const on = (pod: string): number[] => held.filter((h) => ok(h.hit, 'held connection').pod === pod).map((h) => h.id);
    const [mine, theirs] = [on(victim.name), on(survivor.name)];
    assert.deepEqual([mine.length, theirs.length], [3, 3], 'round-robin spread the long-lived connections 3 + 3');
    const servicePort = `${s.ns}/kill:line/TCP`;
    const endpoint = `${victim.ip()}:${LINE}`;
    const node = lab.node(1);
    try {
      await victim.agent.serve('line', LINE, false);
      await sleep(100);
      for (const h of await lab.client.pingHeld(mine)) fails(h, /ECONNRESET|EOF/, 'a connection to the killed endpoint');
      for (const h of await lab.client.pingHeld(theirs)) assert.equal(ok(h, 'a connection to the other endpoint').pod, survivor.name);

      // The slice still lists the victim as ready. A failed connect puts it in backoff (1 s,
      // then 2 s, …) and the connection is retried on the other endpoint: clients see no error.
      const before = await connectFailures(node, servicePort, endpoint);
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 30, { concurrency: 1 }), [survivor.name]);
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 30, { concurrency: 4 }), [survivor.name]);
      const failed = await connectFailures(node, servicePort, endpoint) - before;
      assert.ok(failed >= 1 && failed <= 3, `60 new connections cost ${failed} connect attempts to the dead endpoint (backoff keeps it out)`);
      for (const h of await lab.client.pingHeld(theirs)) assert.equal(ok(h, 'still').pod, survivor.name);

      // Back up: after its backoff, one successful connect puts it back in rotation.
      await victim.agent.serve('line', LINE, true);
      await eventually(async () => {
        const counts = tally(await lab.client.batch('line', svc.clusterIP(), LINE, 4, { concurrency: 1 }));
        assert.ok((counts[victim.name] ?? 0) > 0, `the restarted endpoint gets traffic again: ${JSON.stringify(counts)}`);
      }, 10_000, 250);
    } finally {
      await victim.agent.serve('line', LINE, true);
      await lab.client.closeHeld(held.map((h) => h.id));
    }
  });

  it('drain: connections (TCP, and a UDP flow) to terminating endpoints keep working while new ones go to ready endpoints; only terminating left: new ones use them', async () => {
    const { lab } = s;
    const pods = [lab.pod('pod-1-a'), lab.pod('pod-2-a'), lab.pod('pod-2-b')];
    const svc = await deployWithAlgorithm(lab, s.ns, 'drain', 'round-robin', { ports: PORTS }, pods);
    const held = await lab.client.hold(svc.clusterIP(), LINE, 3);
    const heldOn = held.map((h) => ok(h.hit, 'held connection').pod);
    assert.deepEqual([...heldOn].sort(), pods.map((p) => p.name).sort(), 'one long-lived connection per pod');
    const stream = await lab.client.udpStream(svc.clusterIP(), 80, 50, { localPort: 40_123 });
    try {
      const first = await eventually(async () => (await stream.peek()).replies[0] ?? assert.fail('no UDP reply yet'), 3000, 50);
      // pod-1-a and the UDP flow's pod start terminating (ready false, serving true).
      const terminating = new Set(['pod-1-a', first.pod]);
      const ready = pods.filter((p) => !terminating.has(p.name)).map((p) => p.name);
      await lab.setEndpoints(svc, pods.map((p) => (terminating.has(p.name) ? { pod: p, ready: false, serving: true, terminating: true } : p)));
      const replied = (await stream.peek()).replies.length;

      (await lab.client.pingHeld(held.map((h) => h.id))).forEach((h, i) => {
        assert.equal(ok(h, 'a held connection after the change').pod, heldOn[i], 'established connections stay on their endpoint');
      });
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 12, { concurrency: 1 }), ready);
      onlyFrom(await lab.client.batch('tcp', svc.clusterIP(), 80, 12), ready);
      onlyFrom(await lab.client.batch('udp', svc.clusterIP(), 80, 12), ready);
      await sleep(300);
      const later = (await stream.peek()).replies.slice(replied);
      assert.ok(later.length >= 3, `the UDP flow is still answered (${later.length} replies since)`);
      for (const r of later) assert.equal(r.pod, first.pod, 'the UDP flow stays on its terminating endpoint');

      // Only a terminating, still serving endpoint left: new connections fall back to it (upstream).
      const last = { pod: lab.pod('pod-1-a'), ready: false, serving: true, terminating: true };
      await lab.setEndpoints(svc, [last]);
      onlyFrom(await lab.client.batch('line', svc.clusterIP(), LINE, 6, { concurrency: 1 }), ['pod-1-a']);
      onlyFrom(await lab.client.batch('tcp', svc.clusterIP(), 80, 6), ['pod-1-a']);
      // Not serving either: no endpoint for new connections (accepted, then reset) — the
      // established one still runs.
      await lab.setEndpoints(svc, [{ ...last, serving: false }]);
      fails(await lab.client.tcp(svc.clusterIP(), 80, { timeoutMs: 2000 }), /ECONNRESET|ECONNREFUSED/, 'no serving endpoint');
      const stillUp = held.findIndex((_, i) => heldOn[i] === 'pod-1-a');
      const [h] = await lab.client.pingHeld([held[stillUp]?.id ?? assert.fail('no held connection to pod-1-a')]);
      assert.equal(ok(h ?? assert.fail('no answer'), 'the connection to the not-serving endpoint').pod, 'pod-1-a');
    } finally {
      await stream.stop();
      await lab.client.closeHeld(held.map((h) => h.id));
    }
  });

  it('restart under load (SIGTERM, start): no new connection is refused — those arriving while no kube-proxy-ts serves are held (SYN dropped, retransmitted) until the new process serves on the same listener ports; its own connections break; the other node is unaffected', async (t) => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'restart', 'round-robin', { type: 'NodePort', ports: PORTS }, lab.pods);
    const node = lab.node(1);
    const ports = await redirects(lab, 1);
    const viaNode1 = await lab.client.hold(svc.clusterIP(), LINE, 2);
    const viaNode2 = await lab.client.hold(lab.node(2).ip(), svc.nodePort('line', 'TCP'), 2);
    // A held connection waits for SYN retransmissions (1 s apart on Linux ≥ 6.7, else 1 s, 3 s, 7 s …).
    const restarted = [
      { what: 'client → node-1 NodePort', load: await startLoad(lab.client, node.ip(), svc.nodePort('http', 'TCP'), 8000) },
      { what: 'pod-1-b → ClusterIP (node-1)', load: await startLoad(lab.pod('pod-1-b').agent, svc.clusterIP(), 80, 8000) },
    ];
    const control = await startLoad(lab.client, lab.node(2).ip(), svc.nodePort('http', 'TCP'));
    let stopAt = 0;
    let servingAt: number;
    const reports: LoadReport[] = [];
    try {
      await sleep(500);
      stopAt = performance.now();
      assert.equal(await node.proxy.stop('SIGTERM'), 0, 'clean exit on SIGTERM');
      await node.proxy.start(); // resolves once the new process has finished its first full sync
      servingAt = performance.now();
      await sleep(700);
    } finally {
      for (const r of restarted) reports.push(await r.load.stop());
      reports.push(await control.stop());
    }
    const downMs = Math.round(servingAt - stopAt);
    t.diagnostic(`node-1 without a serving kube-proxy-ts for ${downMs} ms (SIGTERM → first full sync of the new process)`);
    assert.deepEqual(await redirects(lab, 1), ports, 'the new process listens on the same ports: the redirects did not change');
    const margin = 250;
    restarted.forEach(({ what, load }, i) => {
      const r = reports[i] ?? assert.fail('no report');
      t.diagnostic(`${what}: ${summary(r)}`);
      assert.ok(r.total > 100, `${what}: enough connections (${r.total})`);
      // Only connections the old process had already accepted when it got the SIGTERM break
      // (reset): none refused, none timed out, none later.
      assert.ok(r.failed <= 3, `${what}: at most the few connections in flight at the SIGTERM fail (${summary(r)})`);
      for (const f of r.failures) {
        assert.equal(f.error, 'ECONNRESET', `${what}: ${summary(r)}`);
        const at = load.after + f.atMs;
        assert.ok(at >= stopAt - margin && at <= stopAt + margin, `${what}: a failure ${Math.round(at - stopAt)} ms after the SIGTERM (${summary(r)})`);
      }
      assert.ok(r.delayedOk > 0, `${what}: connections opened during the restart were held, not refused (${summary(r)})`);
      // A SYN dropped while nobody listened is answered at its first retransmission after the
      // new process serves: within the down time and the longest retransmission gap (2 s at
      // the second retransmission without linear SYN timeouts).
      assert.ok(r.slowestOkMs <= downMs + 2000 + margin, `${what}: held no longer than the restart and one retransmission (${summary(r)}, down ${downMs} ms)`);
    });
    const c = reports[2] ?? assert.fail('no report');
    t.diagnostic(`client → node-2 NodePort (control): ${summary(c)}`);
    assert.equal(c.failed, 0, `node-2 is unaffected: ${summary(c)}`);

    for (const h of await lab.client.pingHeld(viaNode1.map((x) => x.id))) fails(h, /ECONNRESET|EOF/, 'a connection through the restarted process');
    for (const [i, h] of (await lab.client.pingHeld(viaNode2.map((x) => x.id))).entries()) {
      assert.equal(ok(h, 'a connection through node-2').pod, ok(viaNode2[i]?.hit ?? assert.fail()).pod);
    }
    await lab.client.closeHeld();
    onlyFrom(await lab.client.batch('tcp', node.ip(), svc.nodePort('http', 'TCP'), 8, { concurrency: 1 }), lab.pods.map((p) => p.name));
  });

  it('restart: new UDP flows work at once after a restart, and a flow that keeps its source port is answered again (same listener port: its conntrack redirect stays valid)', async (t) => {
    const { lab } = s;
    const svc = await deployWithAlgorithm(lab, s.ns, 'udp-restart', 'round-robin', { ports: PORTS }, lab.pods);
    const stream = await lab.client.udpStream(svc.clusterIP(), 80, 50, { localPort: 40_321 });
    let resumed: { atMs: number; pod: string; from: string }[];
    try {
      await eventually(async () => { assert.ok((await stream.peek()).replies.length > 0); }, 3000, 50);
      await lab.node(1).proxy.restart('SIGTERM');
      const n = (await stream.peek()).replies.length;
      onlyFrom(await lab.client.batch('udp', svc.clusterIP(), 80, 8, { concurrency: 1 }), lab.pods.map((p) => p.name));
      await sleep(1000);
      resumed = (await stream.peek()).replies.slice(n);
    } finally {
      await stream.stop();
    }
    t.diagnostic(`the fixed-source-port flow: ${resumed.length} replies in the ~1.1 s after the new process's first sync`);
    assert.ok(resumed.length >= 10, `the flow is answered again (${resumed.length} replies in ~1 s at one datagram per 50 ms)`);
    for (const r of resumed) {
      assert.equal(r.from, `${svc.clusterIP()}:80`, 'replies come from the service address');
      assert.ok(lab.pods.some((p) => p.name === r.pod), `a reply from a pod (${r.pod})`);
    }
  });
});

describe('userspace mode with serving threads: SIGTERM', { skip: labSkip, concurrency: false }, () => {
  const s = useLab({ proxyArgs: [...USERSPACE_ARGS, '--userspace-threads', '2'] });

  it('exits promptly (code 0) while forwarding held connections, connections to a killed and to a terminating endpoint, and connections draining from a deleted Service', async (t) => {
    const { lab } = s;
    const [victim, other] = [lab.pod('pod-1-a'), lab.pod('pod-2-a')];
    const kept = await deployWithAlgorithm(lab, s.ns, 'kept', 'round-robin', { ports: PORTS }, [victim, other]);
    const deleted = await deployWithAlgorithm(lab, s.ns, 'deleted', 'round-robin', { ports: PORTS }, lab.pods);
    const node = lab.node(1);
    const held = [...await lab.client.hold(kept.clusterIP(), LINE, 8), ...await lab.client.hold(deleted.clusterIP(), LINE, 8)];
    for (const h of held) ok(h.hit, 'held connection');
    try {
      // Killed: its connections are reset, new ones go elsewhere (passive health).
      await victim.agent.serve('line', LINE, false);
      onlyFrom(await lab.client.batch('line', kept.clusterIP(), LINE, 8, { concurrency: 2 }), [other.name]);
      await victim.agent.serve('line', LINE, true);
      // Terminating: established connections stay.
      await lab.setEndpoints(kept, [{ pod: other, ready: false, serving: true, terminating: true }, victim]);
      // Deleted: its listeners close on both threads, its connections drain.
      await lab.api.delete('Service', s.ns, 'deleted');
      await lab.settle();
      const alive = (await lab.client.pingHeld(held.slice(8).map((h) => h.id))).filter((h) => h.ok).length;
      assert.ok(alive > 0, 'connections of the deleted Service still drain');

      const t0 = performance.now();
      const exited = await Promise.race([node.proxy.stop('SIGTERM'), sleep(5000).then(() => 'still running after 5 s')]);
      const ms = Math.round(performance.now() - t0);
      t.diagnostic(`node-1 exited ${String(exited)} ${ms} ms after SIGTERM, ${alive} draining connections of a deleted Service`);
      assert.equal(exited, 0, 'clean exit on SIGTERM within 5 s');
    } finally {
      await victim.agent.serve('line', LINE, true);
      await lab.client.closeHeld(held.map((h) => h.id));
      if (!node.proxy.running) await node.proxy.start();
    }
  });
});
