// Where a service port is reachable and how each entry point reaches its listener. Pure.
//
// With redirect (root): two listeners at most per service port — "internal" for the
// ClusterIP, "external" for NodePort, externalIPs and LoadBalancer IPs — each on the
// family's wildcard address with a kernel-chosen port; nftables redirects every entry point
// to the right one (redirect.ts). Two, because traffic policies may give the two kinds
// different endpoints.
// Without redirect: a listener directly on each entry point address that is this node's
// own: NodePorts on the nodePortAddresses IPs; externalIPs, LB IPs and the ClusterIP only
// when the address is local (e.g. assigned to a dummy interface). Everything else is
// reported as unservable.

import type { ServicePort } from '../../model/types.ts';
import { externallyAccessible } from '../../model/types.ts';
import type { EntryKind } from './route.ts';

export interface ListenSpec {
  /** Identity of the listener within its service port: "kind|host|port". */
  readonly key: string;
  readonly kind: EntryKind;
  readonly host: string;
  /** 0: any free port (redirect target). */
  readonly port: number;
}

export type RedirectMap = 'service-ips' | 'service-nodeports';

export interface RedirectSpec {
  readonly map: RedirectMap;
  readonly kind: EntryKind;
  /** Destination IP; undefined for NodePorts (any NodePort address). */
  readonly ip: string | undefined;
  readonly port: number;
}

export interface EntryPlan {
  readonly listens: readonly ListenSpec[];
  readonly redirects: readonly RedirectSpec[];
  /** Entry points that cannot be served, described for a log line ("ClusterIP 172.30.0.1:80"). */
  readonly unservable: readonly string[];
}

export interface EntryOptions {
  readonly redirect: boolean;
  /** Wildcard address listeners bind in redirect mode ("0.0.0.0" or "::"). */
  readonly listenHost: string;
  /** Direct mode: addresses NodePorts are served on. */
  readonly nodePortIPs: readonly string[];
  /** Direct mode: this node's addresses (others cannot be listened on). */
  readonly localAddresses: ReadonlySet<string>;
}

function listen(kind: EntryKind, host: string, port: number): ListenSpec {
  return { key: `${kind}|${host}|${port}`, kind, host, port };
}

export function planEntryPoints(sp: ServicePort, o: EntryOptions): EntryPlan {
  if (sp.protocol === 'SCTP') {
    return { listens: [], redirects: [], unservable: [`every entry point (SCTP is not supported in userspace mode)`] };
  }
  const external = externallyAccessible(sp);
  const externalIPs = [...sp.externalIPs, ...sp.loadBalancerVIPs];
  if (o.redirect) {
    const listens = [listen('internal', o.listenHost, 0)];
    if (external) listens.push(listen('external', o.listenHost, 0));
    const redirects: RedirectSpec[] = [{ map: 'service-ips', kind: 'internal', ip: sp.clusterIP, port: sp.port }];
    for (const ip of externalIPs) redirects.push({ map: 'service-ips', kind: 'external', ip, port: sp.port });
    if (sp.nodePort !== 0) redirects.push({ map: 'service-nodeports', kind: 'external', ip: undefined, port: sp.nodePort });
    return { listens, redirects, unservable: [] };
  }
  const listens = new Map<string, ListenSpec>();
  const unservable: string[] = [];
  const direct = (kind: EntryKind, what: string, ip: string, port: number): void => {
    if (o.localAddresses.has(ip)) {
      const l = listen(kind, ip, port);
      listens.set(l.key, l);
    } else {
      unservable.push(`${what} ${ip.includes(':') ? `[${ip}]` : ip}:${port} (not a local address, and nftables redirect is off)`);
    }
  };
  direct('internal', 'ClusterIP', sp.clusterIP, sp.port);
  for (const ip of sp.externalIPs) direct('external', 'external IP', ip, sp.port);
  for (const ip of sp.loadBalancerVIPs) direct('external', 'LoadBalancer IP', ip, sp.port);
  if (sp.nodePort !== 0) {
    for (const ip of o.nodePortIPs) {
      const l = listen('external', ip, sp.nodePort);
      listens.set(l.key, l);
    }
    if (o.nodePortIPs.length === 0) unservable.push(`NodePort ${sp.nodePort} (no nodePortAddresses IP of this family)`);
  }
  return { listens: [...listens.values()], redirects: [], unservable };
}
