// UserspaceDataplane.sync: listeners follow the snapshot (direct mode on 127.0.0.1), endpoint
// changes reach new connections at once while established ones drain, unservable entry points
// are reported once, the per-service annotation overrides the default algorithm, traffic
// policies pick the pools; in redirect mode the nft transactions (recorded, no kernel here).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import dgram from 'node:dgram';
import net from 'node:net';
import { UserspaceDataplane, UserspaceSyncError } from '../../../src/dataplanes/userspace/userspace-dataplane.ts';
import { InMemoryUserspaceMetrics } from '../../../src/dataplanes/userspace/metrics.ts';
import { memoryLogger, silentLogger } from '../../../src/util/logger.ts';
import { RecordingRunner } from '../nftables/kit.ts';
import { local, makeEndpoint, makePort, makeSnapshot, terminating, TEST_NODE_IP } from '../nftables/fixtures.ts';
import { closedPort, ep, HOST, nameServer, request, tcpServer } from './sockets.ts';
import { tableJson } from './kit.ts';
import { freePort } from '../../helpers/wait.ts';
import { scriptText, type NftRunner, type NftScript } from '../../../src/dataplanes/nftables/runner.ts';
import { NftCommandError } from '../../../src/dataplanes/nftables/errors.ts';
import type { Conntrack, ConntrackFilter } from '../../../src/dataplanes/conntrack/conntrack.ts';

