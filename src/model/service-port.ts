// One decoded Service -> the ServicePorts of one IP family (upstream serviceToServiceMap +
// newBaseServiceInfo), plus value equality for them.

import type { DecodedService } from './decode/service.ts';
import type { IPFamily, Protocol, ServicePort, ServicePortName } from './types.ts';

/** Service ports of one Service (or of everything), keyed by ServicePortName.key. */
export type ServicePortMap = ReadonlyMap<string, ServicePort>;

/** Example: ("ns1", "svc1", "p80", "TCP") -> key "ns1/svc1:p80/TCP"; unnamed: "ns1/svc1:/TCP". */
export function makeServicePortName(namespace: string, name: string, port: string, protocol: Protocol): ServicePortName {
  return Object.freeze({
    namespace, name, port, protocol,
    key: `${namespace}/${name}:${port}/${protocol}`,
    service: `${namespace}/${name}`,
  });
}

function frozen<T>(items: T[]): readonly T[] {
  return Object.freeze(items);
}

/**
 * The ServicePorts of `svc` for `family`, or undefined when the Service has no cluster IP of
 * that family (upstream: GetClusterIPByFamily == "" means not proxied in that family) or no
 * ports. External IPs, LB VIPs and source ranges of the other family are dropped.
 */
export function servicePortsForFamily(svc: DecodedService, family: IPFamily): ServicePortMap | undefined {
  const clusterIP = svc.clusterIPs[family];
  if (clusterIP === undefined || svc.ports.length === 0) return undefined;
  const externalIPs = frozen(svc.externalIPs.filter((ip) => ip.family === family).map((ip) => ip.ip));
  const loadBalancerVIPs = frozen(svc.loadBalancerVIPs.filter((ip) => ip.family === family).map((ip) => ip.ip));
  const loadBalancerSourceRanges = frozen(svc.loadBalancerSourceRanges.filter((c) => c.family === family).map((c) => c.cidr));
  const out = new Map<string, ServicePort>();
  for (const p of svc.ports) {
    const name = makeServicePortName(svc.namespace, svc.name, p.name, p.protocol);
    out.set(name.key, Object.freeze({
      name, family, clusterIP, port: p.port, protocol: p.protocol, nodePort: p.nodePort,
      externalIPs, loadBalancerVIPs, loadBalancerSourceRanges,
      sessionAffinity: svc.sessionAffinity,
      externalPolicyLocal: svc.externalPolicyLocal,
      internalPolicyLocal: svc.internalPolicyLocal,
      healthCheckNodePort: svc.healthCheckNodePort,
      trafficDistribution: svc.trafficDistribution,
      loadBalancingAlgorithm: svc.loadBalancingAlgorithm,
    }));
  }
  return out;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function servicePortEqual(a: ServicePort, b: ServicePort): boolean {
  if (a === b) return true;
  const affinityEqual = a.sessionAffinity.type === b.sessionAffinity.type
    && (a.sessionAffinity.type !== 'ClientIP' || b.sessionAffinity.type !== 'ClientIP'
      || a.sessionAffinity.timeoutSeconds === b.sessionAffinity.timeoutSeconds);
  return a.name.key === b.name.key && a.family === b.family && a.clusterIP === b.clusterIP && a.port === b.port
    && a.protocol === b.protocol && a.nodePort === b.nodePort && sameStrings(a.externalIPs, b.externalIPs)
    && sameStrings(a.loadBalancerVIPs, b.loadBalancerVIPs) && sameStrings(a.loadBalancerSourceRanges, b.loadBalancerSourceRanges)
    && affinityEqual && a.externalPolicyLocal === b.externalPolicyLocal && a.internalPolicyLocal === b.internalPolicyLocal
    && a.healthCheckNodePort === b.healthCheckNodePort && a.trafficDistribution === b.trafficDistribution
    && a.loadBalancingAlgorithm === b.loadBalancingAlgorithm;
}

/** Value equality; undefined and empty are the same (no ports either way). */
export function servicePortMapsEqual(a: ServicePortMap | undefined, b: ServicePortMap | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  if (a === undefined || b === undefined) return true;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !servicePortEqual(v, w)) return false;
  }
  return true;
}

/**
 * Protocols whose conntrack entries outlive a backend change and so need cleanup hints.
 * Upstream does this for UDP only; model/types.ts asks for SCTP too (same connectionless
 * failure mode for stale entries, and deleting an extra entry is harmless).
 */
export function needsConntrackCleanup(protocol: Protocol): boolean {
  return protocol === 'UDP' || protocol === 'SCTP';
}

/** Health check node port per Service (upstream ServicePortMap.HealthCheckNodePorts). O(n). */
export function healthCheckNodePorts(services: Iterable<ServicePort>): Map<string, number> {
  const out = new Map<string, number>();
  for (const sp of services) if (sp.healthCheckNodePort !== 0) out.set(sp.name.service, sp.healthCheckNodePort);
  return out;
}
