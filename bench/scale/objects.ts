// What the benchmark creates: a shape is S Services × E endpoints, spread over 10 namespaces,
// each Service with one EndpointSlice (E ≤ 100 per slice, as the EndpointSlice controller
// packs them; more go into further slices). Endpoint addresses are unique (one pod each) and
// routed nowhere; the probe services point at the real pod.

import type { EndpointSlice, Namespace, Node, Service } from '../../test/lab/objects.ts';
import { endpointSlice, service } from '../../test/lab/objects.ts';
import { NODE_IP, NODE_NAME, POD_IP, POD_PORT } from './env.ts';

export interface Shape {
  readonly services: number;
  readonly endpoints: number;
  /** "10000x10" */
  readonly name: string;
}

export function parseShape(text: string): Shape {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`bad shape ${JSON.stringify(text)} (want SERVICESxENDPOINTS, e.g. 10000x10)`);
  const services = Number(m[1]);
  const endpoints = Number(m[2]);
  if (services < 1 || endpoints < 1 || endpoints > 1000) throw new Error(`shape out of range: ${text}`);
  return { services, endpoints, name: `${String(services)}x${String(endpoints)}` };
}

export const NAMESPACES = 10;
export const SLICE_CAPACITY = 100;
export const TARGET_PORT = POD_PORT;

export function namespaceOf(i: number): string {
  return `scale-${String(i % NAMESPACES)}`;
}

export function namespaces(): Namespace[] {
  return Array.from({ length: NAMESPACES }, (_, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `scale-${String(i)}` } }));
}

export function ourNode(): Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME } },
    spec: { podCIDR: '10.250.0.0/24', podCIDRs: ['10.250.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }, { type: 'Hostname', address: NODE_NAME }] },
  };
}

/** 10.128.0.0/9, one address per (service, endpoint): 250k fit in 10.128–10.131. */
export function endpointIP(i: number, j: number, perService: number): string {
  const k = i * perService + j;
  return `10.${String(128 + (k >>> 16))}.${String((k >>> 8) & 255)}.${String(k & 255)}`;
}

/** Fresh addresses for churn and edits: 10.200.0.0/13, never used by the bulk objects. */
export class FreshIPs {
  #k = 0;
  next(): string {
    const k = this.#k++;
    return `10.${String(200 + (k >>> 16))}.${String((k >>> 8) & 255)}.${String(k & 255)}`;
  }
}

export function benchService(ns: string, name: string, clusterIP?: string): Service {
  return service(ns, name, {
    ports: [{ port: 80, targetPort: TARGET_PORT, protocol: 'TCP' }],
    ...(clusterIP === undefined ? {} : { clusterIP, clusterIPs: [clusterIP] }),
  });
}

export function benchSlice(ns: string, svcName: string, sliceName: string, ips: readonly string[]): EndpointSlice {
  return endpointSlice(ns, sliceName, svcName, 'IPv4', [{ name: '', port: TARGET_PORT, protocol: 'TCP' }],
    ips.map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'elsewhere' })));
}

/** The Service and slices of bulk service i. */
export function bulkObjects(i: number, perService: number): { svc: Service; slices: EndpointSlice[] } {
  const ns = namespaceOf(i);
  const name = `svc-${String(i)}`;
  const slices: EndpointSlice[] = [];
  for (let s = 0; s * SLICE_CAPACITY < perService; s++) {
    const ips: string[] = [];
    for (let j = s * SLICE_CAPACITY; j < Math.min(perService, (s + 1) * SLICE_CAPACITY); j++) ips.push(endpointIP(i, j, perService));
    slices.push(benchSlice(ns, name, `${name}-${String(s)}`, ips));
  }
  return { svc: benchService(ns, name), slices };
}

/** A Service whose one endpoint is the real pod, so a connection through it can be checked. */
export function probeObjects(ns: string, name: string, clusterIP: string): { svc: Service; slice: EndpointSlice } {
  const slice = benchSlice(ns, name, `${name}-0`, [POD_IP]);
  return { svc: benchService(ns, name, clusterIP), slice };
}
