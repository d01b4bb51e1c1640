// Knowing when every kube-proxy-ts has caught up with the API: a barrier Service of the lab's
// own (namespace lab-system, type LoadBalancer, externalTrafficPolicy Local) that settle()
// changes twice:
//
//   1. its port: wait until every node's nftables has the new service-ips element (in the
//      kube-proxy table, or kube-proxy-userspace in userspace mode). Each watch
//      delivers its events in order, so every earlier Service change has reached the proxy.
//   2. its EndpointSlice (a new number of local endpoints per node, addresses no pod has):
//      wait until every node's healthCheckNodePort (on the node IP, or the pod gateway when
//      --nodeport-addresses excludes the node IP) reports that number. Every earlier slice
//      change has reached the proxy, and the sync that took this one has finished — the
//      health check count is the last thing a sync updates (after nft and conntrack cleanup),
//      and syncs run one at a time, so every earlier sync has finished too.

import type { ApiClient } from './api.ts';
import type { Agent } from './agent-client.ts';
import { endpointSlice, type EndpointSlice } from './objects.ts';
import { until } from './proxy.ts';
import type { LabNetns } from './netns.ts';
import { hostPort, nodeName, podGateway } from './topology.ts';
import { createService } from './workloads.ts';

export const BARRIER_NAMESPACE = 'lab-system';
const NAME = 'barrier';
const TARGET_PORT = 20_000;
/** Tables whose `service-ips` map holds ClusterIP . proto . port keys: nftables mode, userspace mode. */
const SERVICE_IP_TABLES = ['kube-proxy', 'kube-proxy-userspace'] as const;

/** What the barrier needs of a node. */
export interface BarrierNode {
  readonly index: number;
  readonly name: string;
  readonly ns: LabNetns;
  readonly agent: Agent;
  ip(): string;
}

function slice(nodes: readonly BarrierNode[], perNode: number): EndpointSlice {
  return endpointSlice(BARRIER_NAMESPACE, NAME, NAME, 'IPv4', [{ name: 'b', port: TARGET_PORT, protocol: 'TCP' }],
    nodes.flatMap((n) => Array.from({ length: perNode }, (_, j) => ({
      addresses: [`10.244.${n.index}.${250 + j}`], conditions: { ready: true }, nodeName: nodeName(n.index),
    }))));
}

export class Barrier {
  readonly #api: ApiClient;
  readonly #nodes: readonly BarrierNode[];
  readonly #clusterIP: string;
  readonly #nodePort: number;
  readonly #healthPort: number;
  #count = 0;

  private constructor(api: ApiClient, nodes: readonly BarrierNode[], clusterIP: string, nodePort: number, healthPort: number) {
    this.#api = api;
    this.#nodes = nodes;
    this.#clusterIP = clusterIP;
    this.#nodePort = nodePort;
    this.#healthPort = healthPort;
  }

  static async create(api: ApiClient, nodes: readonly BarrierNode[]): Promise<Barrier> {
    await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: BARRIER_NAMESPACE } });
    const svc = await createService(api, BARRIER_NAMESPACE, NAME, {
      type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ name: 'b', port: TARGET_PORT, targetPort: TARGET_PORT }],
    });
    await api.create(slice(nodes, 1));
    return new Barrier(api, nodes, svc.clusterIP(), svc.nodePort(), svc.healthCheckNodePort);
  }

  /** Waits until the proxies on `running` (node indexes) have programmed every earlier write. */
  async pass(running: ReadonlySet<number>, timeoutMs = 20_000): Promise<void> {
    const k = ++this.#count;
    const nodes = this.#nodes.filter((n) => running.has(n.index));
    const port = TARGET_PORT + 1 + (k % 40_000);
    await this.#api.patch('Service', BARRIER_NAMESPACE, NAME, { spec: { ports: [{ name: 'b', port, targetPort: TARGET_PORT, nodePort: this.#nodePort, protocol: 'TCP' }] } });
    const element = `${this.#clusterIP} . tcp . ${port} :`;
    await Promise.all(nodes.map((n) => until(`${n.name} to program the barrier Service (port ${port})`, async () => {
      // nftables mode: the ClusterIP's element in `service-ips` (→ its chain); userspace mode:
      // the same key in its own table (→ its listener's port). Same key format in both.
      for (const table of SERVICE_IP_TABLES) {
        const r = await n.ns.exec('nft', ['list', 'map', 'ip', table, 'service-ips']);
        if (r.stdout.includes(element)) return true;
      }
      return undefined;
    }, timeoutMs, 20)));
    const perNode = 1 + (k % 3);
    await this.#api.apply(slice(this.#nodes, perNode));
    await Promise.all(nodes.map((n) => until(`${n.name} to finish the sync of the barrier slice (${perNode} local endpoints)`, async () => {
      // The health check server listens on the nodePortAddresses: the node IP by default, the
      // pod gateway with e.g. --nodeport-addresses 10.244.0.0/16.
      let lastErr: unknown;
      for (const ip of [n.ip(), podGateway(n.index, 'IPv4')]) {
        try {
          const r = await n.agent.get(`http://${hostPort(ip, this.#healthPort)}/`, 1000);
          return (JSON.parse(r.body) as { localEndpoints?: number }).localEndpoints === perNode ? true : undefined;
        } catch (err) {
          lastErr = err;
        }
      }
      throw lastErr;
    }, timeoutMs, 20)));
  }
}
