// Real kernel, real packets (root): a "node" namespace runs the userspace dataplane with its
// nftables redirect table (fixtures/netns-proxy.ts); a "client" namespace behind a veth pair
// connects to the ClusterIP and the NodePort and reaches the backend; UDP replies come back
// from the service IP (what the client sees), local traffic works through the output hook,
// and the listeners' own ports cannot be reached directly. Namespaces are always deleted.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { canUseNetns, liveNamespaces, withNetns, type Netns } from '../../helpers/netns.ts';

const skip = !canUseNetns() && 'needs root for network namespaces';
const NODE = process.execPath;
const FIXTURE = fileURLToPath(new URL('./fixtures/netns-proxy.ts', import.meta.url));

function wire(node: Netns, client: Netns): void {
  node.exec('ip', ['link', 'add', 'kpt-n', 'type', 'veth', 'peer', 'name', 'kpt-c', 'netns', client.name]);
  node.exec('ip', ['addr', 'add', '10.201.0.1/24', 'dev', 'kpt-n']);
  node.exec('ip', ['link', 'set', 'kpt-n', 'up']);
  // Local traffic needs a route before the output hook can redirect it (a default route on
  // a real node).
  node.exec('ip', ['route', 'add', '172.30.0.0/16', 'dev', 'kpt-n']);
  client.exec('ip', ['addr', 'add', '10.201.0.2/24', 'dev', 'kpt-c']);
  client.exec('ip', ['link', 'set', 'kpt-c', 'up']);
  client.exec('ip', ['route', 'add', '172.30.0.0/16', 'via', '10.201.0.1']);
}

/** `localPort` 0: any; else the connection leaves from that port (one conntrack flow across runs). */
const tcpClient = (host: string, port: number, timeoutMs = 1500, localPort = 0): string => `const c = require('net').connect({ port: ${port}, host: '${host}', localPort: ${localPort} || undefined }); let d = '';
c.on('data', (b) => d += b); c.on('end', () => { console.log('OK ' + d); process.exit(0); });
c.on('error', (e) => { console.log('ERR ' + e.code); process.exit(0); });
setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, ${timeoutMs});`;

/** `localPort` 0: any; else the datagram leaves from that port (one conntrack flow across runs). */
const udpClient = (host: string, port: number, localPort = 0): string => `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log('OK ' + m + ' from ' + r.address + ':' + r.port); process.exit(0); });
s.bind(${localPort}, () => s.send('ping', ${port}, '${host}')); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 1500);`;

/** `n` sequential connections to host:port; prints how many were answered by the pod. */
const tcpClients = (host: string, port: number, n: number): string => `const net = require('net'); let ok = 0;
const one = (i) => { if (i === ${String(n)}) { console.log(ok); process.exit(0); } const c = net.connect(${String(port)}, '${host}'); let d = '';
c.on('data', (b) => d += b); c.on('end', () => { if (d.startsWith('pod saw')) ok++; one(i + 1); }); c.on('error', () => one(i + 1)); };
one(0); setTimeout(() => { console.log('TIMEOUT ' + ok); process.exit(0); }, 10000);`;

interface Proxy { readonly proc: ChildProcess; readonly listener: number; readonly udpListener: number; readonly threadListeners: number[] }

