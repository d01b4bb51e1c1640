// Real packets: a "node" namespace running our rules, a "pod" namespace behind a veth pair
// with a TCP and a UDP server. ClusterIP traffic reaches the pod; without endpoints it is
// refused; a removed UDP endpoint's conntrack entry is deleted.

import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { NftablesDataplane } from '../../../src/dataplanes/nftables/nftables-dataplane.ts';
import { SpawnNftRunner } from '../../../src/dataplanes/nftables/runner.ts';
import { ConntrackCli } from '../../../src/dataplanes/conntrack/conntrack.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { canUseNetns, liveNamespaces, withNetns, type Netns } from '../../helpers/netns.ts';
import { makeEndpoint, makePort, makeSnapshot, testOptions } from './fixtures.ts';

const skip = !canUseNetns() && 'needs root for network namespaces';
const NODE = process.execPath;

function wire(node: Netns, pod: Netns): void {
  node.exec('ip', ['link', 'add', 'kpt-n', 'type', 'veth', 'peer', 'name', 'kpt-p', 'netns', pod.name]);
  node.exec('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'kpt-n']);
  node.exec('ip', ['link', 'set', 'kpt-n', 'up']);
  node.exec('ip', ['route', 'add', '172.30.0.0/16', 'dev', 'kpt-n']);
  pod.exec('ip', ['addr', 'add', '10.200.0.2/24', 'dev', 'kpt-p']);
  pod.exec('ip', ['link', 'set', 'kpt-p', 'up']);
}

async function startServer(pod: Netns, code: string): Promise<void> {
  const child = pod.spawn(NODE, ['-e', code]);
  const [chunk] = (await once(child.stdout ?? child, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
}

const TCP_SERVER = `require('net').createServer((s) => s.end('hello from pod')).listen(8080, '10.200.0.2', () => console.log('ready'))`;
const UDP_SERVER = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(5353, '10.200.0.2', () => console.log('ready'))`;
const tcpClient = (ip: string, port = 80): string => `const c = require('net').connect(${String(port)}, '${ip}'); let d=''; c.on('data', (b) => d += b); c.on('end', () => { console.log('OK ' + d); }); c.on('error', (e) => { console.log('ERR ' + e.code); }); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 3000).unref();`;
const TCP_CLIENT = `const c = require('net').connect(80, '172.30.0.10'); let d=''; c.on('data', (b) => d += b); c.on('end', () => { console.log('OK ' + d); }); c.on('error', (e) => { console.log('ERR ' + e.code); }); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 3000).unref();`;
const UDP_CLIENT = `const s = require('dgram').createSocket('udp4'); s.on('message', (m) => { console.log('OK ' + m); s.close(); }); s.send('ping', 53, '172.30.0.20'); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 3000).unref();`;

describe('nftables dataplane with real traffic', { skip, concurrency: false }, () => {
  after(() => { assert.deepEqual(liveNamespaces(), []); });
  // Each dataplane's cleanup timer (stale objects after a partial sync) must not outlive its test.
  const dataplanes: NftablesDataplane[] = [];
  afterEach(async () => { await Promise.all(dataplanes.splice(0).map((d) => d.close())); });
  const track = (d: NftablesDataplane): NftablesDataplane => { dataplanes.push(d); return d; };

  it('ClusterIP reaches the pod; without endpoints the connection is refused', async () => {
    await withNetns('tr-node', (node) => withNetns('tr-pod', async (pod) => {
      wire(node, pod);
      await startServer(pod, TCP_SERVER);
      const dp = track(new NftablesDataplane({ runner: new SpawnNftRunner({ commandPrefix: node.prefix }), logger: silentLogger(), render: testOptions() }));
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.10'; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [makeEndpoint('10.200.0.2', 8080)]]] })] });
      assert.equal(node.exec(NODE, ['-e', TCP_CLIENT]).trim(), 'OK hello from pod');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, []]], changed: ['ns1/web'] })] });
      assert.equal(node.exec(NODE, ['-e', TCP_CLIENT]).trim(), 'ERR ECONNREFUSED');
    }));
  });

  it('hairpin: a pod reaching a ClusterIP that picks the pod itself is masqueraded (hairpin set)', async () => {
    await withNetns('hp-node', (node) => withNetns('hp-pod', async (pod) => {
      wire(node, pod);
      node.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      pod.exec('ip', ['route', 'add', '172.30.0.0/16', 'via', '10.200.0.1']);
      await startServer(pod, TCP_SERVER);
      const dp = track(new NftablesDataplane({ runner: new SpawnNftRunner({ commandPrefix: node.prefix }), logger: silentLogger(), render: testOptions('IPv4', { localDetector: { mode: 'ClusterCIDR', cidrs: ['10.200.0.0/24'] } }) }));
      const sp = makePort('ns1', 'self', 'http', (s) => { s.clusterIP = '172.30.0.10'; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [makeEndpoint('10.200.0.2', 8080)]]] })] });
      // The server sees the node's address, not its own: the reply comes back through the node.
      assert.equal(pod.exec(NODE, ['-e', TCP_CLIENT]).trim(), 'OK hello from pod');
      // Without the hairpin element the same connection cannot work: the pod answers itself.
      node.exec('nft', ['flush', 'set', 'ip', 'kube-proxy', 'hairpin-ips']);
      assert.notEqual(pod.exec(NODE, ['-e', TCP_CLIENT]).trim(), 'OK hello from pod');
    }));
  });

  it('services spread over several tables: each table DNATs its own services, ClusterIPs and NodePorts', async () => {
    await withNetns('sh-node', (node) => withNetns('sh-pod', async (pod) => {
      wire(node, pod);
      await startServer(pod, TCP_SERVER);
      // NodePorts on every local address: the rule with the route lookup (fib), which extra
      // tables reach only for their own NodePorts.
      const dp = track(new NftablesDataplane({ runner: new SpawnNftRunner({ commandPrefix: node.prefix }), logger: silentLogger(), render: testOptions('IPv4', { nodePortAddresses: { kind: 'all' } }), shardWeight: 4 }));
      const ports = Array.from({ length: 12 }, (_, i) => [makePort('ns1', `web${String(i)}`, 'http', (s) => { s.clusterIP = `172.30.0.${String(10 + i)}`; s.nodePort = 30010 + i; }), [makeEndpoint('10.200.0.2', 8080)]] as const);
      await dp.sync({ full: true, families: [makeSnapshot({ ports })] });
      const tables = node.exec('nft', ['list', 'tables']).trim().split('\n');
      assert.ok(tables.length >= 5, tables.join(', '));
      assert.match(node.exec('nft', ['list', 'chain', 'ip', 'kube-proxy-s1', 'services']), /th dport @service-nodeports fib daddr type local/);
      for (let i = 0; i < 12; i++) {
        assert.equal(node.exec(NODE, ['-e', tcpClient(`172.30.0.${String(10 + i)}`)]).trim(), 'OK hello from pod', `web${String(i)} ClusterIP`);
        assert.equal(node.exec(NODE, ['-e', tcpClient('10.200.0.1', 30010 + i)]).trim(), 'OK hello from pod', `web${String(i)} NodePort`);
      }
      // A port that is nobody's NodePort stays the node's own.
      assert.equal(node.exec(NODE, ['-e', tcpClient('10.200.0.1', 30099)]).trim(), 'ERR ECONNREFUSED');
    }));
  });

  it('deletes the conntrack entry of a removed UDP endpoint', async () => {
    await withNetns('ct-node', (node) => withNetns('ct-pod', async (pod) => {
      wire(node, pod);
      await startServer(pod, UDP_SERVER);
      const conntrack = new ConntrackCli({ commandPrefix: node.prefix });
      const dp = track(new NftablesDataplane({ runner: new SpawnNftRunner({ commandPrefix: node.prefix }), logger: silentLogger(), render: testOptions(), conntrack }));
      const sp = makePort('ns1', 'dns', 'dns', (s) => { s.clusterIP = '172.30.0.20'; s.port = 53; }, 'UDP');
      const ep = makeEndpoint('10.200.0.2', 5353);
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep]]] })] });
      assert.equal(node.exec(NODE, ['-e', UDP_CLIENT]).trim(), 'OK ping');
      const listed = (): string => node.tryExec('conntrack', ['-L', '-p', 'udp']).stdout;
      assert.match(listed(), /dst=172\.30\.0\.20 .*dport=53 .*src=10\.200\.0\.2/);
      await dp.sync({ full: false, families: [makeSnapshot({
        ports: [[sp, []]], changed: ['ns1/dns'], deletedUDPEndpoints: [{ servicePort: sp.name, endpoint: ep }],
      })] });
      assert.doesNotMatch(listed(), /dst=172\.30\.0\.20/);
      // Nothing left to match: conntrack exits 1 with "0 flow entries", which is not an error.
      assert.equal(await conntrack.deleteFlows({ family: 'IPv4', protocol: 'udp', origDst: '172.30.0.20' }), 0);
    }));
  });
});
