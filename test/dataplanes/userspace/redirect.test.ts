// redirect.ts, pure: the rules that hold new connections while no listener is up, and reading
// back the listener ports a previous process redirected its entry points to.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedirectPorts, redirectElement, redirectLookupKey, renderBaseAndFlush, renderHoldProbe } from '../../../src/dataplanes/userspace/redirect.ts';
import { tableJson } from './kit.ts';

describe('userspace redirect: hold rules', () => {
  const T = 'ip kube-proxy-userspace';
  it('with holdNew, DNATed traffic to listener ports goes through listener-in (bare SYNs and datagrams need a socket, else drop)', () => {
    const lines = renderBaseAndFlush('IPv4', undefined, true);
    assert.ok(lines.includes(`add chain ${T} listener-in`));
    assert.ok(lines.includes(`flush chain ${T} listener-in`));
    const input = lines.filter((l) => l.startsWith(`add rule ${T} filter-input`) || l.startsWith(`add rule ${T} listener-in`));
    assert.deepEqual(input, [
      `add rule ${T} filter-input meta l4proto . th dport @listener-ports ct status dnat goto listener-in`,
      `add rule ${T} filter-input meta l4proto . th dport @listener-ports drop`,
      `add rule ${T} listener-in tcp flags & (fin | syn | rst | ack) != syn accept`,
      `add rule ${T} listener-in socket transparent 0 accept`,
      `add rule ${T} listener-in drop`,
    ]);
  });

  it('without holdNew (no socket expression): DNATed traffic is accepted as before; listener-in stays empty', () => {
    const lines = renderBaseAndFlush('IPv6', undefined, false);
    const t = 'ip6 kube-proxy-userspace';
    assert.ok(lines.includes(`add rule ${t} filter-input meta l4proto . th dport @listener-ports ct status dnat accept`));
    assert.ok(lines.includes(`flush chain ${t} listener-in`));
    assert.equal(lines.filter((l) => l.startsWith(`add rule ${t} listener-in`)).length, 0);
  });

  it('the probe checks exactly the hold rules, in a table of its own', () => {
    const probe = renderHoldProbe();
    assert.match(probe, /^add table ip kube-proxy-userspace-probe\n/);
    assert.match(probe, /socket transparent 0 accept/);
    assert.doesNotMatch(probe, / kube-proxy-userspace /);
  });
});

describe('userspace redirect: serving threads (round robin)', () => {
  const T = 'ip kube-proxy-userspace';
  it('one thread: no thread maps, no dispatch', () => {
    const lines = renderBaseAndFlush('IPv4', ['10.0.0.1'], true, 1);
    assert.equal(lines.filter((l) => /-t\d/.test(l) || l.includes('numgen')).length, 0);
  });

  it('three threads: maps and chains per extra thread, flushed; shared TCP entry points dispatched round robin before the main thread\'s lookups', () => {
    const lines = renderBaseAndFlush('IPv4', ['10.0.0.1'], true, 3);
    for (const m of ['service-ips-t1', 'service-ips-t2']) {
      assert.ok(lines.includes(`add map ${T} ${m} { type ipv4_addr . inet_proto . inet_service : inet_service ; }`), m);
      assert.ok(lines.includes(`flush map ${T} ${m}`), m);
    }
    for (const m of ['service-nodeports-t1', 'service-nodeports-t2']) assert.ok(lines.includes(`add map ${T} ${m} { type inet_proto . inet_service : inet_service ; }`), m);
    for (const c of ['services-t1', 'services-t2', 'services-local-t1', 'services-local-t2']) assert.ok(lines.includes(`flush chain ${T} ${c}`), c);
    const rules = (chain: string): string[] => lines.filter((l) => l.startsWith(`add rule ${T} ${chain} `)).map((l) => l.slice(`add rule ${T} ${chain} `.length));
    assert.deepEqual(rules('services'), [
      'meta l4proto tcp ip daddr . meta l4proto . th dport @service-ips-t1 numgen inc mod 3 vmap { 1 : goto services-t1, 2 : goto services-t2 }',
      'ip daddr @nodeport-ips meta l4proto tcp meta l4proto . th dport @service-nodeports-t1 numgen inc mod 3 vmap { 1 : goto services-t1, 2 : goto services-t2 }',
      'meta l4proto { tcp, udp } redirect to : ip daddr . meta l4proto . th dport map @service-ips',
      'ip daddr @nodeport-ips meta l4proto { tcp, udp } redirect to : meta l4proto . th dport map @service-nodeports',
    ]);
    assert.deepEqual(rules('services-t2'), [
      'meta l4proto tcp redirect to : ip daddr . meta l4proto . th dport map @service-ips-t2',
      'ip daddr @nodeport-ips meta l4proto tcp redirect to : meta l4proto . th dport map @service-nodeports-t2',
    ]);
    assert.deepEqual(rules('services-local-t1'), [
      'meta l4proto tcp dnat ip to ip saddr : ip daddr . meta l4proto . th dport map @service-ips-t1',
      'ip daddr @nodeport-ips meta l4proto tcp dnat ip to ip saddr : meta l4proto . th dport map @service-nodeports-t1',
    ]);
  });

  it('a thread\'s element goes to its own map; the read-back keeps each thread\'s port apart', () => {
    assert.deepEqual(redirectElement('IPv4', 'TCP', { map: 'service-ips', kind: 'internal', ip: '172.30.0.1', port: 80 }, 41001, 2),
      { container: 'service-ips-t2', key: '172.30.0.1 . tcp . 80', value: '41001' });
    const json = JSON.stringify({ nftables: [
      { map: { name: 'service-ips', elem: [[{ concat: ['172.30.0.1', 'tcp', 80] }, 41000]] } },
      { map: { name: 'service-ips-t1', elem: [[{ concat: ['172.30.0.1', 'tcp', 80] }, 41001]] } },
      { map: { name: 'service-nodeports-t2', elem: [[{ concat: ['tcp', 30080] }, 41002]] } },
      { map: { name: 'service-ips-t0', elem: [[{ concat: ['172.30.0.1', 'tcp', 80] }, 41003]] } },
      { map: { name: 'service-ips-tx', elem: [[{ concat: ['172.30.0.1', 'tcp', 80] }, 41004]] } },
    ] });
    const got = parseRedirectPorts(json);
    assert.equal(got.size, 3);
    assert.equal(got.get(redirectLookupKey('service-ips', '172.30.0.1', 'tcp', 80)), 41000);
    assert.equal(got.get(redirectLookupKey('service-ips', '172.30.0.1', 'tcp', 80, 1)), 41001);
    assert.equal(got.get(redirectLookupKey('service-nodeports', undefined, 'tcp', 30080, 2)), 41002);
  });
});