/** Records transactions; `nft -j list table ip …` answers `previous` (what a previous process left); `nft -c` fails if told. */
class ReadBackRunner implements NftRunner {
  readonly scripts: string[] = [];
  readonly queries: string[][] = [];
  readonly #previous: string;
  readonly #failCheck: boolean;
  constructor(previous: string, failCheck = false) {
    this.#previous = previous;
    this.#failCheck = failCheck;
  }
  run(given: NftScript, options?: { readonly check?: boolean }): Promise<void> {
    const script = scriptText(given);
    if (options?.check === true && this.#failCheck) return Promise.reject(new NftCommandError('NFT_FAILED', 'nft -c failed', 'Error: Could not process rule: No such file or directory', 1));
    if (options?.check !== true) this.scripts.push(script);
    return Promise.resolve();
  }
  query(args: readonly string[]): Promise<string> {
    this.queries.push([...args]);
    if (args.join(' ') === '-j list table ip kube-proxy-userspace') return Promise.resolve(this.#previous);
    return Promise.reject(new NftCommandError('NFT_FAILED', 'no such table', 'Error: No such file or directory', 1));
  }
  lastLines(): string[] { return (this.scripts.at(-1) ?? '').split('\n').filter((l) => l !== ''); }
}

const WARN = 40;

function direct(over: Partial<ConstructorParameters<typeof UserspaceDataplane>[0]> = {}): UserspaceDataplane {
  return new UserspaceDataplane({ logger: silentLogger(), localAddresses: [HOST], nodeIPs: [TEST_NODE_IP], ...over });
}

describe('userspace dataplane, direct listeners (loopback)', { concurrency: false, timeout: 30_000 }, () => {
  it('serves a local ClusterIP, follows endpoint changes at once, stops on removal', async () => {
    const a = await nameServer('a');
    const b = await nameServer('b');
    const port = await closedPort();
    const dp = direct();
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(a.port)]]] })] });
      assert.equal(await request(port), 'a');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [ep(b.port)]]] })] });
      assert.equal(await request(port), 'b');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [], changed: ['ns1/web'] })] });
      assert.equal(await request(port), 'ERR ECONNREFUSED');
      assert.equal(dp.portRuntime('IPv4', sp.name.key), undefined);
    } finally {
      await dp.close();
      await a.close();
      await b.close();
    }
  });

  it('a partial sync touches only changed services; a full sync re-checks everything', async () => {
    const a = await nameServer('a');
    const [p1, p2] = [await closedPort(), await closedPort()];
    const dp = direct();
    try {
      const s1 = makePort('ns1', 'one', 'http', (s) => { s.clusterIP = HOST; s.port = p1; });
      const s2 = makePort('ns1', 'two', 'http', (s) => { s.clusterIP = HOST; s.port = p2; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[s1, [ep(a.port)]]] })] });
      // two appears in the snapshot but is not marked changed: a partial sync ignores it…
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[s1, [ep(a.port)]], [s2, [ep(a.port)]]], changed: [] })] });
      assert.equal(await request(p2), 'ERR ECONNREFUSED');
      // …a full one picks it up.
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[s1, [ep(a.port)]], [s2, [ep(a.port)]]], changed: [] })] });
      assert.equal(await request(p2), 'a');
    } finally {
      await dp.close();
      await a.close();
    }
  });

  it('drains: an established connection to a terminating endpoint lives on, new ones go to ready endpoints', async () => {
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    const b = await nameServer('b');
    const port = await closedPort();
    const dp = direct();
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(echo.port)]]] })] });
      const c = net.connect({ host: HOST, port });
      c.on('error', () => undefined);
      await once(c, 'connect');
      c.write('one');
      assert.equal(((await once(c, 'data')) as [Buffer])[0].toString(), 'one');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [ep(echo.port, terminating), ep(b.port)]]] })] });
      assert.equal(await request(port), 'b', 'new connection to the ready endpoint');
      c.write('two');
      assert.equal(((await once(c, 'data')) as [Buffer])[0].toString(), 'two', 'old connection still works');
      // With only the terminating endpoint left, new connections fall back to it.
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [ep(echo.port, terminating)]]] })] });
      assert.equal(dp.portRuntime('IPv4', sp.name.key)?.cluster?.keys.join(), `${HOST}:${echo.port}`);
      c.destroy();
    } finally {
      await dp.close();
      await echo.close();
      await b.close();
    }
  });

  it('removing a service stops new connections at once; established ones drain and the sync does not wait', async () => {
    const echo = await tcpServer((s) => { s.on('error', () => undefined); s.pipe(s); });
    const port = await closedPort();
    const dp = direct();
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = HOST; s.port = port; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [ep(echo.port)]]] })] });
      const c = net.connect({ host: HOST, port });
      c.on('error', () => undefined);
      await once(c, 'connect');
      const t0 = Date.now();
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [], changed: ['ns1/web'] })] });
      assert.ok(Date.now() - t0 < 1000, 'the sync did not wait for the connection');
      assert.equal(await request(port), 'ERR ECONNREFUSED');
      c.write('still here');
      assert.equal(((await once(c, 'data')) as [Buffer])[0].toString(), 'still here');
      c.destroy();
    } finally {
      await dp.close();
      await echo.close();
    }
  });

  it('reports what it cannot serve once, naming the service port and entry point', async () => {
    const { logger, records } = memoryLogger();
    const dp = direct({ logger });
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.41'; s.nodePort = 30080; s.externalIPs = ['192.168.99.1']; });
      const sctp = makePort('ns1', 'sig', 'sctp', (s) => { s.clusterIP = HOST; }, 'SCTP');
      const snap = makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.1.1', 80)]], [sctp, [makeEndpoint('10.0.1.1', 80)]]] });
      await dp.sync({ full: true, families: [snap] });
      await dp.sync({ full: true, families: [snap] });
      const warns = records.filter((r) => r['level'] === WARN).map((r) => String(r['msg']));
      assert.deepEqual(warns.sort(), [
        'userspace proxy cannot serve ClusterIP 172.30.0.41:80 (not a local address, and nftables redirect is off) of service port ns1/web:http/TCP',
        'userspace proxy cannot serve external IP 192.168.99.1:80 (not a local address, and nftables redirect is off) of service port ns1/web:http/TCP',
        'userspace proxy cannot serve every entry point (SCTP is not supported in userspace mode) of service port ns1/sig:sctp/SCTP',
      ].sort());
      // The NodePort is served on the node IP… which is not on this test machine: a listen
      // error, also logged once.
      const errors = records.filter((r) => r['level'] === 50).map((r) => String(r['msg']));
      assert.equal(errors.length, 1);
      assert.match(errors[0] ?? '', /cannot listen on 192\.168\.0\.2:30080 for service port ns1\/web:http\/TCP \(EADDRNOTAVAIL\)/);
    } finally {
      await dp.close();
    }
  });

  it('uses the annotation algorithm over the default, and both traffic policies pick their pools', async () => {
    const dp = direct({ algorithm: 'least-connections' });
    try {
      const plain = makePort('ns1', 'plain', 'p', (s) => { s.clusterIP = '172.30.0.1'; });
      const hashed = makePort('ns1', 'hashed', 'p', (s) => { s.clusterIP = '172.30.0.2'; s.loadBalancingAlgorithm = 'source-hash'; });
      const etp = makePort('ns1', 'etp', 'p', (s) => { s.clusterIP = '172.30.0.3'; s.nodePort = 30003; s.externalPolicyLocal = true; });
      const eps = [makeEndpoint('10.0.1.1', 80, local), makeEndpoint('10.0.2.1', 80)];
      const remoteOnly = makePort('ns1', 'remote', 'p', (s) => { s.clusterIP = '172.30.0.4'; s.internalPolicyLocal = true; });
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[plain, eps], [hashed, eps], [etp, eps], [remoteOnly, [makeEndpoint('10.0.2.1', 80)]]] })] });
      assert.equal(dp.portRuntime('IPv4', plain.name.key)?.cluster?.algorithm, 'least-connections');
      assert.equal(dp.portRuntime('IPv4', hashed.name.key)?.cluster?.algorithm, 'source-hash');
      const rt = dp.portRuntime('IPv4', etp.name.key);
      assert.ok(rt);
      assert.deepEqual(rt.internal.poolFor('10.0.5.5')?.keys, ['10.0.1.1:80', '10.0.2.1:80']);
      assert.deepEqual(rt.external.poolFor('203.0.113.2')?.keys, ['10.0.1.1:80'], 'external clients: local endpoints only');
      assert.deepEqual(rt.external.poolFor(TEST_NODE_IP)?.keys, ['10.0.1.1:80', '10.0.2.1:80'], 'the node itself: short-circuit to cluster');
      const r = dp.portRuntime('IPv4', remoteOnly.name.key);
      assert.equal(r?.internal.poolFor('10.0.5.5')?.size, 0);
      assert.equal(r.internal.poolFor('10.0.5.5')?.emptyAction, 'drop');
    } finally {
      await dp.close();
    }
  });
});

