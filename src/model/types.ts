// The node-local service model: what every dataplane consumes. Nothing in here knows about
// a dataplane, and nothing here is a raw API object — decoders in ./decode/ turn API JSON into
// these validated, readonly values.

export type IPFamily = 'IPv4' | 'IPv6';
export const IP_FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** "namespace/name" of a Service. */
export type ServiceKey = string;

/**
 * Identity of one service port: upstream's ServicePortName. `key` is
 * "namespace/name:portName/PROTOCOL" (portName may be empty: "ns/svc:/TCP"), unique per service port.
 */
export interface ServicePortName {
  readonly namespace: string;
  readonly name: string;
  /** The port's `name` in the Service spec ("" when the service has a single unnamed port). */
  readonly port: string;
  readonly protocol: Protocol;
  readonly key: string;
  /** "namespace/name" */
  readonly service: ServiceKey;
}

/**
 * How the userspace dataplane picks an endpoint for a new connection or flow. Set per Service
 * with the annotation `kube-proxy-ts.io/load-balancing-algorithm` (see decode/service.ts);
 * kernel dataplanes ignore it.
 */
export type LoadBalancingAlgorithm = 'round-robin' | 'random' | 'least-connections' | 'power-of-two-choices' | 'source-hash';
export const LOAD_BALANCING_ALGORITHMS: readonly LoadBalancingAlgorithm[] = [
  'round-robin', 'random', 'least-connections', 'power-of-two-choices', 'source-hash',
];

export type SessionAffinity =
  | { readonly type: 'None' }
  | { readonly type: 'ClientIP'; readonly timeoutSeconds: number };

/**
 * One service port as seen by one IP family (upstream's BaseServicePortInfo). Addresses are
 * canonical strings of that family only.
 */
export interface ServicePort {
  readonly name: ServicePortName;
  readonly family: IPFamily;
  readonly clusterIP: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** 0 when the port has no NodePort. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  /** LoadBalancer ingress IPs of this family, excluding `ipMode: Proxy`. */
  readonly loadBalancerVIPs: readonly string[];
  /** CIDRs of this family, canonical ("10.0.0.0/8"). */
  readonly loadBalancerSourceRanges: readonly string[];
  readonly sessionAffinity: SessionAffinity;
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  /** 0 when the service needs no health check. */
  readonly healthCheckNodePort: number;
  /** spec.trafficDistribution, undefined when unset. */
  readonly trafficDistribution: string | undefined;
  /** Per-Service balancing override (userspace dataplane); undefined: the configured default. */
  readonly loadBalancingAlgorithm?: LoadBalancingAlgorithm | undefined;
}

/** Reachable via something other than the ClusterIP (NodePort, externalIP, LoadBalancer). */
export function externallyAccessible(sp: ServicePort): boolean {
  return sp.nodePort !== 0 || sp.loadBalancerVIPs.length > 0 || sp.externalIPs.length > 0;
}

/** Uses "Cluster" endpoints: internal policy Cluster, or any external access (short circuit). */
export function usesClusterEndpoints(sp: ServicePort): boolean {
  return !sp.internalPolicyLocal || externallyAccessible(sp);
}

/** Uses "Local" endpoints: internal policy Local, or external policy Local with external access. */
export function usesLocalEndpoints(sp: ServicePort): boolean {
  return sp.internalPolicyLocal || (sp.externalPolicyLocal && externallyAccessible(sp));
}

/** One backend of one service port (upstream's BaseEndpointInfo). */
export interface Endpoint {
  /** Canonical IP string. */
  readonly ip: string;
  readonly port: number;
  /** "ip:port" for IPv4, "[ip]:port" for IPv6: unique within a service port. */
  readonly key: string;
  readonly isLocal: boolean;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zoneHints: ReadonlySet<string>;
  readonly nodeHints: ReadonlySet<string>;
  /** Node the endpoint runs on, when the slice says. */
  readonly nodeName: string | undefined;
  readonly zone: string | undefined;
}

/** The parts of our own Node that the proxy uses. */
export interface NodeInfo {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
  /** Tainted ToBeDeletedByClusterAutoscaler. */
  readonly toBeDeletedByAutoscaler: boolean;
  /** status.addresses InternalIP/ExternalIP, canonical. */
  readonly addresses: readonly string[];
  /** spec.podCIDRs, canonical. */
  readonly podCIDRs: readonly string[];
}

/** UDP/SCTP endpoint that went away: conntrack entries towards it are stale. */
export interface StaleEndpoint {
  readonly servicePort: ServicePortName;
  readonly endpoint: Endpoint;
}

/**
 * The node-local model for one IP family at one sync: immutable. Dataplanes render from it.
 */
export interface FamilySnapshot {
  readonly family: IPFamily;
  readonly nodeName: string;
  /** Topology labels of our node (zone etc.). */
  readonly nodeLabels: ReadonlyMap<string, string>;
  /** Keyed by ServicePortName.key. */
  readonly services: ReadonlyMap<string, ServicePort>;
  /** Port keys (ServicePortName.key) of each Service in `services`: find a Service's ports in O(1). */
  readonly portsByService: ReadonlyMap<ServiceKey, readonly string[]>;
  /** All endpoints of each service port, keyed by ServicePortName.key (missing = none). */
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
  /** Services (ns/name) whose ports or endpoints changed since the previous snapshot. */
  readonly changedServices: ReadonlySet<ServiceKey>;
  /** Conntrack hints (upstream UpdateServiceMapResult / UpdateEndpointsMapResult). */
  readonly deletedUDPClusterIPs: ReadonlySet<string>;
  readonly deletedUDPEndpoints: readonly StaleEndpoint[];
  /** Service ports that went from 0 to >0 usable UDP/SCTP endpoints. */
  readonly newlyActiveUDPServices: readonly ServicePortName[];
  /**
   * This family's Service CIDRs from the cluster's ServiceCIDR objects (sorted, distinct), once
   * their initial list is in; absent when they are not watched (the configured ones apply).
   */
  readonly serviceCIDRs?: readonly string[];
}
