// Which conntrack entries go stale after a sync (UDP and SCTP only: TCP flows end or reset
// by themselves). Follows upstream's hint-based cleanup:
// - an endpoint went away: delete flows to each service IP:port (ClusterIP, external IPs,
//   LoadBalancer IPs) and to the NodePort whose reply source is that endpoint;
// - a UDP ClusterIP went away: delete flows to it;
// - a service went from no endpoints to some: delete flows to its IPs/ports that were cached
//   while packets were being rejected.
// Never a flush of everything (every filter names an address or port).

import type { FamilySnapshot, Protocol } from '../../model/types.ts';
import type { Logger } from '../../util/logger.ts';
import type { Conntrack, ConntrackFilter } from './conntrack.ts';

function ctProtocol(p: Protocol): 'udp' | 'sctp' | undefined {
  return p === 'UDP' ? 'udp' : p === 'SCTP' ? 'sctp' : undefined;
}

/** Pure: the filters to run for one family's snapshot, de-duplicated. */
export function planConntrackCleanup(snap: FamilySnapshot): ConntrackFilter[] {
  const out = new Map<string, ConntrackFilter>();
  const add = (f: ConntrackFilter): void => {
    out.set(JSON.stringify([f.protocol, f.origDst, f.origDstPort, f.replySrc]), f);
  };
  const family = snap.family;
  for (const ip of snap.deletedUDPClusterIPs) add({ family, protocol: 'udp', origDst: ip });
  for (const stale of snap.deletedUDPEndpoints) {
    const protocol = ctProtocol(stale.servicePort.protocol);
    const sp = snap.services.get(stale.servicePort.key);
    if (protocol === undefined || !sp) continue;
    const replySrc = stale.endpoint.ip;
    for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerVIPs]) {
      add({ family, protocol, origDst: ip, origDstPort: sp.port, replySrc });
    }
    if (sp.nodePort !== 0) add({ family, protocol, origDstPort: sp.nodePort, replySrc });
  }
  for (const spn of snap.newlyActiveUDPServices) {
    const protocol = ctProtocol(spn.protocol);
    const sp = snap.services.get(spn.key);
    if (protocol === undefined || !sp) continue;
    for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerVIPs]) {
      add({ family, protocol, origDst: ip, origDstPort: sp.port });
    }
    if (sp.nodePort !== 0) add({ family, protocol, origDstPort: sp.nodePort });
  }
  return [...out.values()];
}

/** Run the filters; failures are logged, not thrown (the rules are already in place). */
export async function runConntrackCleanup(conntrack: Conntrack, filters: readonly ConntrackFilter[], logger: Logger): Promise<number> {
  let deleted = 0;
  for (const f of filters) {
    try {
      deleted += await conntrack.deleteFlows(f);
    } catch (err) {
      logger.error({ err, filter: f }, 'failed to delete stale conntrack entries');
    }
  }
  return deleted;
}
