// kube-proxy-ts flags that change what the proxy does to packets, checked with real traffic:
// --masquerade-all, --detect-local-mode BridgeInterface or InterfaceNamePrefix (whichever fits
// the lab's pod network), --nodeport-addresses. Each test
// restarts the nodes' proxies with its flags (rules are kept across the restart).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labSkip, ok, outcome, useLab } from '../lab/suite.ts';

describe('configuration flags', { skip: labSkip, concurrency: false }, () => {
  const s = useLab();
  const http = [{ name: 'http', port: 80, targetPort: 8080 }];

  it('--masquerade-all: ClusterIP traffic is masqueraded even from pods', async () => {
    const { lab } = s;
    await lab.reconfigure(['--masquerade-all']);
    const svc = await lab.deploy(s.ns, 'masq', { ports: http }, [lab.pod('pod-2-a')]);
    const h = ok(await lab.pod('pod-1-a').agent.tcp(svc.clusterIP(), 80));
    assert.equal(h.clientIP, lab.node(1).ip(), 'the server sees node-1, not the pod');
    await lab.reconfigure([]);
    assert.equal(ok(await lab.pod('pod-1-a').agent.tcp(svc.clusterIP(), 80)).clientIP, lab.pod('pod-1-a').ip(), 'default: pod source kept');
  });

  it('--detect-local-mode BridgeInterface / InterfaceNamePrefix: pod traffic keeps its source, off-cluster traffic is masqueraded', async () => {
    const { lab } = s;
    // Pods arrive on cbr0 (bridged pod network) or on their own vp* veth (routed).
    const [args, rule] = lab.podNetwork === 'bridge'
      ? [['--detect-local-mode', 'BridgeInterface', '--pod-bridge-interface', 'cbr0'], /iifname != "cbr0" jump mark-for-masquerade/]
      : [['--detect-local-mode', 'InterfaceNamePrefix', '--pod-interface-name-prefix', 'vp'], /iifname != "vp\*" jump mark-for-masquerade/];
    await lab.reconfigure(args);
    const svc = await lab.deploy(s.ns, 'iface', { ports: http }, [lab.pod('pod-2-a')]);
    assert.equal(ok(await lab.pod('pod-1-b').agent.tcp(svc.clusterIP(), 80)).clientIP, lab.pod('pod-1-b').ip());
    assert.equal(ok(await lab.client.tcp(svc.clusterIP(), 80)).clientIP, lab.node(1).ip(), 'client → ClusterIP via node-1: masqueraded');
    assert.match(await lab.nft(1, ['list', 'table', 'ip', 'kube-proxy']), rule);
    await lab.reconfigure([]);
  });

  it('--nodeport-addresses: NodePorts only on the listed addresses', async () => {
    const { lab } = s;
    const svc = await lab.deploy(s.ns, 'npa', { type: 'NodePort', ports: http }, lab.pods);
    const gateway = '10.244.1.1';
    assert.equal(outcome(await lab.pod('pod-1-a').agent.tcp(gateway, svc.nodePort(), { timeoutMs: 2000 })), 'ECONNREFUSED', 'default (primary): not on the pod gateway');
    await lab.reconfigure(['--nodeport-addresses', '10.244.0.0/16']);
    ok(await lab.pod('pod-1-a').agent.tcp(gateway, svc.nodePort()), 'on the pod gateway address');
    assert.doesNotMatch(outcome(await lab.client.tcp(lab.node(1).ip(), svc.nodePort(), { timeoutMs: 500 })), /^pod-/, 'not on the node\'s LAN address');
    await lab.reconfigure([]);
    ok(await lab.client.tcp(lab.node(1).ip(), svc.nodePort()), 'back on the primary address');
  });
});
