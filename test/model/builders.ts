// Builders for API-shaped JSON (what the API server serves) and for model values, shared by
// tests across the project.
//
// Address ranges used in tests (as upstream's proxier tests): pods 10.0.0.0/8, ClusterIPs
// 172.30.0.0/16 (IPv4) and fd00:172:30::/112 (IPv6), external/LB IPs 192.168.99.0/24 and
// 1.2.3.0/24.
//
//   const svc = makeService('ns1', 'svc1', (s) => {
//     s.spec.type = 'NodePort';
//     addPort(s, 'p80', 'TCP', 80, 30080);
//   });
//   const slice = makeSlice('ns1', 'svc1', 1, (s) => {
//     s.ports = [slicePort('p80', 80)];
//     s.endpoints = [endpoint('10.0.1.1', { nodeName: 'node1' })];
//   });

import type { KubeObject } from '../../src/sources/handlers.ts';
import { joinHostPort } from '../../src/model/ip.ts';
import type { Endpoint } from '../../src/model/types.ts';

export type Json = Record<string, unknown>;

export interface ObjectMetaJSON {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  [field: string]: unknown;
}

export interface ServicePortJSON {
  name?: string;
  protocol?: string;
  port: number;
  nodePort?: number;
  targetPort?: number | string;
  [field: string]: unknown;
}

export interface LoadBalancerIngressJSON {
  ip?: string;
  hostname?: string;
  ipMode?: string;
}

export type ServiceJSON = {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMetaJSON;
  spec: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    ports?: ServicePortJSON[];
    externalIPs?: string[];
    loadBalancerSourceRanges?: string[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
    healthCheckNodePort?: number;
    trafficDistribution?: string;
    externalName?: string;
    [field: string]: unknown;
  };
  status: { loadBalancer: { ingress?: LoadBalancerIngressJSON[] } };
};

export interface EndpointJSON {
  addresses: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
  [field: string]: unknown;
}

export interface EndpointPortJSON {
  name?: string;
  port?: number | null;
  protocol?: string;
  [field: string]: unknown;
}

export type EndpointSliceJSON = {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMetaJSON;
  addressType: string;
  endpoints: EndpointJSON[];
  ports: EndpointPortJSON[];
};

export type NodeJSON = {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMetaJSON;
  spec: { podCIDR?: string; podCIDRs?: string[]; taints?: { key: string; effect: string; value?: string }[]; [field: string]: unknown };
  status: { addresses?: { type: string; address: string }[]; [field: string]: unknown };
};

/** A ClusterIP Service with cluster IP 172.30.0.1 and no ports; `mutate` adjusts it. */
export function makeService(namespace: string, name: string, mutate?: (s: ServiceJSON) => void): ServiceJSON & KubeObject {
  const svc: ServiceJSON = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: '1' },
    spec: { type: 'ClusterIP', clusterIP: '172.30.0.1', clusterIPs: ['172.30.0.1'], ipFamilies: ['IPv4'] },
    status: { loadBalancer: {} },
  };
  mutate?.(svc);
  return svc;
}

/** Sets spec.clusterIP(s) and ipFamilies from the given IPs (primary first). */
export function setClusterIPs(svc: ServiceJSON, ...ips: string[]): void {
  svc.spec.clusterIP = ips[0] ?? '';
  svc.spec.clusterIPs = ips;
  svc.spec.ipFamilies = ips.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4'));
}

/** Appends a port (upstream addTestPort). */
export function addPort(svc: ServiceJSON, name: string, protocol: string, port: number, nodePort = 0, targetPort: number | string = port): void {
  const p: ServicePortJSON = { name, protocol, port, targetPort };
  if (nodePort !== 0) p.nodePort = nodePort;
  (svc.spec.ports ??= []).push(p);
}

export interface EndpointOptions {
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
  nodeName?: string;
  zone?: string;
  zoneHints?: string[];
  nodeHints?: string[];
}

/** One EndpointSlice endpoint; conditions are only set when given. */
export function endpoint(address: string, opts: EndpointOptions = {}): EndpointJSON {
  const e: EndpointJSON = { addresses: [address] };
  const conditions: NonNullable<EndpointJSON['conditions']> = {};
  if (opts.ready !== undefined) conditions.ready = opts.ready;
  if (opts.serving !== undefined) conditions.serving = opts.serving;
  if (opts.terminating !== undefined) conditions.terminating = opts.terminating;
  if (Object.keys(conditions).length > 0) e.conditions = conditions;
  if (opts.nodeName !== undefined) e.nodeName = opts.nodeName;
  if (opts.zone !== undefined) e.zone = opts.zone;
  if (opts.zoneHints !== undefined || opts.nodeHints !== undefined) {
    e.hints = {};
    if (opts.zoneHints !== undefined) e.hints.forZones = opts.zoneHints.map((n) => ({ name: n }));
    if (opts.nodeHints !== undefined) e.hints.forNodes = opts.nodeHints.map((n) => ({ name: n }));
  }
  return e;
}

