// Keeps the healthCheckNodePort servers in step with the snapshots: on a partial sync only the
// changed Services are looked at (through the snapshot's per-Service index), on a full sync
// all of them.

import type { FamilySnapshot, IPFamily, ServiceKey } from '../model/types.ts';
import type { ServiceHealthServer } from '../server/service-health.ts';

/**
 * healthCheckNodePort (0: none) and ready local endpoints of one Service, per family, as
 * upstream's per-family proxiers each count their own family: a dual-stack pod is one endpoint
 * in each family, not two. The server answers a request with its address's family's count.
 */
function serviceHealthOf(families: readonly FamilySnapshot[], service: ServiceKey): { port: number; local: Map<IPFamily, number> } {
  let port = 0;
  const local = new Map<IPFamily, number>();
  for (const snap of families) {
    const ips = new Set<string>();
    for (const key of snap.portsByService.get(service) ?? []) {
      const sp = snap.services.get(key);
      if (sp !== undefined && sp.healthCheckNodePort !== 0) port = sp.healthCheckNodePort;
      for (const ep of snap.endpoints.get(key) ?? []) if (ep.isLocal && ep.ready) ips.add(ep.ip);
    }
    local.set(snap.family, ips.size);
  }
  return { port, local };
}

export function syncServiceHealth(server: ServiceHealthServer, families: readonly FamilySnapshot[], full: boolean): void {
  const services = new Set<ServiceKey>();
  if (full) {
    for (const snap of families) for (const svc of snap.portsByService.keys()) services.add(svc);
    for (const svc of server.ports().keys()) services.add(svc);
  } else {
    for (const snap of families) for (const svc of snap.changedServices) services.add(svc);
  }
  for (const svc of services) {
    const { port, local } = serviceHealthOf(families, svc);
    server.syncService(svc, port === 0 ? undefined : port, local);
  }
}
