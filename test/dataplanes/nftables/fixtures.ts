// Builders for nftables dataplane tests.
//
// Address conventions (as upstream's proxier_test.go):
//   Pod IPs 10.0.0.0/8 · ClusterIPs 172.30.0.0/16 · Node IPs 192.168.0.0/24, local node
//   192.168.0.2 · ExternalIPs 192.168.99.0/24 · LoadBalancer IPs 1.2.3.4, 5.6.7.8 ·
//   non-cluster clients 203.0.113.0/24 · LB source range 203.0.113.0/25

import type { Endpoint, FamilySnapshot, IPFamily, Protocol, ServiceKey, ServicePort, ServicePortName } from '../../../src/model/types.ts';
import type { NftablesRenderOptions } from '../../../src/dataplanes/nftables/options.ts';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const TEST_NODE = 'test-node';
export const TEST_NODE_IP = '192.168.0.2';
export const TEST_NODE_IP_ALT = '192.168.1.2';
export const TEST_EXTERNAL_CLIENT = '203.0.113.2';
export const TEST_EXTERNAL_CLIENT_BLOCKED = '203.0.113.130';
export const TEST_NODE_IPS = [TEST_NODE_IP, TEST_NODE_IP_ALT, '192.168.99.11', '2001:db8::1', '2001:db8:1::2'];

export function portName(ns: string, name: string, port: string, protocol: Protocol = 'TCP'): ServicePortName {
  return { namespace: ns, name, port, protocol, key: `${ns}/${name}:${port}/${protocol}`, service: `${ns}/${name}` };
}

export function makePort(ns: string, name: string, port: string, fn: (sp: Mutable<ServicePort>) => void = () => undefined, protocol: Protocol = 'TCP'): ServicePort {
  const sp: Mutable<ServicePort> = {
    name: portName(ns, name, port, protocol),
    family: 'IPv4',
    clusterIP: '172.30.0.41',
    port: 80,
    protocol,
    nodePort: 0,
    externalIPs: [],
    loadBalancerVIPs: [],
    loadBalancerSourceRanges: [],
    sessionAffinity: { type: 'None' },
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
    trafficDistribution: undefined,
  };
  fn(sp);
  if (sp.protocol !== protocol) sp.name = portName(ns, name, port, sp.protocol);
  return sp;
}

export function makeEndpoint(ip: string, port: number, fn: (ep: Mutable<Endpoint>) => void = () => undefined): Endpoint {
  const ep: Mutable<Endpoint> = {
    ip, port, key: ip.includes(':') ? `[${ip}]:${String(port)}` : `${ip}:${String(port)}`,
    isLocal: false, ready: true, serving: true, terminating: false,
    zoneHints: new Set(), nodeHints: new Set(), nodeName: undefined, zone: undefined,
  };
  fn(ep);
  return ep;
}

export const local = (ep: Mutable<Endpoint>): void => { ep.isLocal = true; ep.nodeName = TEST_NODE; };
export const terminating = (ep: Mutable<Endpoint>): void => { ep.ready = false; ep.serving = true; ep.terminating = true; };
export const notServing = (ep: Mutable<Endpoint>): void => { ep.ready = false; ep.serving = false; ep.terminating = true; };

export interface SnapshotInput {
  readonly family?: IPFamily;
  readonly ports: readonly (readonly [ServicePort, readonly Endpoint[]])[];
  readonly changed?: readonly ServiceKey[];
  readonly labels?: ReadonlyMap<string, string>;
  readonly deletedUDPClusterIPs?: readonly string[];
  readonly deletedUDPEndpoints?: FamilySnapshot['deletedUDPEndpoints'];
  readonly newlyActiveUDPServices?: FamilySnapshot['newlyActiveUDPServices'];
}

export function makeSnapshot(input: SnapshotInput): FamilySnapshot {
  const services = new Map<string, ServicePort>();
  const endpoints = new Map<string, readonly Endpoint[]>();
  const portsByService = new Map<string, string[]>();
  for (const [sp, eps] of input.ports) {
    services.set(sp.name.key, sp);
    portsByService.set(sp.name.service, [...(portsByService.get(sp.name.service) ?? []), sp.name.key]);
    if (eps.length > 0) endpoints.set(sp.name.key, eps);
  }
  return {
    family: input.family ?? 'IPv4',
    nodeName: TEST_NODE,
    nodeLabels: input.labels ?? new Map(),
    services,
    portsByService,
    endpoints,
    changedServices: new Set(input.changed ?? input.ports.map(([sp]) => sp.name.service)),
    deletedUDPClusterIPs: new Set(input.deletedUDPClusterIPs ?? []),
    deletedUDPEndpoints: input.deletedUDPEndpoints ?? [],
    newlyActiveUDPServices: input.newlyActiveUDPServices ?? [],
  };
}

/** Options of upstream's NewFakeProxier: pod CIDR detection, NodePorts on the node IP, service CIDR. */
export function testOptions(family: IPFamily = 'IPv4', over: Partial<NftablesRenderOptions> = {}): NftablesRenderOptions {
  return {
    masqueradeAll: false,
    masqueradeBit: 14,
    localDetector: { mode: 'ClusterCIDR', cidrs: family === 'IPv4' ? ['10.0.0.0/8'] : ['fd00:10::/64'] },
    nodePortAddresses: { kind: 'cidrs', cidrs: [`${TEST_NODE_IP}/32`, '2001:db8::1/128'] },
    nodeIPs: [TEST_NODE_IP, '2001:db8::1'],
    localAddresses: TEST_NODE_IPS,
    serviceCIDRs: family === 'IPv4' ? ['172.30.0.0/16'] : ['fd00:10:96::/112'],
    ...over,
  };
}
