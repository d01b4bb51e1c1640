// Which endpoints of a service port this node should use (upstream pkg/proxy/topology.go
// CategorizeEndpoints, with PreferSameTrafficDistribution enabled as it is by default now).
// Pure: no I/O, no clock, no logging.

import type { Endpoint, ServicePort } from './types.ts';
import { usesClusterEndpoints, usesLocalEndpoints } from './types.ts';

/** Node label holding the node's zone; the only topology label the proxy reads. */
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';

type TopologyMode = '' | 'PreferSameZone' | 'PreferSameNode';

export interface CategorizedEndpoints {
  /**
   * Endpoints for "Cluster" traffic policy, topology applied: the Ready ones (only those
   * hinted for this node or zone when hints are in force), or if no endpoint anywhere is
   * Ready, the Serving-and-Terminating ones. Undefined when the service port never uses
   * Cluster policy (internalTrafficPolicy Local and not externally accessible).
   */
  readonly clusterEndpoints: readonly Endpoint[] | undefined;
  /**
   * Endpoints for "Local" traffic policy: this node's Ready endpoints, or if it has none,
   * its Serving-and-Terminating ones (fallback decided separately from Cluster). Topology
   * hints do not apply. Undefined when the service port never uses Local policy; empty when
   * it does but this node has none (traffic is then dropped, not rejected).
   */
  readonly localEndpoints: readonly Endpoint[] | undefined;
  /** Union of the two: every endpoint this node may send to. */
  readonly allReachableEndpoints: readonly Endpoint[];
  /**
   * Whether the service port has a usable endpoint anywhere in the cluster (Ready, or
   * Serving and Terminating). May be true while allReachableEndpoints is empty (Local policy,
   * endpoints only on other nodes): the dataplane then drops instead of rejecting.
   */
  readonly hasAnyEndpoints: boolean;
}

/**
 * The topology mode from hints: "PreferSameNode" if every Ready endpoint has a node hint and
 * one names this node; else "PreferSameZone" if every Ready endpoint has a zone hint and one
 * names our zone; else "" (no topology). Without Ready endpoints, "".
 */
function topologyModeFromHints(endpoints: readonly Endpoint[], nodeName: string, zone: string): TopologyMode {
  let hasReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (ep.nodeHints.size === 0) allNodeHints = false;
    else if (ep.nodeHints.has(nodeName)) forNode = true;
    if (ep.zoneHints.size === 0) allZoneHints = false;
    else if (ep.zoneHints.has(zone)) forZone = true;
  }
  if (!hasReady) return '';
  if (allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: Endpoint, mode: TopologyMode, nodeName: string, zone: string): boolean {
  switch (mode) {
    case '': return true;
    case 'PreferSameNode': return ep.nodeHints.has(nodeName);
    case 'PreferSameZone': return ep.zoneHints.has(zone);
  }
}

const servingTerminating = (ep: Endpoint): boolean => ep.serving && ep.terminating;

/**
 * Splits the endpoints of `servicePort` into the sets this node uses; see
 * CategorizedEndpoints for what each means. `endpoints` should be sorted (the model keeps
 * them sorted by key); results keep that order.
 */
export function categorizeEndpoints(
  endpoints: readonly Endpoint[],
  servicePort: ServicePort,
  nodeName: string,
  topologyLabels: ReadonlyMap<string, string>,
): CategorizedEndpoints {
  const usesCluster = usesClusterEndpoints(servicePort);
  const usesLocal = usesLocalEndpoints(servicePort);
  let clusterEndpoints: readonly Endpoint[] | undefined;
  let hasAnyEndpoints = false;
  let topologyMode: TopologyMode = '';

  if (usesCluster) {
    const zone = topologyLabels.get(LABEL_TOPOLOGY_ZONE) ?? '';
    topologyMode = topologyModeFromHints(endpoints, nodeName, zone);
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, topologyMode, nodeName, zone));
    // No Ready endpoint for our topology means none anywhere (the mode would be "" then):
    // fall back to Serving-Terminating ones.
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter(servingTerminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }
  if (!usesLocal) {
    return { clusterEndpoints, localEndpoints: undefined, allReachableEndpoints: clusterEndpoints ?? [], hasAnyEndpoints };
  }

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalReady = true;
    } else if (servingTerminating(ep)) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalServingTerminating = true;
    }
  }
  let localEndpoints: readonly Endpoint[] = [];
  let useServingTerminating = false;
  if (hasLocalReady) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready);
  } else if (hasLocalServingTerminating) {
    useServingTerminating = true;
    localEndpoints = endpoints.filter((ep) => ep.isLocal && servingTerminating(ep));
  }

  if (clusterEndpoints === undefined) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints };
  }
  if (topologyMode === '' && !useServingTerminating) {
    // localEndpoints holds only Ready endpoints and clusterEndpoints every Ready endpoint:
    // the latter is a superset.
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };
  }
  // Cluster may hold remote endpoints Local lacks; Local may hold terminating or
  // topologically unavailable local endpoints Cluster lacks: merge, keeping input order.
  const reachable = new Set<Endpoint>([...clusterEndpoints, ...localEndpoints]);
  const allReachableEndpoints = endpoints.filter((ep) => reachable.has(ep));
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints };
}
