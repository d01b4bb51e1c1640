// The bench lab: three throwaway network namespaces joined by veth pairs, routed through the
// proxy node (as pod-to-pod traffic crosses a node):
//
//   client ns                 proxy-node ns                      backend ns
//   c0 10.210.1.2/24 ─veth─ p0 10.210.1.1/24
//                             p1 10.210.2.1/24 ─veth─ b0 10.210.2.2/24
//   default via 10.210.1.1    ip_forward=1                       default via 10.210.2.1
//
// The client reaches the backend directly (forwarded by the proxy node's kernel), HAProxy on
// the proxy node's address, and kube-proxy-ts through a ClusterIP (10.96.0.0/12 routes to the
// proxy node, whose nftables redirect it to the userspace listener). Every veth is created
// inside a bench namespace and moved to another bench namespace: the root namespace is never
// touched. destroy() deletes all three namespaces (their processes were spawned through them
// and are killed first).

import { createNetns, type Netns } from '../../test/helpers/netns.ts';

export const CLIENT_IP = '10.210.1.2';
export const PROXY_CLIENT_SIDE_IP = '10.210.1.1';
export const PROXY_BACKEND_SIDE_IP = '10.210.2.1';
export const BACKEND_IP = '10.210.2.2';
export const SERVICE_CIDR = '10.96.0.0/12';

export interface Lab {
  readonly client: Netns;
  readonly proxy: Netns;
  readonly backend: Netns;
  destroy(): void;
}

/** Per-namespace sysctls (never the root namespace's): short-lived connections at high rates. */
function tuneTcp(ns: Netns): void {
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000']);
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.tcp_tw_reuse=1']);
  ns.exec('sysctl', ['-q', '-w', 'net.core.somaxconn=8192']);
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.tcp_max_syn_backlog=8192']);
}

export function createLab(): Lab {
  const made: (Netns & { destroy(): void })[] = [];
  try {
    const client = createNetns('bench-client');
    made.push(client);
    const proxy = createNetns('bench-proxy');
    made.push(proxy);
    const backend = createNetns('bench-backend');
    made.push(backend);

    client.exec('ip', ['link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'p0', 'netns', proxy.name]);
    backend.exec('ip', ['link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'p1', 'netns', proxy.name]);

    client.exec('ip', ['addr', 'add', `${CLIENT_IP}/24`, 'dev', 'c0']);
    client.exec('ip', ['link', 'set', 'c0', 'up']);
    client.exec('ip', ['route', 'add', 'default', 'via', PROXY_CLIENT_SIDE_IP]);

    proxy.exec('ip', ['addr', 'add', `${PROXY_CLIENT_SIDE_IP}/24`, 'dev', 'p0']);
    proxy.exec('ip', ['addr', 'add', `${PROXY_BACKEND_SIDE_IP}/24`, 'dev', 'p1']);
    proxy.exec('ip', ['link', 'set', 'p0', 'up']);
    proxy.exec('ip', ['link', 'set', 'p1', 'up']);
    proxy.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    // A node routes its service CIDR somewhere; the redirect happens before routing anyway.
    proxy.exec('ip', ['route', 'add', SERVICE_CIDR, 'dev', 'p1']);

    backend.exec('ip', ['addr', 'add', `${BACKEND_IP}/24`, 'dev', 'b0']);
    backend.exec('ip', ['link', 'set', 'b0', 'up']);
    backend.exec('ip', ['route', 'add', 'default', 'via', PROXY_BACKEND_SIDE_IP]);

    for (const ns of made) tuneTcp(ns);
    return {
      client, proxy, backend,
      destroy(): void { for (const ns of made.reverse()) ns.destroy(); },
    };
  } catch (err) {
    for (const ns of made.reverse()) ns.destroy();
    throw err;
  }
}
