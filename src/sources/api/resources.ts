// What kube-proxy lists and watches, with the selectors upstream uses
// (cmd/kube-proxy/app/server.go, ProxyServer.Run, after k/k PR #134623 split the informers):
//   - Services:       labelSelector "!service.kubernetes.io/service-proxy-name",
//                     fieldSelector "spec.clusterIP!=None" (headless Services are not watched,
//                     k/k PR #126769; needs an API server ≥ 1.31 for that field selector);
//   - EndpointSlices: labelSelector "!service.kubernetes.io/headless";
//   - our Node:       fieldSelector "metadata.name=<node>" (NodeManager's informer).
// Before that split (≤ 1.35) one selector "!service.kubernetes.io/headless,
// !service.kubernetes.io/service-proxy-name" was applied to both Services and EndpointSlices;
// `LEGACY_COMBINED_LABEL_SELECTOR` reproduces it.

export interface ResourceSpec {
  /** Plural name, for logs and metrics: "services". */
  readonly name: string;
  readonly kind: string;
  /** Collection path, all namespaces: "/api/v1/services". */
  readonly path: string;
  readonly namespaced: boolean;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
}

export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

export const SERVICES_LABEL_SELECTOR = `!${LABEL_SERVICE_PROXY_NAME}`;
export const SERVICES_FIELD_SELECTOR = 'spec.clusterIP!=None';
export const ENDPOINT_SLICES_LABEL_SELECTOR = `!${LABEL_HEADLESS}`;
/** labels.Selector sorts requirements by key, hence headless first. */
export const LEGACY_COMBINED_LABEL_SELECTOR = `!${LABEL_HEADLESS},!${LABEL_SERVICE_PROXY_NAME}`;

export interface ServiceSelectorOptions {
  /**
   * Send `spec.clusterIP!=None` (upstream since 1.32). Turn off for API servers that do not
   * support that field selector; the model skips headless Services anyway. Default true.
   */
  readonly headlessFieldSelector?: boolean | undefined;
}

export function servicesResource(opts: ServiceSelectorOptions = {}): ResourceSpec {
  return {
    name: 'services',
    kind: 'Service',
    path: '/api/v1/services',
    namespaced: true,
    labelSelector: SERVICES_LABEL_SELECTOR,
    fieldSelector: opts.headlessFieldSelector === false ? undefined : SERVICES_FIELD_SELECTOR,
  };
}

export function endpointSlicesResource(): ResourceSpec {
  return {
    name: 'endpointslices',
    kind: 'EndpointSlice',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    namespaced: true,
    labelSelector: ENDPOINT_SLICES_LABEL_SELECTOR,
  };
}

export function nodeResource(nodeName: string): ResourceSpec {
  if (nodeName === '') throw new RangeError('node name must not be empty');
  return {
    name: 'nodes',
    kind: 'Node',
    path: '/api/v1/nodes',
    namespaced: false,
    fieldSelector: `metadata.name=${escapeFieldValue(nodeName)}`,
  };
}

/**
 * ServiceCIDRs (networking.k8s.io/v1, GA in 1.33): the cluster's Service IP ranges, all of
 * them (upstream's ServiceCIDR informer has no selector). An API server that does not serve
 * them answers 404: the resource is optional (ReflectorOptions.optional).
 */
export function serviceCIDRsResource(): ResourceSpec {
  return {
    name: 'servicecidrs',
    kind: 'ServiceCIDR',
    path: '/apis/networking.k8s.io/v1/servicecidrs',
    namespaced: false,
  };
}

/** fields.EscapeValue: backslash-escape the selector's own syntax characters. */
export function escapeFieldValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Query string for a list or watch of `spec`, selectors first. */
export function resourceQuery(spec: ResourceSpec, params: Readonly<Record<string, string | undefined>>): string {
  const q = new URLSearchParams();
  if (spec.labelSelector !== undefined && spec.labelSelector !== '') q.set('labelSelector', spec.labelSelector);
  if (spec.fieldSelector !== undefined && spec.fieldSelector !== '') q.set('fieldSelector', spec.fieldSelector);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s === '' ? spec.path : `${spec.path}?${s}`;
}
