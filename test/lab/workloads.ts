// Services and their EndpointSlices built from the lab's pods. There is no endpointslice
// controller here (nor kubelets), so the lab writes the slices a controller would write: one
// per address family, endpoints with nodeName, zone and ready/serving/terminating.

import type { ApiClient } from './api.ts';
import { endpointSlice, service, type Endpoint, type EndpointSlice, type IPFamilyName, type Service, type ServicePortSpec, type ServiceSpec } from './objects.ts';
import type { Family } from './topology.ts';

/** What the workload helpers need to know about a pod. */
export interface PodRef {
  readonly name: string;
  readonly nodeName: string;
  readonly zone: string;
  readonly ips: Readonly<Record<Family, string>>;
}

export interface EndpointState {
  readonly pod: PodRef;
  readonly ready?: boolean;
  /** Default: same as ready. */
  readonly serving?: boolean;
  readonly terminating?: boolean;
  /** Topology hints (trafficDistribution PreferClose): the zones this endpoint is for. */
  readonly forZones?: readonly string[];
}

export type EndpointInput = PodRef | EndpointState;

function isState(e: EndpointInput): e is EndpointState {
  return 'pod' in e;
}

/** A Service as the API server returned it (with its allocated ClusterIPs and NodePorts). */
export class DeployedService {
  readonly object: Service;

  constructor(object: Service) {
    this.object = object;
  }

  get namespace(): string {
    return this.object.metadata.namespace ?? 'default';
  }

  get name(): string {
    return this.object.metadata.name;
  }

  get families(): IPFamilyName[] {
    return this.object.spec.ipFamilies ?? ['IPv4'];
  }

  clusterIP(family: Family = 'IPv4'): string {
    const ips = this.object.spec.clusterIPs ?? (this.object.spec.clusterIP !== undefined ? [this.object.spec.clusterIP] : []);
    const ip = ips.find((a) => (family === 'IPv6') === a.includes(':'));
    if (ip === undefined) throw new Error(`service ${this.name} has no ${family} ClusterIP (${ips.join(', ')})`);
    return ip;
  }

  #port(name?: string, protocol?: string): ServicePortSpec {
    const ports = this.object.spec.ports ?? [];
    const p = ports.find((q) => (name === undefined || (q.name ?? '') === name) && (protocol === undefined || (q.protocol ?? 'TCP') === protocol));
    if (p === undefined) throw new Error(`service ${this.name} has no port ${name ?? '(first)'} ${protocol ?? ''}`);
    return p;
  }

  port(name?: string, protocol?: string): number {
    return this.#port(name, protocol).port;
  }

  nodePort(name?: string, protocol?: string): number {
    const np = this.#port(name, protocol).nodePort;
    if (np === undefined || np === 0) throw new Error(`service ${this.name} port ${name ?? ''} has no nodePort`);
    return np;
  }

  get healthCheckNodePort(): number {
    const hc = this.object.spec.healthCheckNodePort;
    if (hc === undefined || hc === 0) throw new Error(`service ${this.name} has no healthCheckNodePort`);
    return hc;
  }
}

function sliceEndpoint(e: EndpointInput, family: Family): Endpoint {
  const s: EndpointState = isState(e) ? e : { pod: e };
  const ready = s.ready ?? true;
  return {
    addresses: [s.pod.ips[family]],
    conditions: { ready, serving: s.serving ?? ready, terminating: s.terminating ?? false },
    nodeName: s.pod.nodeName,
    zone: s.pod.zone,
    ...(s.forZones !== undefined ? { hints: { forZones: s.forZones.map((name) => ({ name })) } } : {}),
  };
}

/** The slices a controller would write for `svc` with these endpoints (one per family). */
export function slicesFor(svc: DeployedService, endpoints: readonly EndpointInput[], families: readonly IPFamilyName[] = svc.families): EndpointSlice[] {
  const ports = (svc.object.spec.ports ?? []).map((p) => {
    const target = p.targetPort ?? p.port;
    if (typeof target !== 'number') throw new Error(`service ${svc.name}: the lab needs numeric targetPorts, got ${target}`);
    return { name: p.name ?? '', port: target, protocol: p.protocol ?? 'TCP' };
  });
  return families.map((f) => endpointSlice(svc.namespace, `${svc.name}-${f === 'IPv4' ? 'v4' : 'v6'}`, svc.name, f, ports,
    endpoints.map((e) => sliceEndpoint(e, f))));
}

/** Creates a Service through the API and returns it as allocated. */
export async function createService(api: ApiClient, namespace: string, name: string, spec: ServiceSpec, labels?: Record<string, string>): Promise<DeployedService> {
  return new DeployedService(await api.create(service(namespace, name, spec, labels)));
}

/** Writes (creates or replaces) the service's slices. */
export async function writeEndpoints(api: ApiClient, svc: DeployedService, endpoints: readonly EndpointInput[], families?: readonly IPFamilyName[]): Promise<void> {
  for (const slice of slicesFor(svc, endpoints, families)) await api.apply(slice);
}
