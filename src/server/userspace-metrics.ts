// Prometheus metrics of the userspace dataplane (ours; upstream has no userspace metrics since
// its userspace mode was removed). Per service port: active and total connections, bytes each
// way, connect failures and selections per endpoint, refusals by reason.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { UserspaceMetrics } from '../dataplanes/userspace/metrics.ts';

export function createUserspaceMetrics(registry: Registry): UserspaceMetrics {
  const active = new Gauge({ name: 'kubeproxy_userspace_connections_active', help: 'Open client connections (TCP) and flows (UDP) per service port.', labelNames: ['service'], registers: [registry] });
  const total = new Counter({ name: 'kubeproxy_userspace_connections_total', help: 'Client connections (TCP) and flows (UDP) accepted per service port.', labelNames: ['service'], registers: [registry] });
  const bytes = new Counter({ name: 'kubeproxy_userspace_bytes_total', help: 'Bytes forwarded per service port; direction "in" is client to endpoint, counted when a connection ends.', labelNames: ['service', 'direction'], registers: [registry] });
  const failures = new Counter({ name: 'kubeproxy_userspace_connect_failures_total', help: 'Failed connection attempts to an endpoint (refused, unreachable, timed out).', labelNames: ['service', 'endpoint'], registers: [registry] });
  const selections = new Counter({ name: 'kubeproxy_userspace_endpoint_selections_total', help: 'Times the balancer chose each endpoint.', labelNames: ['service', 'endpoint'], registers: [registry] });
  const refused = new Counter({ name: 'kubeproxy_userspace_refused_total', help: 'Connections or datagrams turned away, by reason.', labelNames: ['service', 'reason'], registers: [registry] });
  return {
    connectionOpened: (s) => { active.inc({ service: s.key }); total.inc({ service: s.key }); },
    connectionClosed: (s, bytesIn, bytesOut) => {
      active.dec({ service: s.key });
      bytes.inc({ service: s.key, direction: 'in' }, bytesIn);
      bytes.inc({ service: s.key, direction: 'out' }, bytesOut);
    },
    endpointSelected: (s, endpoint) => { selections.inc({ service: s.key, endpoint }); },
    connectFailed: (s, endpoint) => { failures.inc({ service: s.key, endpoint }); },
    refused: (s, reason) => { refused.inc({ service: s.key, reason }); },
  };
}
