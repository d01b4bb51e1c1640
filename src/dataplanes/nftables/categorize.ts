// The endpoint categorization the renderer relies on (upstream pkg/proxy/topology.go). It is
// owned by the model; this module only pins the shape the renderer consumes, so tests can
// inject their own.
//
// How the renderer reads the result:
// - clusterEndpoints / localEndpoints undefined: that policy is never used by the port;
//   empty: it is used but has nothing (Local policy then drops instead of rejecting);
// - allReachableEndpoints: one endpoint chain each;
// - hasAnyEndpoints false: every entry point of the port rejects.

import type { Endpoint, ServicePort } from '../../model/types.ts';
import type { CategorizedEndpoints } from '../../model/topology.ts';

export { categorizeEndpoints } from '../../model/topology.ts';
export type { CategorizedEndpoints };

export type CategorizeFn = (
  endpoints: readonly Endpoint[],
  servicePort: ServicePort,
  nodeName: string,
  topologyLabels: ReadonlyMap<string, string>,
) => CategorizedEndpoints;
