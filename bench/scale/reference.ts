// The reference node for per-packet cost: the same nftables renderer and planner the daemon
// uses (NftablesDataplane), run from the benchmark against the small node's namespace with 10
// services, one of them pointing at the small node's pod. Connect latency there is compared
// with connect latency on the big node, where the daemon holds the whole shape.

import { NftablesDataplane } from '../../src/dataplanes/nftables/nftables-dataplane.ts';
import { SpawnNftRunner } from '../../src/dataplanes/nftables/runner.ts';
import type { Endpoint, FamilySnapshot, ServicePort } from '../../src/model/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { LabNetns } from '../../test/lab/netns.ts';
import { CLUSTER_CIDR, NODE_IP, POD_IP, POD_PORT } from './env.ts';

export const REFERENCE_CLUSTER_IP = '10.96.200.1';

function port(i: number, clusterIP: string): ServicePort {
  const ns = 'ref';
  const name = `svc-${String(i)}`;
  return {
    name: { namespace: ns, name, port: '', protocol: 'TCP', key: `${ns}/${name}:/TCP`, service: `${ns}/${name}` },
    family: 'IPv4', clusterIP, port: 80, protocol: 'TCP', nodePort: 0, externalIPs: [], loadBalancerVIPs: [],
    loadBalancerSourceRanges: [], sessionAffinity: { type: 'None' }, externalPolicyLocal: false, internalPolicyLocal: false,
    healthCheckNodePort: 0, trafficDistribution: undefined,
  };
}

function endpoint(ip: string): Endpoint {
  return {
    ip, port: POD_PORT, key: `${ip}:${String(POD_PORT)}`, isLocal: false, ready: true, serving: true, terminating: false,
    zoneHints: new Set(), nodeHints: new Set(), nodeName: 'elsewhere', zone: undefined,
  };
}

/** 10 services: svc-0 reaches the pod, the others point at unused addresses. */
export function referenceSnapshot(): FamilySnapshot {
  const services = new Map<string, ServicePort>();
  const endpoints = new Map<string, readonly Endpoint[]>();
  const portsByService = new Map<string, readonly string[]>();
  for (let i = 0; i < 10; i++) {
    const sp = port(i, i === 0 ? REFERENCE_CLUSTER_IP : `10.96.200.${String(10 + i)}`);
    services.set(sp.name.key, sp);
    portsByService.set(sp.name.service, [sp.name.key]);
    endpoints.set(sp.name.key, i === 0 ? [endpoint(POD_IP)] : [endpoint(`10.251.0.${String(i)}`), endpoint(`10.251.1.${String(i)}`)]);
  }
  return {
    family: 'IPv4', nodeName: 'ref-node', nodeLabels: new Map(), services, portsByService, endpoints,
    changedServices: new Set(portsByService.keys()), deletedUDPClusterIPs: new Set(), deletedUDPEndpoints: [], newlyActiveUDPServices: [],
  };
}

/** Programs the reference node (one full sync). */
export async function programReference(node: LabNetns): Promise<void> {
  const dp = new NftablesDataplane({
    runner: new SpawnNftRunner({ commandPrefix: ['ip', 'netns', 'exec', node.name] }),
    logger: silentLogger(),
    render: {
      localDetector: { mode: 'ClusterCIDR', cidrs: [CLUSTER_CIDR] },
      nodePortAddresses: { kind: 'primary' },
      nodeIPs: [NODE_IP],
    },
    readKernelOnFullSync: false,
  });
  await dp.sync({ full: true, families: [referenceSnapshot()] });
  await dp.close();
}
