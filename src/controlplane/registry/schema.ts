// One description of the served types (fields, Go struct names, list merge semantics), used to
// decode input like the Go API server does (unknown fields pruned or rejected, type errors),
// to apply strategic merge patches with upstream's merge keys, and to publish OpenAPI v3.

export type ScalarType = 'string' | 'int32' | 'int64' | 'boolean' | 'intOrString' | 'quantity' | 'time' | 'any';

export type FieldSchema =
  | { readonly type: ScalarType }
  | { readonly type: 'map'; readonly values: FieldSchema; readonly atomic?: boolean }
  | {
      readonly type: 'list';
      readonly items: FieldSchema;
      /** Strategic merge: 'merge' merges by patchMergeKey (objects) or as a set (scalars). */
      readonly patchStrategy?: 'merge';
      readonly patchMergeKey?: string;
      readonly listType: 'atomic' | 'set' | 'map';
      readonly listMapKeys?: readonly string[];
    }
  | { readonly type: 'ref'; readonly ref: string };

export interface ObjectDef {
  /** OpenAPI component name, e.g. io.k8s.api.core.v1.ServiceSpec. */
  readonly name: string;
  /** Go type name, used in decoding errors ("Go struct field ServicePort.spec.ports.port"). */
  readonly goName: string;
  readonly fields: Readonly<Record<string, FieldSchema>>;
  readonly required?: readonly string[];
  readonly gvk?: { readonly group: string; readonly version: string; readonly kind: string };
}

const S: FieldSchema = { type: 'string' };
const I32: FieldSchema = { type: 'int32' };
const I64: FieldSchema = { type: 'int64' };
const B: FieldSchema = { type: 'boolean' };
const T: FieldSchema = { type: 'time' };
const ANY: FieldSchema = { type: 'any' };
const ref = (r: string): FieldSchema => ({ type: 'ref', ref: r });
const map = (values: FieldSchema, atomic = false): FieldSchema => ({ type: 'map', values, atomic });
const atomicList = (items: FieldSchema): FieldSchema => ({ type: 'list', items, listType: 'atomic' });
const setList = (items: FieldSchema, merge = false): FieldSchema =>
  merge ? { type: 'list', items, listType: 'set', patchStrategy: 'merge' } : { type: 'list', items, listType: 'set' };
const mergeList = (items: FieldSchema, key: string, mapKeys: readonly string[] = [key]): FieldSchema =>
  ({ type: 'list', items, listType: 'map', listMapKeys: mapKeys, patchStrategy: 'merge', patchMergeKey: key });

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const CORE = 'io.k8s.api.core.v1.';
const DISC = 'io.k8s.api.discovery.v1.';

function def(name: string, fields: Record<string, FieldSchema>, extra: Partial<ObjectDef> = {}): ObjectDef {
  const goName = name.slice(name.lastIndexOf('.') + 1);
  return { name, goName, fields, ...extra };
}

function topLevel(name: string, group: string, kind: string, spec: string | undefined, status: string | undefined, extra: Record<string, FieldSchema> = {}): ObjectDef {
  const fields: Record<string, FieldSchema> = { apiVersion: S, kind: S, metadata: ref(`${META}ObjectMeta`), ...extra };
  if (spec) fields['spec'] = ref(spec);
  if (status) fields['status'] = ref(status);
  return def(name, fields, { gvk: { group, version: 'v1', kind } });
}