/** `late`: the TCP service is only added by addWeb(). */
async function startProxy(node: Netns, threads = 1, late = false): Promise<Proxy> {
  const proc = node.spawn(NODE, [FIXTURE, '10.201.0.1', String(threads), ...(late ? ['late'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(proc.stdout ?? proc, 'data')) as [Buffer];
  const ready = JSON.parse(line.toString()) as { ready: boolean; listener: number; udpListener: number; threadListeners: number[] };
  assert.equal(ready.ready, true);
  return { proc, listener: ready.listener, udpListener: ready.udpListener, threadListeners: ready.threadListeners };
}

/** Connections each thread of the proxy opened so far: [main, thread 1, …]. */
async function opened(p: Proxy): Promise<number[]> {
  const reply = once(p.proc.stdout ?? p.proc, 'data');
  p.proc.stdin?.write('opened\n');
  const [line] = (await reply) as [Buffer];
  return JSON.parse(line.toString()) as number[];
}

async function addWeb(p: Proxy): Promise<void> {
  const reply = once(p.proc.stdout ?? p.proc, 'data');
  p.proc.stdin?.write('add-web\n');
  const [line] = (await reply) as [Buffer];
  assert.deepEqual(JSON.parse(line.toString()), { synced: true });
}

async function stopProxy(p: Proxy): Promise<void> {
  const exited = once(p.proc, 'exit');
  p.proc.stdin?.end();
  await exited;
}

/** Runs `script` with node in `ns` in the background; resolves to its trimmed output. */
function background(ns: Netns, script: string): Promise<string> {
  const child = ns.spawn(NODE, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  return once(child, 'exit').then(() => out.trim());
}

describe('userspace dataplane with nftables redirect (real kernel)', { skip, concurrency: false, timeout: 60_000 }, () => {
  after(() => { assert.deepEqual(liveNamespaces(), []); });

  it('ClusterIP and NodePort reach the backend from another namespace; UDP replies come from the service IP', async () => {
    await withNetns('us-node', (node) => withNetns('us-client', async (client) => {
      wire(node, client);
      const proxy = node.spawn(NODE, [FIXTURE, '10.201.0.1'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const [line] = (await once(proxy.stdout ?? proxy, 'data')) as [Buffer];
      const ready = JSON.parse(line.toString()) as { ready: boolean; listener: number };
      assert.equal(ready.ready, true);

      const table = node.exec('nft', ['list', 'table', 'ip', 'kube-proxy-userspace']);
      assert.match(table, /172\.30\.0\.10 \. tcp \. 80 : \d+/);
      assert.match(table, /tcp \. 30080 : \d+/);

      assert.equal(client.exec(NODE, ['-e', tcpClient('172.30.0.10', 80)]).trim(), 'OK pod saw 127.0.0.1');
      assert.equal(client.exec(NODE, ['-e', tcpClient('10.201.0.1', 30080)]).trim(), 'OK pod saw 127.0.0.1');
      assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53)]).trim(), 'OK pod:ping from 172.30.0.20:53');
      // From the node itself (nat output hook).
      assert.equal(node.exec(NODE, ['-e', tcpClient('172.30.0.10', 80)]).trim(), 'OK pod saw 127.0.0.1');
      assert.equal(node.exec(NODE, ['-e', udpClient('172.30.0.20', 53)]).trim(), 'OK pod:ping from 172.30.0.20:53');
      // The listener's own port is not reachable without going through a redirect.
      assert.equal(client.exec(NODE, ['-e', tcpClient('10.201.0.1', ready.listener)]).trim(), 'TIMEOUT');
      // A port the service does not have is not captured.
      assert.match(client.exec(NODE, ['-e', tcpClient('172.30.0.10', 81)]).trim(), /^(TIMEOUT|ERR .*)$/);
      proxy.stdin?.end();
      await once(proxy, 'exit');
    }));
  });
  it('restart: a connection opened while no process listens is held (SYN dropped, not refused) and served by the next process on the same listener port; a UDP flow from one source port is answered again', async () => {
    await withNetns('us-node', (node) => withNetns('us-client', async (client) => {
      wire(node, client);
      const first = await startProxy(node);
      assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53, 40999)]).trim(), 'OK pod:ping from 172.30.0.20:53');
      await stopProxy(first);
      // Nobody listens: the SYN is dropped (a refusal would print ERR ECONNREFUSED at once).
      const t0 = performance.now();
      const pending = background(client, tcpClient('172.30.0.10', 80, 8000));
      await new Promise((r) => setTimeout(r, 300));
      const second = await startProxy(node);
      try {
        assert.equal(second.listener, first.listener, 'the same listener port as the previous process');
        assert.equal(await pending, 'OK pod saw 127.0.0.1', 'the held connection is served by the new process');
        const ms = performance.now() - t0;
        assert.ok(ms >= 900 && ms < 4000, `answered at a SYN retransmission (${Math.round(ms)} ms)`);
        // The flow's conntrack entry still redirects to the old port, which is the new listener's.
        assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53, 40999)]).trim(), 'OK pod:ping from 172.30.0.20:53');
        // Still unreachable directly.
        assert.equal(client.exec(NODE, ['-e', tcpClient('10.201.0.1', second.listener)]).trim(), 'TIMEOUT');
      } finally {
        await stopProxy(second);
      }
    }));
  });
  it('serving threads: each has listener ports of its own and new connections alternate exactly between the threads (ClusterIP, NodePort, from the node); their ports are not reachable directly; a restart takes the same ports again', async () => {
    await withNetns('us-node', (node) => withNetns('us-client', async (client) => {
      wire(node, client);
      const first = await startProxy(node, 3);
      const [t1, t2] = first.threadListeners;
      try {
        assert.ok(t1 !== undefined && t2 !== undefined, 'both serving threads report their port');
        assert.equal(new Set([first.listener, t1, t2]).size, 3, 'three listener ports, one per thread');
        const table = node.exec('nft', ['list', 'table', 'ip', 'kube-proxy-userspace']);
        assert.match(table, new RegExp(`map service-ips-t2 \\{[^}]*172\\.30\\.0\\.10 \\. tcp \\. 80 : ${String(t2)}`));
        assert.match(table, /map service-nodeports-t1 \{[^}]*tcp \. 30080 : \d+/);
        assert.match(table, /numgen inc mod 3 vmap \{ 1 : goto services-t1, 2 : goto services-t2 \}/);
        // 30 + 15 + 15 connections, each rule round robin on its own counter: 10 + 5 + 5 per thread.
        assert.equal(client.exec(NODE, ['-e', tcpClients('172.30.0.10', 80, 30)]).trim(), '30');
        assert.equal(client.exec(NODE, ['-e', tcpClients('10.201.0.1', 30080, 15)]).trim(), '15');
        assert.equal(node.exec(NODE, ['-e', tcpClients('172.30.0.10', 80, 15)]).trim(), '15');
        assert.deepEqual(await opened(first), [20, 20, 20]);
        // UDP stays on the main thread.
        assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53)]).trim(), 'OK pod:ping from 172.30.0.20:53');
        for (const port of [t1, t2]) assert.equal(client.exec(NODE, ['-e', tcpClient('10.201.0.1', port)]).trim(), 'TIMEOUT', `thread port ${String(port)} directly`);
      } finally {
        await stopProxy(first);
      }
      const second = await startProxy(node, 3);
      try {
        assert.deepEqual([second.listener, ...second.threadListeners], [first.listener, t1, t2], 'every thread takes its port again');
        assert.equal(client.exec(NODE, ['-e', tcpClients('172.30.0.10', 80, 9)]).trim(), '9');
        assert.deepEqual(await opened(second), [3, 3, 3]);
      } finally {
        await stopProxy(second);
      }
    }));
  });

  it('a client that tried a ClusterIP before it was redirected is served from the same source port once it is: its flow, tracked without NAT, is deleted', async () => {
    await withNetns('us-node', (node) => withNetns('us-client', async (client) => {
      wire(node, client);
      // A node forwards: a SYN to an address nothing redirects yet is routed on (here into an
      // ICMP unreachable), and conntrack keeps its flow, without NAT, while the client retries.
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      const p = await startProxy(node, 1, true);
      try {
        assert.doesNotMatch(client.exec(NODE, ['-e', tcpClient('172.30.0.10', 80, 1500, 41000)]).trim(), /^OK/);
        const unNATed = /src=172\.30\.0\.10 dst=10\.201\.0\.2 sport=80 dport=41000/;
        assert.match(node.exec('conntrack', ['-L', '-p', 'tcp', '--orig-port-src', '41000']), unNATed);
        await addWeb(p);
        assert.doesNotMatch(node.exec('conntrack', ['-L', '-p', 'tcp', '--orig-port-src', '41000']), unNATed);
        assert.match(client.exec(NODE, ['-e', tcpClient('172.30.0.10', 80, 3000, 41000)]).trim(), /^OK pod saw/);
      } finally {
        await stopProxy(p);
      }
    }));
  });

  it('restart with the previous UDP listener port taken by another process: a new port, and the flow\'s stale conntrack entry is deleted so it is answered again', async () => {
    await withNetns('us-node', (node) => withNetns('us-client', async (client) => {
      wire(node, client);
      const first = await startProxy(node);
      assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53, 40998)]).trim(), 'OK pod:ping from 172.30.0.20:53');
      await stopProxy(first);
      const squatter = node.spawn(NODE, ['-e', `require('dgram').createSocket('udp4').bind(${first.udpListener}, '0.0.0.0', () => console.log('bound'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(squatter.stdout ?? squatter, 'data');
      const second = await startProxy(node);
      try {
        assert.notEqual(second.udpListener, first.udpListener, 'the taken port was not reused');
        assert.equal(client.exec(NODE, ['-e', udpClient('172.30.0.20', 53, 40998)]).trim(), 'OK pod:ping from 172.30.0.20:53');
      } finally {
        await stopProxy(second);
        squatter.kill();
      }
    }));
  });
});
