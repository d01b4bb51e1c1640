// The lab's address plan (pure). Node N (1-based) is named node-N.
//
//   fabric namespace: bridge br0 = the "LAN" between the nodes and the client
//     node-N eth0   192.168.77.(10+N)/24   fd00:77::(10+N)/64
//     client eth0   192.168.77.100/24      fd00:77::100/64   (+ .101…, ::101… as extra sources)
//   node-N: bridge cbr0 = its pod network, gateway 10.244.N.1/24 and fd00:244:0:N::1/64 (or,
//     with the routed pod network, 10.244.N.1 and fe80::1 on every pod's veth: network.ts);
//     routes to every other node's pod CIDRs via that node's IP; default route via the client
//   pod on node N with host number H: 10.244.N.H, fd00:244:0:N::H, default route via cbr0
//   services: ClusterIPs from 10.96.0.0/16 and fd00:96::/112 (the control plane allocates them);
//     externalIPs and LoadBalancer IPs from 203.0.113.0/24 and fd00:113::/64 (the client routes
//     them to a node, as a router in front of the cluster would)

export type Family = 'IPv4' | 'IPv6';

export const CLUSTER_CIDRS = ['10.244.0.0/16', 'fd00:244::/48'] as const;
export const SERVICE_CIDRS = ['10.96.0.0/16', 'fd00:96::/112'] as const;
export const EXTERNAL_CIDRS = ['203.0.113.0/24', 'fd00:113::/64'] as const;
export const FABRIC_PREFIX = { IPv4: 24, IPv6: 64 } as const;
export const POD_PREFIX = { IPv4: 24, IPv6: 64 } as const;

/** API server address inside every node namespace (a forwarder to the real one). */
export const NODE_API_PORT = 6443;
export const HEALTHZ_PORT = 10256;
export const METRICS_PORT = 10249;

export function nodeName(n: number): string {
  return `node-${n}`;
}

export function nodeIP(n: number, family: Family): string {
  return family === 'IPv4' ? `192.168.77.${10 + n}` : `fd00:77::${10 + n}`;
}

/** Client source address `i` (0 is the primary). */
export function clientIP(i: number, family: Family): string {
  return family === 'IPv4' ? `192.168.77.${100 + i}` : `fd00:77::${100 + i}`;
}

export function podCIDR(n: number, family: Family): string {
  return family === 'IPv4' ? `10.244.${n}.0/24` : `fd00:244:0:${n}::/64`;
}

export function podGateway(n: number, family: Family): string {
  return family === 'IPv4' ? `10.244.${n}.1` : `fd00:244:0:${n}::1`;
}

export function podIP(n: number, host: number, family: Family): string {
  if (host < 2 || host > 254) throw new Error(`pod host number ${host} out of range 2..254`);
  return family === 'IPv4' ? `10.244.${n}.${host}` : `fd00:244:0:${n}::${host}`;
}

/** The i-th external (externalIP / LoadBalancer) address, i ≥ 1. */
export function externalIP(i: number, family: Family): string {
  return family === 'IPv4' ? `203.0.113.${i}` : `fd00:113::${i}`;
}

/** The family of an address ("IPv6" if it has a colon). */
export function familyOf(ip: string): Family {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/** host:port as a URL authority. */
export function hostPort(ip: string, port: number): string {
  return familyOf(ip) === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export const FAMILIES: readonly Family[] = ['IPv4', 'IPv6'];