const defs: ObjectDef[] = [
  // ---- meta ----
  def(`${META}ObjectMeta`, {
    name: S, generateName: S, namespace: S, selfLink: S, uid: S, resourceVersion: S, generation: I64,
    creationTimestamp: T, deletionTimestamp: T, deletionGracePeriodSeconds: I64,
    labels: map(S), annotations: map(S),
    ownerReferences: mergeList(ref(`${META}OwnerReference`), 'uid'),
    finalizers: setList(S, true),
    managedFields: atomicList(ref(`${META}ManagedFieldsEntry`)),
  }),
  def(`${META}OwnerReference`, { apiVersion: S, kind: S, name: S, uid: S, controller: B, blockOwnerDeletion: B }, { required: ['apiVersion', 'kind', 'name', 'uid'] }),
  def(`${META}ManagedFieldsEntry`, { manager: S, operation: S, apiVersion: S, time: T, fieldsType: S, fieldsV1: ANY, subresource: S }),
  def(`${META}Condition`, { type: S, status: S, observedGeneration: I64, lastTransitionTime: T, reason: S, message: S }, { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] }),
  // ---- core/v1 Service ----
  topLevel(`${CORE}Service`, '', 'Service', `${CORE}ServiceSpec`, `${CORE}ServiceStatus`),
  def(`${CORE}ServiceSpec`, {
    ports: mergeList(ref(`${CORE}ServicePort`), 'port', ['port', 'protocol']),
    selector: map(S, true),
    clusterIP: S, clusterIPs: atomicList(S), type: S, externalIPs: atomicList(S), sessionAffinity: S,
    loadBalancerIP: S, loadBalancerSourceRanges: atomicList(S), externalName: S, externalTrafficPolicy: S,
    healthCheckNodePort: I32, publishNotReadyAddresses: B, sessionAffinityConfig: ref(`${CORE}SessionAffinityConfig`),
    ipFamilies: atomicList(S), ipFamilyPolicy: S, allocateLoadBalancerNodePorts: B, loadBalancerClass: S,
    internalTrafficPolicy: S, trafficDistribution: S,
  }),
  def(`${CORE}ServicePort`, { name: S, protocol: S, appProtocol: S, port: I32, targetPort: { type: 'intOrString' }, nodePort: I32 }, { required: ['port'] }),
  def(`${CORE}SessionAffinityConfig`, { clientIP: ref(`${CORE}ClientIPConfig`) }),
  def(`${CORE}ClientIPConfig`, { timeoutSeconds: I32 }),
  def(`${CORE}ServiceStatus`, { loadBalancer: ref(`${CORE}LoadBalancerStatus`), conditions: mergeList(ref(`${META}Condition`), 'type') }),
  def(`${CORE}LoadBalancerStatus`, { ingress: atomicList(ref(`${CORE}LoadBalancerIngress`)) }),
  def(`${CORE}LoadBalancerIngress`, { ip: S, hostname: S, ipMode: S, ports: atomicList(ref(`${CORE}PortStatus`)) }),
  def(`${CORE}PortStatus`, { port: I32, protocol: S, error: S }, { required: ['port', 'protocol'] }),
  // ---- core/v1 Node ----
  topLevel(`${CORE}Node`, '', 'Node', `${CORE}NodeSpec`, `${CORE}NodeStatus`),
  def(`${CORE}NodeSpec`, {
    podCIDR: S, podCIDRs: setList(S, true), providerID: S, unschedulable: B,
    taints: atomicList(ref(`${CORE}Taint`)), configSource: ref(`${CORE}NodeConfigSource`), externalID: S,
  }),
  def(`${CORE}Taint`, { key: S, value: S, effect: S, timeAdded: T }, { required: ['key', 'effect'] }),
  def(`${CORE}NodeConfigSource`, { configMap: ref(`${CORE}ConfigMapNodeConfigSource`) }),
  def(`${CORE}ConfigMapNodeConfigSource`, { namespace: S, name: S, uid: S, resourceVersion: S, kubeletConfigKey: S }),
  def(`${CORE}NodeStatus`, {
    capacity: map({ type: 'quantity' }), allocatable: map({ type: 'quantity' }), phase: S,
    conditions: mergeList(ref(`${CORE}NodeCondition`), 'type'),
    addresses: mergeList(ref(`${CORE}NodeAddress`), 'type'),
    daemonEndpoints: ref(`${CORE}NodeDaemonEndpoints`), nodeInfo: ref(`${CORE}NodeSystemInfo`),
    images: atomicList(ref(`${CORE}ContainerImage`)), volumesInUse: atomicList(S),
    volumesAttached: atomicList(ref(`${CORE}AttachedVolume`)), config: ref(`${CORE}NodeConfigStatus`),
    runtimeHandlers: atomicList(ref(`${CORE}NodeRuntimeHandler`)), features: ref(`${CORE}NodeFeatures`),
  }),
  def(`${CORE}NodeCondition`, { type: S, status: S, lastHeartbeatTime: T, lastTransitionTime: T, reason: S, message: S }, { required: ['type', 'status'] }),
  def(`${CORE}NodeAddress`, { type: S, address: S }, { required: ['type', 'address'] }),
  def(`${CORE}NodeDaemonEndpoints`, { kubeletEndpoint: ref(`${CORE}DaemonEndpoint`) }),
  def(`${CORE}DaemonEndpoint`, { Port: I32 }, { required: ['Port'] }),
  def(`${CORE}NodeSystemInfo`, {
    machineID: S, systemUUID: S, bootID: S, kernelVersion: S, osImage: S, containerRuntimeVersion: S,
    kubeletVersion: S, kubeProxyVersion: S, operatingSystem: S, architecture: S, swap: ref(`${CORE}NodeSwapStatus`),
  }),
  def(`${CORE}NodeSwapStatus`, { capacity: I64 }),
  def(`${CORE}ContainerImage`, { names: atomicList(S), sizeBytes: I64 }),
  def(`${CORE}AttachedVolume`, { name: S, devicePath: S }, { required: ['name', 'devicePath'] }),
  def(`${CORE}NodeConfigStatus`, { assigned: ref(`${CORE}NodeConfigSource`), active: ref(`${CORE}NodeConfigSource`), lastKnownGood: ref(`${CORE}NodeConfigSource`), error: S }),
  def(`${CORE}NodeRuntimeHandler`, { name: S, features: ref(`${CORE}NodeRuntimeHandlerFeatures`) }),
  def(`${CORE}NodeRuntimeHandlerFeatures`, { recursiveReadOnlyMounts: B, userNamespaces: B }),
  def(`${CORE}NodeFeatures`, { supplementalGroupsPolicy: B }),
  // ---- core/v1 Namespace ----
  topLevel(`${CORE}Namespace`, '', 'Namespace', `${CORE}NamespaceSpec`, `${CORE}NamespaceStatus`),
  def(`${CORE}NamespaceSpec`, { finalizers: atomicList(S) }),
  def(`${CORE}NamespaceStatus`, { phase: S, conditions: mergeList(ref(`${CORE}NamespaceCondition`), 'type') }),
  def(`${CORE}NamespaceCondition`, { type: S, status: S, lastTransitionTime: T, reason: S, message: S }, { required: ['type', 'status'] }),
  def(`${CORE}ObjectReference`, { kind: S, namespace: S, name: S, uid: S, apiVersion: S, resourceVersion: S, fieldPath: S }),
  // ---- discovery.k8s.io/v1 EndpointSlice ----
  topLevel(`${DISC}EndpointSlice`, 'discovery.k8s.io', 'EndpointSlice', undefined, undefined, {
    addressType: S, endpoints: atomicList(ref(`${DISC}Endpoint`)), ports: atomicList(ref(`${DISC}EndpointPort`)),
  }),
  def(`${DISC}Endpoint`, {
    addresses: setList(S), conditions: ref(`${DISC}EndpointConditions`), hostname: S,
    targetRef: ref(`${CORE}ObjectReference`), deprecatedTopology: map(S), nodeName: S, zone: S, hints: ref(`${DISC}EndpointHints`),
  }, { required: ['addresses'] }),
  def(`${DISC}EndpointConditions`, { ready: B, serving: B, terminating: B }),
  def(`${DISC}EndpointHints`, { forZones: atomicList(ref(`${DISC}ForZone`)), forNodes: atomicList(ref(`${DISC}ForNode`)) }),
  def(`${DISC}ForZone`, { name: S }, { required: ['name'] }),
  def(`${DISC}ForNode`, { name: S }, { required: ['name'] }),
  def(`${DISC}EndpointPort`, { name: S, protocol: S, port: I32, appProtocol: S }),
];

export const SCHEMAS: ReadonlyMap<string, ObjectDef> = new Map(defs.map((d) => [d.name, d]));

export function schemaDef(name: string): ObjectDef {
  const d = SCHEMAS.get(name);
  if (!d) throw new Error(`unknown schema ${name}`);
  return d;
}

export const SCHEMA_NAMES = {
  service: `${CORE}Service`,
  node: `${CORE}Node`,
  namespace: `${CORE}Namespace`,
  endpointSlice: `${DISC}EndpointSlice`,
} as const;

/** Resolves a field schema to its object def when it is a ref. */
export function refDef(s: FieldSchema | undefined): ObjectDef | undefined {
  return s?.type === 'ref' ? schemaDef(s.ref) : undefined;
}
