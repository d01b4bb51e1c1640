// The Kubernetes objects the lab writes, typed as far as the lab uses them (the API server
// validates and defaults the rest), and small builders.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamilyName = 'IPv4' | 'IPv6';

export interface ServicePortSpec {
  name?: string;
  protocol?: Protocol;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: IPFamilyName[];
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  ports?: ServicePortSpec[];
  selector?: Record<string, string>;
  externalIPs?: string[];
  externalName?: string;
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  loadBalancerSourceRanges?: string[];
  trafficDistribution?: string;
  publishNotReadyAddresses?: boolean;
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: { loadBalancer?: { ingress?: { ip?: string; ipMode?: 'VIP' | 'Proxy' }[] } };
}

export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface Endpoint {
  addresses: string[];
  conditions: EndpointConditions;
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[] };
}

export interface EndpointSlice {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: IPFamilyName;
  ports: { name: string; port: number; protocol: Protocol }[];
  endpoints: Endpoint[];
}

export interface Node {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec: { podCIDR?: string; podCIDRs?: string[]; taints?: { key: string; effect: string; value?: string }[] };
  status?: { addresses?: { type: string; address: string }[] };
}

export interface Namespace {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
}

export type KubeObject = Service | EndpointSlice | Node | Namespace;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export function service(namespace: string, name: string, spec: ServiceSpec, labels?: Record<string, string>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
}

export function endpointSlice(namespace: string, name: string, serviceName: string, addressType: IPFamilyName,
  ports: EndpointSlice['ports'], endpoints: Endpoint[], labels: Record<string, string> = {}): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { [SERVICE_NAME_LABEL]: serviceName, 'endpointslice.kubernetes.io/managed-by': 'lab.kube-proxy-ts.io', ...labels } },
    addressType, ports, endpoints,
  };
}

/** The API path of an object's collection. */
export function collectionPath(kind: KubeObject['kind'], namespace?: string): string {
  switch (kind) {
    case 'Node':
      return '/api/v1/nodes';
    case 'Namespace':
      return '/api/v1/namespaces';
    case 'Service':
      return `/api/v1/namespaces/${encodeURIComponent(namespace ?? 'default')}/services`;
    case 'EndpointSlice':
      return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace ?? 'default')}/endpointslices`;
  }
}

export function objectPath(kind: KubeObject['kind'], namespace: string | undefined, name: string): string {
  return `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`;
}
