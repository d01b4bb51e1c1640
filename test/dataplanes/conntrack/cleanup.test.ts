import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planConntrackCleanup, runConntrackCleanup } from '../../../src/dataplanes/conntrack/cleanup.ts';
import { conntrackArgs, ConntrackError, type Conntrack, type ConntrackFilter } from '../../../src/dataplanes/conntrack/conntrack.ts';
import { memoryLogger } from '../../../src/util/logger.ts';
import { makeEndpoint, makePort, makeSnapshot } from '../nftables/fixtures.ts';

describe('conntrack cleanup planning', () => {
  const udp = makePort('ns1', 'dns', 'dns', (s) => {
    s.clusterIP = '172.30.0.10'; s.port = 53; s.nodePort = 30053; s.externalIPs = ['192.168.99.1']; s.loadBalancerVIPs = ['1.2.3.4'];
  }, 'UDP');
  const sctp = makePort('ns1', 'sig', 'sig', (s) => { s.clusterIP = '172.30.0.11'; s.port = 9; }, 'SCTP');
  const tcp = makePort('ns1', 'web', 'http', (s) => { s.clusterIP = '172.30.0.12'; });
  const ep = makeEndpoint('10.0.0.5', 5353);

  it('removed endpoints: every service IP:port and the NodePort, matched on the endpoint', () => {
    const filters = planConntrackCleanup(makeSnapshot({ ports: [[udp, []], [sctp, []], [tcp, []]], deletedUDPEndpoints: [
      { servicePort: udp.name, endpoint: ep }, { servicePort: sctp.name, endpoint: ep }, { servicePort: tcp.name, endpoint: ep },
    ] }));
    assert.deepEqual(filters.map(conntrackArgs), [
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '172.30.0.10', '--orig-port-dst', '53', '--reply-src', '10.0.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '192.168.99.1', '--orig-port-dst', '53', '--reply-src', '10.0.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '1.2.3.4', '--orig-port-dst', '53', '--reply-src', '10.0.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-port-dst', '30053', '--reply-src', '10.0.0.5'],
      ['-D', '-f', 'ipv4', '-p', 'sctp', '--orig-dst', '172.30.0.11', '--orig-port-dst', '9', '--reply-src', '10.0.0.5'],
    ]);
  });

  it('deleted ClusterIPs and newly active services', () => {
    const filters = planConntrackCleanup(makeSnapshot({ ports: [[udp, [ep]]], deletedUDPClusterIPs: ['172.30.0.99'], newlyActiveUDPServices: [udp.name, tcp.name] }));
    assert.deepEqual(filters.map(conntrackArgs), [
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '172.30.0.99'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '172.30.0.10', '--orig-port-dst', '53'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '192.168.99.1', '--orig-port-dst', '53'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '1.2.3.4', '--orig-port-dst', '53'],
      ['-D', '-f', 'ipv4', '-p', 'udp', '--orig-port-dst', '30053'],
    ]);
  });

  it('a flow that was not DNATed: TCP, by reply source address and port', () => {
    assert.deepEqual(conntrackArgs({ family: 'IPv4', protocol: 'tcp', origDst: '10.96.0.1', origDstPort: 80, replySrc: '10.96.0.1', replySrcPort: 80 }),
      ['-D', '-f', 'ipv4', '-p', 'tcp', '--orig-dst', '10.96.0.1', '--orig-port-dst', '80', '--reply-src', '10.96.0.1', '--reply-port-src', '80']);
    assert.deepEqual(conntrackArgs({ family: 'IPv6', protocol: 'udp', replySrcPort: 30053 }), ['-D', '-f', 'ipv6', '-p', 'udp', '--reply-port-src', '30053']);
  });

  it('never builds a match-everything filter', () => {
    assert.throws(() => conntrackArgs({ family: 'IPv4', protocol: 'udp' }), ConntrackError);
  });

  it('logs failures and keeps going', async () => {
    const { logger, records } = memoryLogger(0);
    const seen: ConntrackFilter[] = [];
    const ct: Conntrack = { deleteFlows: (f) => { seen.push(f); return f.origDst === 'bad' ? Promise.reject(new Error('boom')) : Promise.resolve(2); } };
    const n = await runConntrackCleanup(ct, [{ family: 'IPv4', protocol: 'udp', origDst: 'bad' }, { family: 'IPv4', protocol: 'udp', origDst: '1.1.1.1' }], logger);
    assert.equal(n, 2);
    assert.equal(seen.length, 2);
    assert.equal(records.length, 1);
  });
});
