// Upstream e2e "restart kube-proxy" and "restart the API server", stricter: kube-proxy-ts is
// stopped (SIGTERM, then SIGKILL) and started again on a node while new connections flow
// through that node every 10 ms, and not one may fail; the API server is stopped, changes
// are made to its store meanwhile, and every node converges once it is back.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadReport } from '../lab/agent-protocol.ts';
import { endpointSlice, service } from '../lab/objects.ts';
import { eventually, labSkip, ok, onlyFrom, sleep, useLab } from '../lab/suite.ts';
import { slicesFor } from '../lab/workloads.ts';

function assertNoFailures(r: LoadReport, what: string): void {
  assert.ok(r.total > 100, `${what}: enough connections were made (${r.total})`);
  assert.equal(r.failed, 0, `${what}: ${r.failed} of ${r.total} connections failed: ${JSON.stringify(r.failures.slice(0, 10))}`);
}

describe('restarts', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }];

  it('kube-proxy-ts restart (SIGTERM and SIGKILL) under continuous load: zero failed connections', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'steady', { type: 'NodePort', ports: http }, [lab.pod('pod-1-a'), lab.pod('pod-2-a')]);
    const node = lab.node(1);
    const external = await lab.client.load('tcp', node.ip(), svc.nodePort(), 10, { timeoutMs: 3000 });
    const internal = await lab.pod('pod-1-b').agent.load('tcp', svc.clusterIP(), 80, 10, { timeoutMs: 3000 });
    try {
      await sleep(500);
      assert.equal(await node.proxy.stop('SIGTERM'), 0, 'clean exit on SIGTERM');
      await sleep(300);
      await node.proxy.start();
      await sleep(300);
      assert.notEqual(await node.proxy.stop('SIGKILL'), 0);
      // A change while node-1's proxy is down: it must catch up when it comes back.
      await lab.api.apply(slicesFor(svc, [lab.pod('pod-1-a'), lab.pod('pod-2-a'), lab.pod('pod-2-b')])[0] ?? assert.fail());
      await sleep(300);
      await node.proxy.start();
      await lab.settle();
      await sleep(300);
    } finally {
      const [e, i] = [await external.stop(), await internal.stop()];
      assertNoFailures(e, 'client → NodePort on the restarted node');
      assertNoFailures(i, 'pod on the restarted node → ClusterIP');
    }
    onlyFrom(await lab.client.batch('tcp', node.ip(), svc.nodePort(), 60), ['pod-1-a', 'pod-2-a', 'pod-2-b']);
    assert.equal(node.proxy.starts, 3);
  });

  it('endpoint churn under continuous load: zero failed connections while endpoints come and go', async () => {
    const { lab } = s;
    const [a, b, c, d] = [lab.pod('pod-1-a'), lab.pod('pod-1-b'), lab.pod('pod-2-a'), lab.pod('pod-2-b')];
    const svc = await lab.deploy(s.ns, 'churn', { type: 'NodePort', ports: http }, [a, c]);
    const loads = [
      await lab.client.load('tcp', lab.node(2).ip(), svc.nodePort(), 10, { timeoutMs: 3000 }),
      await lab.pod('pod-1-b').agent.load('tcp', svc.clusterIP(), 80, 10, { timeoutMs: 3000 }),
    ];
    const reports: LoadReport[] = [];
    try {
      // Removed pods keep running (as a terminating pod drains): only new connections move.
      for (const set of [[a, b, c], [b, c], [b, c, d], [d], [a, d], [a, b, c, d], [c]]) {
        await lab.setEndpoints(svc, set);
        await sleep(100);
      }
    } finally {
      for (const l of loads) reports.push(await l.stop());
    }
    for (const r of reports) assertNoFailures(r, 'connections during endpoint churn');
    const [external] = reports;
    assert.ok(Object.keys(external?.pods ?? {}).length === 4, `every pod served at some point: ${JSON.stringify(external?.pods)}`);
    onlyFrom(await lab.client.batch('tcp', lab.node(1).ip(), svc.nodePort(), 20), ['pod-2-a']);
  });

  it('API server restarted with changes made meanwhile: every node converges, traffic never stops', async () => {
    const { lab } = s;
    const a = await lab.deploy(s.ns, 'a', { ports: http }, [lab.pod('pod-2-a')]);
    const b = await lab.deploy(s.ns, 'b', { ports: http }, [lab.pod('pod-1-a')]);
    const client = lab.pod('pod-2-b').agent;
    ok(await client.tcp(a.clusterIP(), 80));
    const steady = await lab.pod('pod-1-b').agent.load('tcp', b.clusterIP(), 80, 10, { timeoutMs: 3000 });
    let cIP = '';
    try {
      await lab.restartControlPlane(async (api) => {
        await api.delete('Service', s.ns, 'a');
        await api.delete('EndpointSlice', s.ns, 'a-v4');
        await api.apply(slicesFor(b, [lab.pod('pod-2-b')])[0] ?? assert.fail());
        const c = await api.create(service(s.ns, 'c', { ports: http }));
        cIP = c.spec.clusterIP ?? '';
        await api.create(endpointSlice(s.ns, 'c-v4', 'c', 'IPv4', [{ name: 'http', port: 8080, protocol: 'TCP' }],
          [{ addresses: [lab.pod('pod-1-b').ip()], conditions: { ready: true }, nodeName: 'node-1' }]));
      }, 1500);
      await eventually(() => lab.settle(5000), 30_000, 0);
    } finally {
      assertNoFailures(await steady.stop(), 'a Service left alone, while the API server was away');
    }
    for (const from of [lab.pod('pod-1-a').agent, lab.pod('pod-2-a').agent]) {
      assert.equal((await from.tcp(a.clusterIP(), 80, { timeoutMs: 1000 })).ok, false, 'a, deleted meanwhile, is gone');
      onlyFrom(await from.batch('tcp', b.clusterIP(), 80, 20), ['pod-2-b']);
      onlyFrom(await from.batch('tcp', cIP, 80, 10), ['pod-1-b']);
    }
    for (const n of lab.nodes) {
      const h = await n.proxy.healthz();
      assert.equal(h.status, 200, `${n.name} healthy again: ${h.body}`);
    }
  });
});