describe('userspace redirect: previous listener ports', () => {
  const cases: { name: string; json: string; want: [Parameters<typeof redirectLookupKey>, number][]; size: number }[] = [
    {
      name: 'IPv4 ClusterIPs, externalIPs and NodePorts',
      json: tableJson('ip', [['172.30.0.1', 'tcp', 80, 41000], ['172.30.0.1', 'udp', 53, 41001], ['192.168.99.1', 'tcp', 80, 41002]], [['tcp', 30080, 41002]]),
      want: [
        [['service-ips', '172.30.0.1', 'tcp', 80], 41000],
        [['service-ips', '172.30.0.1', 'udp', 53], 41001],
        [['service-ips', '192.168.99.1', 'tcp', 80], 41002],
        [['service-nodeports', undefined, 'tcp', 30080], 41002],
      ],
      size: 4,
    },
    {
      name: 'IPv6: however the Service spells the address',
      json: tableJson('ip6', [['fd00:10:96::a', 'tcp', 443, 42000]]),
      want: [[['service-ips', 'fd00:10:96:0:0:0:0:a', 'tcp', 443], 42000], [['service-ips', 'FD00:10:96::A', 'tcp', 443], 42000]],
      size: 1,
    },
    { name: 'not JSON', json: 'Error: No such file or directory', want: [], size: 0 },
    { name: 'no nftables array', json: '{"x": 1}', want: [], size: 0 },
    {
      name: 'odd elements are skipped, good ones kept',
      json: JSON.stringify({ nftables: [{ map: { name: 'service-ips', elem: [
        [{ concat: ['172.30.0.1', 'sctp', 80] }, 41000], [{ concat: ['172.30.0.1', 'tcp', 80] }, 70000], [{ concat: ['172.30.0.1', 'tcp'] }, 41000],
        ['172.30.0.1', 41000], [{ concat: ['172.30.0.2', 'tcp', 80] }, 41005],
      ] } }, { map: { name: 'other', elem: [[{ concat: ['tcp', 1] }, 2]] } }] }),
      want: [[['service-ips', '172.30.0.2', 'tcp', 80], 41005]],
      size: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseRedirectPorts(c.json);
      assert.equal(got.size, c.size);
      for (const [args, port] of c.want) assert.equal(got.get(redirectLookupKey(...args)), port, JSON.stringify(args));
    });
  }
});