export function slicePort(name: string, port: number, protocol = 'TCP'): EndpointPortJSON {
  return { name, port, protocol };
}

/**
 * An IPv4 EndpointSlice of Service namespace/serviceName, named "<serviceName>-<slice>"
 * (upstream makeTestEndpointSlice), with no endpoints or ports until `mutate` adds them.
 */
export function makeSlice(namespace: string, serviceName: string, slice: number | string, mutate?: (s: EndpointSliceJSON) => void): EndpointSliceJSON & KubeObject {
  const es: EndpointSliceJSON = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: typeof slice === 'number' ? `${serviceName}-${slice}` : slice,
      namespace,
      resourceVersion: '1',
      labels: { 'kubernetes.io/service-name': serviceName },
      annotations: {},
    },
    addressType: 'IPv4',
    endpoints: [],
    ports: [],
  };
  mutate?.(es);
  return es;
}

/**
 * Upstream generateEndpointSliceWithOffset: `numEndpoints` endpoints 10.0.<offset>.<i>
 * (i from 1); endpoint i is unready when i % unreadyMod == 0 and terminating when
 * i % terminatingMod == 0; nodeName hosts[i % hosts.length]; ports "port-<n>".
 */
export function generateEndpointSliceWithOffset(serviceName: string, namespace: string, sliceNum: number, offset: number, numEndpoints: number,
  unreadyMod: number, terminatingMod: number, hosts: string[], portNums: (number | null)[]): EndpointSliceJSON & KubeObject {
  return makeSlice(namespace, serviceName, sliceNum, (s) => {
    s.ports = portNums.map((p, i) => ({ name: `port-${i}`, port: p, protocol: 'TCP' }));
    for (let i = 1; i <= numEndpoints; i++) {
      const readyCondition = i % unreadyMod !== 0;
      const terminating = i % terminatingMod === 0;
      const e: EndpointJSON = {
        addresses: [`10.0.${offset}.${i}`],
        conditions: { ready: readyCondition && !terminating, serving: readyCondition, terminating },
      };
      const host = hosts.length > 0 ? hosts[i % hosts.length] : undefined;
      if (host !== undefined) e.nodeName = host;
      s.endpoints.push(e);
    }
  });
}

/** Upstream generateEndpointSlice: offset = sliceNum. */
export function generateEndpointSlice(serviceName: string, namespace: string, sliceNum: number, numEndpoints: number,
  unreadyMod: number, terminatingMod: number, hosts: string[], portNums: (number | null)[]): EndpointSliceJSON & KubeObject {
  return generateEndpointSliceWithOffset(serviceName, namespace, sliceNum, sliceNum, numEndpoints, unreadyMod, terminatingMod, hosts, portNums);
}

/** A Node with an InternalIP; `mutate` adds labels, taints, CIDRs. */
export function makeNode(name: string, mutate?: (n: NodeJSON) => void): NodeJSON & KubeObject {
  const node: NodeJSON = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, resourceVersion: '1', labels: { 'kubernetes.io/hostname': name } },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }, { type: 'Hostname', address: name }] },
  };
  mutate?.(node);
  return node;
}

/** A model Endpoint from "ip:port" (or "[ip]:port") for pure-function tests (topology). */
export function modelEndpoint(key: string, opts: Partial<Omit<Endpoint, 'zoneHints' | 'nodeHints'>> & { zoneHints?: string[]; nodeHints?: string[] } = {}): Endpoint {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(key);
  if (m === null) throw new Error(`bad endpoint key ${key}`);
  const ip = m[1] ?? '';
  const port = Number(m[2]);
  return {
    ip, port, key: joinHostPort(ip, port),
    isLocal: opts.isLocal ?? false,
    ready: opts.ready ?? false,
    serving: opts.serving ?? false,
    terminating: opts.terminating ?? false,
    zoneHints: new Set(opts.zoneHints ?? []),
    nodeHints: new Set(opts.nodeHints ?? []),
    nodeName: opts.nodeName,
    zone: opts.zone,
  };
}
