// Builds the lab's namespaces and links (see topology.ts for the plan). Only `ip -n <ours>` and
// per-namespace sysctls inside our own namespaces: the root namespace is never touched.

import { existsSync } from 'node:fs';
import { LabNetns } from './netns.ts';
import {
  clientIP, EXTERNAL_CIDRS, FABRIC_PREFIX, FAMILIES, nodeIP, podCIDR, podGateway, podIP, POD_PREFIX, SERVICE_CIDRS, type Family,
} from './topology.ts';

export interface PodPlacement {
  readonly name: string;
  /** 1-based node index. */
  readonly node: number;
  /** Last part of the pod's addresses (10.244.<node>.<host>). */
  readonly host: number;
}

/**
 * How pods attach to their node:
 *   bridge  a bridge cbr0 holding the gateway, pods' veths enslaved (kubenet, bridge CNI); needs
 *           br_netfilter so that replies bridged between two pods pass the node's conntrack
 *   routed  one veth per pod, a /32 (/128) route to it, the gateway on every node-side veth
 *           (Calico-style point-to-point): every packet is routed, no kernel module needed
 */
export type PodNetwork = 'bridge' | 'routed';

/** Whether br_netfilter is loaded (read-only look at /proc; the lab never loads modules). */
export function hasBrNetfilter(): boolean {
  return existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');
}

/** KPT_LAB_POD_NETWORK=bridge|routed, else bridge when br_netfilter is there, else routed. */
export function defaultPodNetwork(env: NodeJS.ProcessEnv = process.env): PodNetwork {
  const v = env['KPT_LAB_POD_NETWORK'];
  if (v === 'bridge' || v === 'routed') return v;
  return hasBrNetfilter() ? 'bridge' : 'routed';
}

export interface NetworkPlan {
  readonly labId: string;
  readonly podNetwork: PodNetwork;
  readonly nodes: number;
  readonly pods: readonly PodPlacement[];
  /** Extra client source addresses besides the primary one. */
  readonly extraClientAddresses: number;
}

export interface Network {
  readonly fabric: LabNetns;
  readonly client: LabNetns;
  readonly nodes: readonly LabNetns[];
  readonly pods: ReadonlyMap<string, LabNetns>;
  /** Every namespace, for destroy(). */
  readonly all: readonly LabNetns[];
  readonly podNetwork: PodNetwork;
}

/** Node-side link-local address of every pod veth in the routed pod network (the pods' IPv6 gateway). */
const ROUTED_GATEWAY_V6 = 'fe80::1';

/** The node-side interface of a pod's veth ("vp<node>h<host>"). */
export function podInterface(p: PodPlacement): string {
  return `vp${p.node}h${p.host}`;
}

