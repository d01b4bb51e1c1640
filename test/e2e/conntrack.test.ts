// Upstream e2e (test/e2e/network/conntrack.go) through the lab: a UDP client keeps sending
// from one source port (one conntrack flow) while its server pod "cycles" (leaves the
// EndpointSlice, a new pod joins). The old pod keeps answering if it is reached, so a stale
// conntrack entry shows up as replies from the old pod; kube-proxy-ts must delete it so the
// flow moves to the new pod. Also: a flow started while the Service had no ready endpoint.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '../lab/agent-client.ts';
import type { StreamReport } from '../lab/agent-protocol.ts';
import { eventually, labSkip, sleep, useLab } from '../lab/suite.ts';

const udp = [{ name: 'udp', port: 80, targetPort: 5353, protocol: 'UDP' as const }];

/** Waits until the stream's latest replies come from `pod`; returns the report at that point. */
async function latestFrom(stream: { peek(): Promise<StreamReport> }, pod: string, timeoutMs = 8000): Promise<StreamReport> {
  return eventually(async () => {
    const r = await stream.peek();
    const last = r.replies.slice(-3);
    assert.ok(last.length === 3 && last.every((x) => x.pod === pod), `latest replies ${JSON.stringify(last)} (want ${pod})`);
    return r;
  }, timeoutMs, 100);
}

/** Streams from `client` while `swap` moves the service from pod-2-a to pod-2-b. */
async function cycle(client: Agent, host: string, port: number, swap: () => Promise<void>): Promise<void> {
  const stream = await client.udpStream(host, port, 50, { localPort: 40_000 + Math.floor(Math.random() * 10_000) });
  try {
    const before = await latestFrom(stream, 'pod-2-a');
    assert.ok(before.replies.every((r) => r.from.endsWith(`:${port}`)), 'replies come back from the service address');
    const switchedAt = before.replies.length;
    await swap();
    const after = await latestFrom(stream, 'pod-2-b');
    await sleep(300);
    const tail = (await stream.peek()).replies.slice(after.replies.length);
    assert.ok(tail.length > 0 && tail.every((r) => r.pod === 'pod-2-b'), `once moved the flow stays on the new pod: ${JSON.stringify(tail)}`);
    const stale = after.replies.slice(switchedAt).filter((r) => r.pod === 'pod-2-a').length;
    // A few replies from the old pod may be in flight while the slice changes; not seconds of them.
    assert.ok(stale < 40, `${stale} replies from the old pod after the switch`);
  } finally {
    await stream.stop();
  }
}

describe('conntrack: UDP flows follow endpoint changes', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();

  it('UDP through a ClusterIP is preserved when the server pod cycles', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'udp-cip', { ports: udp }, [lab.pod('pod-2-a')]);
    await cycle(lab.pod('pod-1-a').agent, svc.clusterIP(), 80, () => lab.setEndpoints(svc, [lab.pod('pod-2-b')]));
    const ct = await lab.node(1).ns.run('conntrack', ['-L', '-p', 'udp', '--orig-dst', svc.clusterIP()]).catch(() => '');
    assert.doesNotMatch(ct, new RegExp(`src=${lab.pod('pod-2-a').ip().replaceAll('.', '\\.')} `), 'no conntrack entry left pointing at the old pod');
  });

  it('UDP through a NodePort is preserved when the server pod cycles', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'udp-np', { type: 'NodePort', ports: udp }, [lab.pod('pod-2-a')]);
    await cycle(lab.client, lab.node(1).ip(), svc.nodePort(), () => lab.setEndpoints(svc, [lab.pod('pod-2-b')]));
  });

  it('UDP sent while the only endpoint was unready is served once it becomes ready', async () => {
    const { lab } = s;
    const pod = lab.pod('pod-2-a');
    const svc = await lab.deploy(s.ns, 'udp-unready', { ports: udp }, [{ pod, ready: false, serving: false }]);
    const stream = await lab.pod('pod-1-b').agent.udpStream(svc.clusterIP(), 80, 50, { localPort: 39_999 });
    try {
      await sleep(500);
      assert.equal((await stream.peek()).replies.length, 0, 'no endpoint: no replies');
      await lab.setEndpoints(svc, [pod]);
      await latestFrom(stream, 'pod-2-a', 5000);
    } finally {
      await stream.stop();
    }
  });
});
