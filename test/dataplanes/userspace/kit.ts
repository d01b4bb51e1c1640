// Shared builders for userspace dataplane tests.
//
// Address conventions (as the nftables tests): pods 10.0.0.0/8, ClusterIPs 172.30.0.0/16,
// node 192.168.0.2; real-socket tests use 127.0.0.1 with kernel-chosen ports.

import { EndpointPool, EndpointState, type PoolConfig } from '../../../src/dataplanes/userspace/pool.ts';
import { PassiveHealth, seededRandom, type PickContext } from '../../../src/dataplanes/userspace/balancers/index.ts';
import { InMemoryUserspaceMetrics } from '../../../src/dataplanes/userspace/metrics.ts';
import type { LoadBalancingAlgorithm, ServicePortName } from '../../../src/model/types.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

export const ALGORITHMS: readonly LoadBalancingAlgorithm[] = ['round-robin', 'random', 'least-connections', 'power-of-two-choices', 'source-hash'];

export function spn(ns = 'ns1', name = 'svc1', port = 'p80', protocol: 'TCP' | 'UDP' = 'TCP'): ServicePortName {
  return { namespace: ns, name, port, protocol, key: `${ns}/${name}:${port}/${protocol}`, service: `${ns}/${name}` };
}

export function states(n: number, base = '10.0.1.'): EndpointState[] {
  return Array.from({ length: n }, (_, i) => new EndpointState({ key: `${base}${i + 1}:80`, ip: `${base}${i + 1}`, port: 80 }));
}

/** A PickContext over plain arrays. */
export function ctx(client: string, loads: readonly number[] = [], excluded: ReadonlySet<number> = new Set()): PickContext {
  return { client, eligible: (i) => !excluded.has(i), load: (i) => loads[i] ?? 0 };
}

export interface PoolKit {
  readonly pool: EndpointPool;
  readonly clock: FakeClock;
  readonly health: PassiveHealth;
  readonly metrics: InMemoryUserspaceMetrics;
}

export function makePool(algorithm: LoadBalancingAlgorithm, eps: readonly EndpointState[], over: Partial<PoolConfig> = {}, seed = 1, clock = new FakeClock()): PoolKit {
  const health = new PassiveHealth(clock);
  const metrics = new InMemoryUserspaceMetrics();
  const config: PoolConfig = { algorithm, sessionAffinity: { type: 'None' }, emptyAction: 'reject', ...over };
  const pool = new EndpointPool(spn(), 'cluster', { clock, random: seededRandom(seed), health, metrics }, config);
  pool.update(eps, config);
  return { pool, clock, health, metrics };
}

/** 10.a.b.c client addresses, distinct for i < 2^24. */
export function clientIP(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** `nft -j list table` output with these maps (elements as nft prints them). */
export function tableJson(family: 'ip' | 'ip6', serviceIPs: readonly [string, string, number, number][], nodePorts: readonly [string, number, number][] = []): string {
  return JSON.stringify({ nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family, name: 'kube-proxy-userspace', handle: 1 } },
    { map: { family, name: 'service-ips', table: 'kube-proxy-userspace', type: [family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', 'inet_proto', 'inet_service'], handle: 1, map: 'inet_service',
      elem: serviceIPs.map(([ip, proto, port, to]) => [{ concat: [ip, proto, port] }, to]) } },
    { map: { family, name: 'service-nodeports', table: 'kube-proxy-userspace', type: ['inet_proto', 'inet_service'], handle: 2, map: 'inet_service',
      elem: nodePorts.map(([proto, port, to]) => [{ concat: [proto, port] }, to]) } },
    { set: { family, name: 'listener-ports', table: 'kube-proxy-userspace', type: ['inet_proto', 'inet_service'], handle: 3, elem: [{ concat: ['tcp', 41000] }] } },
  ] });
}