describe('userspace dataplane, redirect transactions (recorded)', { concurrency: false, timeout: 30_000 }, () => {
  const make = (runner: RecordingRunner, metrics = new InMemoryUserspaceMetrics()): UserspaceDataplane => new UserspaceDataplane({
    logger: silentLogger(), redirect: { runner }, nodeIPs: [TEST_NODE_IP], listenHost: { IPv4: HOST }, metrics,
  });

  it('full sync: base and every element in one transaction; partial: only the diff; removal deletes', async () => {
    const runner = new RecordingRunner();
    const dp = make(runner);
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.41'; s.nodePort = 30080; });
      const dns = makePort('ns1', 'dns', 'dns', (s) => { s.clusterIP = '172.30.0.53'; s.port = 53; }, 'UDP');
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.1.1', 80)]], [dns, [makeEndpoint('10.0.1.1', 53)]]] })] });
      const rt = dp.portRuntime('IPv4', sp.name.key);
      const internal = rt?.listenerPort('internal');
      const external = rt?.listenerPort('external');
      const udp = dp.portRuntime('IPv4', dns.name.key)?.listenerPort('internal');
      assert.ok(internal !== undefined && external !== undefined && udp !== undefined && internal !== external);
      const full = runner.lastLines();
      assert.ok(full.includes('add table ip kube-proxy-userspace'));
      assert.ok(full.includes('flush map ip kube-proxy-userspace service-ips'));
      assert.ok(full.includes(`add rule ip kube-proxy-userspace services ip daddr @nodeport-ips meta l4proto { tcp, udp } redirect to : meta l4proto . th dport map @service-nodeports`));
      assert.ok(full.includes(`add rule ip kube-proxy-userspace services-local ip daddr @nodeport-ips meta l4proto { tcp, udp } dnat ip to ip saddr : meta l4proto . th dport map @service-nodeports`));
      assert.ok(full.includes(`add element ip kube-proxy-userspace nodeport-ips { ${TEST_NODE_IP} }`));
      const elements = full.filter((l) => l.startsWith('add element') && !l.includes('nodeport-ips')).sort();
      assert.deepEqual(elements, [
        `add element ip kube-proxy-userspace listener-ports { tcp . ${external} }`,
        `add element ip kube-proxy-userspace listener-ports { tcp . ${internal} }`,
        `add element ip kube-proxy-userspace listener-ports { udp . ${udp} }`,
        `add element ip kube-proxy-userspace service-ips { 172.30.0.41 . tcp . 80 : ${internal} }`,
        `add element ip kube-proxy-userspace service-ips { 172.30.0.53 . udp . 53 : ${udp} }`,
        `add element ip kube-proxy-userspace service-nodeports { tcp . 30080 : ${external} }`,
      ].sort());

      // An external IP added: one element, nothing else.
      const sp2 = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.41'; s.nodePort = 30080; s.externalIPs = ['192.168.99.1']; });
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp2, [makeEndpoint('10.0.1.1', 80)]], [dns, [makeEndpoint('10.0.1.1', 53)]]], changed: ['ns1/web'] })] });
      assert.deepEqual(runner.lastLines(), [`add element ip kube-proxy-userspace service-ips { 192.168.99.1 . tcp . 80 : ${external} }`]);

      // Endpoints only: no transaction at all.
      const before = runner.scripts.length;
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp2, [makeEndpoint('10.0.1.2', 80)]], [dns, [makeEndpoint('10.0.1.1', 53)]]], changed: ['ns1/web'] })] });
      assert.equal(runner.scripts.length, before);

      // Removal: its elements go.
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[dns, [makeEndpoint('10.0.1.1', 53)]]], changed: ['ns1/web'] })] });
      assert.deepEqual(runner.lastLines().sort(), [
        `delete element ip kube-proxy-userspace listener-ports { tcp . ${external} }`,
        `delete element ip kube-proxy-userspace listener-ports { tcp . ${internal} }`,
        `delete element ip kube-proxy-userspace service-ips { 172.30.0.41 . tcp . 80 }`,
        `delete element ip kube-proxy-userspace service-ips { 192.168.99.1 . tcp . 80 }`,
        `delete element ip kube-proxy-userspace service-nodeports { tcp . 30080 }`,
      ].sort());
      assert.equal(await request(internal), 'ERR ECONNREFUSED', 'its listener is closed');
    } finally {
      await dp.close();
    }
  });

  it('a refused transaction throws UserspaceSyncError and makes the next sync full', async () => {
    const runner = new RecordingRunner();
    const dp = make(runner);
    try {
      const sp = makePort('ns1', 'web', 'http');
      const snap = makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.1.1', 80)]]] });
      // A first sync (it also probes nft with `nft -c`, which must not be the one refused).
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [] })] });
      runner.failNext = 1;
      await assert.rejects(dp.sync({ full: true, families: [snap] }), UserspaceSyncError);
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[sp, [makeEndpoint('10.0.1.1', 80)]]], changed: [] })] });
      assert.ok(runner.lastLines().includes('add table ip kube-proxy-userspace'), 'retried as a full sync');
      assert.ok(runner.lastLines().some((l) => l.includes('172.30.0.41 . tcp . 80')));
    } finally {
      await dp.close();
    }
  });

  it('two service ports claiming one entry point: the first keeps it, the conflict is logged once', async () => {
    const runner = new RecordingRunner();
    const { logger, records } = memoryLogger();
    const dp = new UserspaceDataplane({ logger, redirect: { runner }, listenHost: { IPv4: HOST } });
    try {
      const a = makePort('ns1', 'a', 'p', (s) => { s.clusterIP = '172.30.0.1'; s.externalIPs = ['192.168.99.9']; });
      const b = makePort('ns1', 'b', 'p', (s) => { s.clusterIP = '172.30.0.2'; s.externalIPs = ['192.168.99.9']; });
      const snap = makeSnapshot({ ports: [[a, [makeEndpoint('10.0.1.1', 80)]], [b, [makeEndpoint('10.0.1.2', 80)]]] });
      await dp.sync({ full: true, families: [snap] });
      await dp.sync({ full: true, families: [snap] });
      const lines = runner.lastLines().filter((l) => l.includes('192.168.99.9'));
      assert.equal(lines.length, 1);
      assert.ok(lines[0]?.endsWith(`: ${dp.portRuntime('IPv4', a.name.key)?.listenerPort('external')} }`));
      assert.equal(records.filter((r) => String(r['msg']).includes('already taken by ns1/a:p/TCP')).length, 1);
    } finally {
      await dp.close();
    }
  });

  it('an entry point redirected for the first time: its flows tracked without NAT (reply source = the service IP and port) are deleted once; not for NodePorts (the node refuses those itself); not for entry points already redirected, nor beyond 64 new ones in one sync', async () => {
    const runner = new RecordingRunner();
    const deleted: ConntrackFilter[] = [];
    const conntrack: Conntrack = { deleteFlows: (f) => { deleted.push(f); return Promise.resolve(0); } };
    const dp = new UserspaceDataplane({ logger: silentLogger(), redirect: { runner, conntrack }, nodeIPs: [TEST_NODE_IP], listenHost: { IPv4: HOST } });
    try {
      const web = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.41'; s.nodePort = 30080; });
      const dns = makePort('ns1', 'dns', 'dns', (s) => { s.clusterIP = '172.30.0.53'; s.port = 53; }, 'UDP');
      const first = makeSnapshot({ ports: [[web, [makeEndpoint('10.0.1.1', 80)]]] });
      await dp.sync({ full: true, families: [first] });
      assert.deepEqual(deleted, [
        { family: 'IPv4', protocol: 'tcp', origDst: '172.30.0.41', origDstPort: 80, replySrc: '172.30.0.41', replySrcPort: 80 },
      ]);
      deleted.length = 0;
      await dp.sync({ full: true, families: [first] });
      assert.deepEqual(deleted, [], 'already redirected: nothing to look for');
      await dp.sync({ full: false, families: [makeSnapshot({ ports: [[web, [makeEndpoint('10.0.1.1', 80)]], [dns, [makeEndpoint('10.0.1.1', 53)]]], changed: [dns.name.service] })] });
      assert.deepEqual(deleted, [{ family: 'IPv4', protocol: 'udp', origDst: '172.30.0.53', origDstPort: 53, replySrc: '172.30.0.53', replySrcPort: 53 }]);
      deleted.length = 0;
      const many = Array.from({ length: 65 }, (_, i) => makePort('ns2', `s${String(i)}`, 'http', (s) => { s.clusterIP = `172.30.1.${String(i + 1)}`; }));
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[web, [makeEndpoint('10.0.1.1', 80)]], ...many.map((sp) => [sp, [makeEndpoint('10.0.1.2', 80)]] as const)] })] });
      assert.deepEqual(deleted, [], 'a sync with more than 64 new entry points does not look');
    } finally {
      await dp.close();
    }
  });

  it('restart: listens on the ports the previous process redirected to (read back once); a port now taken falls back to a new one (for UDP, its flows\' conntrack entries are deleted)', async () => {
    const [web, webExt, dnsPort, taken, takenUdp] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const busy = net.createServer();
    busy.listen(taken, HOST);
    await once(busy, 'listening');
    const busyUdp = dgram.createSocket('udp4');
    busyUdp.bind(takenUdp, HOST);
    await once(busyUdp, 'listening');
    const backend = await nameServer('a');
    const runner = new ReadBackRunner(tableJson('ip', [
      ['172.30.0.41', 'tcp', 80, web], ['172.30.0.53', 'udp', 53, dnsPort], ['172.30.0.42', 'tcp', 80, taken], ['172.30.0.54', 'udp', 53, takenUdp],
    ], [['tcp', 30080, webExt]]));
    const deleted: ConntrackFilter[] = [];
    const conntrack: Conntrack = { deleteFlows: (f) => { deleted.push(f); return Promise.resolve(1); } };
    const { logger, records } = memoryLogger();
    const dp = new UserspaceDataplane({ logger, redirect: { runner, conntrack }, nodeIPs: [TEST_NODE_IP], listenHost: { IPv4: HOST } });
    try {
      const sp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.41'; s.nodePort = 30080; });
      const dns = makePort('ns1', 'dns', 'dns', (s) => { s.clusterIP = '172.30.0.53'; s.port = 53; }, 'UDP');
      const other = makePort('ns1', 'other', 'http', (s) => { s.clusterIP = '172.30.0.42'; });
      const dns2 = makePort('ns1', 'dns2', 'dns', (s) => { s.clusterIP = '172.30.0.54'; s.port = 53; }, 'UDP');
      const snap = makeSnapshot({ ports: [
        [sp, [ep(backend.port)]], [dns, [makeEndpoint('10.0.1.1', 53)]], [other, [makeEndpoint('10.0.1.2', 80)]], [dns2, [makeEndpoint('10.0.1.1', 53)]],
      ] });
      await dp.sync({ full: true, families: [snap] });
      const port = (p: typeof sp, kind: 'internal' | 'external'): number | undefined => dp.portRuntime('IPv4', p.name.key)?.listenerPort(kind);
      assert.deepEqual([port(sp, 'internal'), port(sp, 'external'), port(dns, 'internal')], [web, webExt, dnsPort], 'the previous ports');
      const fallback = port(other, 'internal');
      assert.ok(fallback !== undefined && fallback !== taken, 'a port in use: a new one');
      assert.ok(records.some((r) => String(r['msg']).includes(`previous listener port ${taken} of service port ns1/other:http/TCP is not free (EADDRINUSE)`)));
      const lines = runner.lastLines();
      assert.ok(lines.includes(`add element ip kube-proxy-userspace service-ips { 172.30.0.41 . tcp . 80 : ${web} }`));
      assert.ok(lines.includes(`add element ip kube-proxy-userspace service-nodeports { tcp . 30080 : ${webExt} }`));
      assert.ok(lines.includes(`add element ip kube-proxy-userspace service-ips { 172.30.0.42 . tcp . 80 : ${fallback} }`));
      assert.ok(lines.includes('add rule ip kube-proxy-userspace listener-in socket transparent 0 accept'), 'hold rules (the probe passed)');
      assert.equal(await request(web), 'a', 'serving on the previous port');
      assert.notEqual(port(dns2, 'internal'), takenUdp);
      assert.deepEqual(deleted, [{ family: 'IPv4', protocol: 'udp', origDst: '172.30.0.54', origDstPort: 53 }],
        'only the UDP entry point whose listener port changed: its flows\' conntrack entries point at the old one');
      // Read back once: a later full sync neither queries nor reuses anything.
      const queries = runner.queries.length;
      await dp.sync({ full: true, families: [snap] });
      assert.equal(runner.queries.length, queries);
      assert.equal(deleted.length, 1);
    } finally {
      await dp.close();
      busy.close();
      busyUdp.close();
      await backend.close();
    }
  });

  it('no nft socket expression: a warning, and no hold rules (connections during a restart are refused as before)', async () => {
    const runner = new ReadBackRunner('', true);
    const { logger, records } = memoryLogger();
    const dp = new UserspaceDataplane({ logger, redirect: { runner }, nodeIPs: [TEST_NODE_IP], listenHost: { IPv4: HOST } });
    try {
      await dp.sync({ full: true, families: [makeSnapshot({ ports: [[makePort('ns1', 'web', 'http'), [makeEndpoint('10.0.1.1', 80)]]] })] });
      const lines = runner.lastLines();
      assert.ok(lines.includes('add rule ip kube-proxy-userspace filter-input meta l4proto . th dport @listener-ports ct status dnat accept'));
      assert.equal(lines.filter((l) => l.includes('listener-in') && l.startsWith('add rule')).length, 0);
      assert.equal(records.filter((r) => r['level'] === WARN && String(r['msg']).includes('no socket expression')).length, 1);
    } finally {
      await dp.close();
    }
  });

  it('cleanup deletes both tables', async () => {
    const runner = new RecordingRunner();
    const dp = make(runner);
    await dp.cleanup();
    assert.deepEqual(runner.lastLines(), [
      'add table ip kube-proxy-userspace', 'delete table ip kube-proxy-userspace',
      'add table ip6 kube-proxy-userspace', 'delete table ip6 kube-proxy-userspace',
    ]);
    await dp.close();
  });
});