const NO_DAD = { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' };

function addr(ip: string, prefix: number, dev: string, family: Family): string {
  return `address add ${ip}/${prefix} dev ${dev}${family === 'IPv6' ? ' nodad' : ''}`;
}

/** Creates and wires every namespace; on failure, deletes what it made and rethrows. */
export function buildNetwork(plan: NetworkPlan): Network {
  const made: LabNetns[] = [];
  const make = (role: string): LabNetns => {
    const ns = LabNetns.create(plan.labId, role);
    made.push(ns);
    return ns;
  };
  try {
    const fabric = make('fabric');
    const client = make('client');
    const nodes = Array.from({ length: plan.nodes }, (_, i) => make(`node${i + 1}`));
    const pods = new Map<string, LabNetns>();
    for (const p of plan.pods) pods.set(p.name, make(`pod-${p.name}`.slice(0, 24)));

    const bridged = plan.podNetwork === 'bridge';
    if (bridged && !hasBrNetfilter()) throw new Error('podNetwork "bridge" needs br_netfilter (modprobe br_netfilter), or use KPT_LAB_POD_NETWORK=routed');
    for (const ns of made) ns.sysctlSync(NO_DAD);
    if (hasBrNetfilter()) fabric.sysctlSync({ 'net.bridge.bridge-nf-call-iptables': '0', 'net.bridge.bridge-nf-call-ip6tables': '0' });
    for (const ns of nodes) {
      ns.sysctlSync({ 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' });
      // A bridged pod network needs replies between two pods of one bridge to pass the node's
      // conntrack (as kubenet/bridge CNI clusters require).
      if (bridged) ns.sysctlSync({ 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1' });
    }

    const fab = ['link add br0 type bridge', 'link set br0 up'];
    nodes.forEach((ns, i) => {
      fab.push(`link add n${i + 1} type veth peer name eth0 netns ${ns.name}`, `link set n${i + 1} master br0 up`);
    });
    fab.push(`link add cl type veth peer name eth0 netns ${client.name}`, 'link set cl master br0 up');
    fabric.ipBatchSync(fab);

    nodes.forEach((ns, i) => {
      const n = i + 1;
      const lines = ['link set eth0 up'];
      if (bridged) lines.push('link add cbr0 type bridge', 'link set cbr0 up');
      for (const f of FAMILIES) {
        lines.push(addr(nodeIP(n, f), FABRIC_PREFIX[f], 'eth0', f));
        if (bridged) lines.push(addr(podGateway(n, f), POD_PREFIX[f], 'cbr0', f));
        for (let m = 1; m <= plan.nodes; m++) if (m !== n) lines.push(`route add ${podCIDR(m, f)} via ${nodeIP(m, f)}`);
        // The client stands in for the node's upstream router (it forwards nothing): nodes need a
        // default route, as real ones have, for locally originated traffic to service IPs.
        lines.push(`route add ${f === 'IPv4' ? '0.0.0.0/0' : '::/0'} via ${clientIP(0, f)}`);
      }
      for (const p of plan.pods.filter((q) => q.node === n)) {
        const podNs = pods.get(p.name);
        if (!podNs) continue;
        const dev = podInterface(p);
        lines.push(`link add ${dev} type veth peer name eth0 netns ${podNs.name}`);
        if (bridged) {
          // hairpin: a pod reaching a Service that picks the pod itself is DNATed on the bridge
          // (br_netfilter) and must leave by the port it came in on (kubelet's hairpin-veth).
          lines.push(`link set ${dev} master cbr0 up`, `link set ${dev} type bridge_slave hairpin on`);
        } else {
          lines.push(`link set ${dev} up`, `address add ${podGateway(n, 'IPv4')}/32 dev ${dev}`, `address add ${ROUTED_GATEWAY_V6}/64 dev ${dev} nodad`);
          for (const f of FAMILIES) lines.push(`route add ${podIP(n, p.host, f)}/${f === 'IPv4' ? 32 : 128} dev ${dev}`);
        }
      }
      ns.ipBatchSync(lines);
    });

    for (const p of plan.pods) {
      const ns = pods.get(p.name);
      if (!ns) continue;
      const lines = ['link set eth0 up'];
      for (const f of FAMILIES) {
        const def = f === 'IPv4' ? '0.0.0.0/0' : '::/0';
        if (bridged) {
          lines.push(addr(podIP(p.node, p.host, f), POD_PREFIX[f], 'eth0', f), `route add ${def} via ${podGateway(p.node, f)}`);
        } else {
          lines.push(addr(podIP(p.node, p.host, f), f === 'IPv4' ? 32 : 128, 'eth0', f),
            `route add ${def} via ${f === 'IPv4' ? podGateway(p.node, f) : ROUTED_GATEWAY_V6} dev eth0 onlink`);
        }
      }
      ns.ipBatchSync(lines);
    }

    const cl = ['link set eth0 up'];
    for (const f of FAMILIES) {
      cl.push(addr(clientIP(0, f), FABRIC_PREFIX[f], 'eth0', f));
      // Extra sources are used only when bound explicitly: deprecated (IPv6) / secondary (IPv4).
      for (let i = 1; i <= plan.extraClientAddresses; i++) {
        cl.push(`${addr(clientIP(i, f), FABRIC_PREFIX[f], 'eth0', f)}${f === 'IPv6' ? ' preferred_lft 0' : ''}`);
      }
    }
    // Service and external ranges go to node-1 by default, as a router in front would send them.
    for (const cidr of [...SERVICE_CIDRS, ...EXTERNAL_CIDRS]) {
      const f: Family = cidr.includes(':') ? 'IPv6' : 'IPv4';
      cl.push(`route add ${cidr} via ${nodeIP(1, f)}`);
    }
    client.ipBatchSync(cl);
    return { fabric, client, nodes, pods, all: made, podNetwork: plan.podNetwork };
  } catch (err) {
    for (const ns of made.reverse()) ns.destroy();
    throw err;
  }
}
