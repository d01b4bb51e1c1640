// Real kernel, real packets (root): a "node" namespace runs the userspace dataplane with its
// nftables redirect table (fixtures/netns-proxy.ts); a "client" namespace behind a veth pair
// connects to the ClusterIP and the NodePort and reaches the backend; UDP replies come back
// from the service IP (what the client sees), local traffic works through the output hook,
// and the listeners' own ports cannot be reached directly. Namespaces are always deleted.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
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

const tcpClient = (host: string, port: number): string => `const c = require('net').connect(${port}, '${host}'); let d = '';
c.on('data', (b) => d += b); c.on('end', () => { console.log('OK ' + d); process.exit(0); });
c.on('error', (e) => { console.log('ERR ' + e.code); process.exit(0); });
setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 1500);`;

const udpClient = (host: string, port: number): string => `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log('OK ' + m + ' from ' + r.address + ':' + r.port); process.exit(0); });
s.send('ping', ${port}, '${host}'); setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 1500);`;

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
});
