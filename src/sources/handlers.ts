// The seam between sources (where objects come from) and the model (what they mean).
// Sources hold no logic: they deliver API objects as the API served them and say when the
// initial list of a resource is complete. Objects are `unknown` beyond their metadata: the
// model validates them (see model/decode/).

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** An API object as served by the API: metadata checked, the rest not yet validated. */
export interface KubeObject {
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

export interface ServiceHandler {
  onServiceAdd(service: KubeObject): void;
  onServiceUpdate(oldService: KubeObject, service: KubeObject): void;
  onServiceDelete(service: KubeObject): void;
  /** The initial list of Services has been delivered in full. */
  onServicesSynced(): void;
}

export interface EndpointSliceHandler {
  onEndpointSliceAdd(slice: KubeObject): void;
  onEndpointSliceUpdate(oldSlice: KubeObject, slice: KubeObject): void;
  onEndpointSliceDelete(slice: KubeObject): void;
  onEndpointSlicesSynced(): void;
}

export interface NodeHandler {
  onNodeAdd(node: KubeObject): void;
  onNodeUpdate(oldNode: KubeObject, node: KubeObject): void;
  onNodeDelete(node: KubeObject): void;
  onNodesSynced(): void;
}

/** ServiceCIDRs (networking.k8s.io/v1): the cluster's Service IP ranges. Optional: an API server may not serve them. */
export interface ServiceCIDRHandler {
  onServiceCIDRAdd(cidr: KubeObject): void;
  onServiceCIDRUpdate(oldCIDR: KubeObject, cidr: KubeObject): void;
  onServiceCIDRDelete(cidr: KubeObject): void;
  onServiceCIDRsSynced(): void;
}

export type ProxyHandlers = ServiceHandler & EndpointSliceHandler & NodeHandler & Partial<ServiceCIDRHandler>;

/** Something that feeds handlers until the signal aborts. */
export interface Source {
  run(handlers: ProxyHandlers, signal: AbortSignal): Promise<void>;
}
