// The reusable lab: real namespaces, one control plane, kube-proxy-ts on every node.
//
//   const lab = await Lab.create({ nodes: 2, podsPerNode: 2 });
//   const ns = await lab.namespace();
//   const svc = await lab.deploy(ns, 'web', { ports: [{ port: 80, targetPort: 8080 }] }, lab.pods);
//   const hit = await lab.pod('pod-1-a').agent.tcp(svc.clusterIP(), 80);   // { pod, clientIP, … }
//   await lab.destroy();
//
// Layout and addresses: topology.ts. Namespaces are kpt-lab-<id>-<role>, created by this
// process and always deleted (destroy(), or the exit/signal hooks in netns.ts).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml } from '../../src/controlplane/kubeconfig.ts';
import { startAgent, type Agent } from './agent-client.ts';
import { Barrier } from './barrier.ts';
import type { ApiClient } from './api.ts';
import { LabControlPlane } from './control-plane.ts';
import { buildNetwork, defaultPodNetwork, type Network, type PodNetwork, type PodPlacement } from './network.ts';
import { makeLabDir, newLabId, reapStaleLabs, removeLabDir, type LabNetns } from './netns.ts';
import { ZONE_LABEL, type Node, type ServiceSpec } from './objects.ts';
import { ProxyProcess } from './proxy.ts';
import { clientIP, FAMILIES, nodeIP, nodeName, NODE_API_PORT, podCIDR, podIP, type Family } from './topology.ts';
import { createService, writeEndpoints, type DeployedService, type EndpointInput, type PodRef } from './workloads.ts';

export interface LabOptions {
  readonly nodes?: number;
  /** Pods per node when `pods` is not given (named pod-<node>-a, -b, …, hosts .10, .11, …). */
  readonly podsPerNode?: number;
  /** Explicit pod placement (the demo uses the examples' addresses). */
  readonly pods?: readonly { readonly node: number; readonly host: number; readonly name?: string }[];
  readonly tcpPorts?: readonly number[];
  readonly udpPorts?: readonly number[];
  /** Line servers of every pod (long-lived TCP connections; agent.ts). */
  readonly linePorts?: readonly number[];
  readonly extraClientAddresses?: number;
  /** Extra kube-proxy-ts flags for every node. */
  readonly proxyArgs?: readonly string[];
  /** Start kube-proxy-ts on every node (default true). */
  readonly startProxies?: boolean;
  /** How pods attach to nodes (network.ts); default: defaultPodNetwork(). */
  readonly podNetwork?: PodNetwork;
}

export interface LabNode {
  readonly index: number;
  readonly name: string;
  readonly zone: string;
  readonly ns: LabNetns;
  readonly agent: Agent;
  readonly proxy: ProxyProcess;
  ip(family?: Family): string;
}

export interface LabPod extends PodRef {
  readonly node: number;
  readonly ns: LabNetns;
  readonly agent: Agent;
  ip(family?: Family): string;
}

export const DEFAULT_TCP_PORTS = [8080, 8081, 9376] as const;
export const DEFAULT_UDP_PORTS = [8080, 5353] as const;
export const DEFAULT_LINE_PORTS = [7000] as const;

export function zoneOf(node: number): string {
  return `zone-${String.fromCharCode(96 + node)}`;
}

function placements(opts: LabOptions, nodes: number): PodPlacement[] {
  if (opts.pods) {
    return opts.pods.map((p, i) => ({ node: p.node, host: p.host, name: p.name ?? `pod-${p.node}-${String.fromCharCode(97 + i)}` }));
  }
  const out: PodPlacement[] = [];
  for (let n = 1; n <= nodes; n++) {
    for (let i = 0; i < (opts.podsPerNode ?? 2); i++) out.push({ node: n, host: 10 + i, name: `pod-${n}-${String.fromCharCode(97 + i)}` });
  }
  return out;
}

export class Lab {
  readonly id: string;
  readonly dir: string;
  readonly cp: LabControlPlane;
  readonly network: Network;
  readonly client: Agent;
  readonly nodes: readonly LabNode[];
  readonly pods: readonly LabPod[];
  #namespaces: string[] = [];
  #nsCounter = 0;
  #barrier: Barrier | undefined;
  #destroyed = false;

  private constructor(init: { id: string; dir: string; cp: LabControlPlane; network: Network; client: Agent; nodes: LabNode[]; pods: LabPod[] }) {
    this.id = init.id;
    this.dir = init.dir;
    this.cp = init.cp;
    this.network = init.network;
    this.client = init.client;
    this.nodes = init.nodes;
    this.pods = init.pods;
  }

  static async create(opts: LabOptions = {}): Promise<Lab> {
    reapStaleLabs();
    const id = newLabId();
    const nodeCount = opts.nodes ?? 2;
    const dir = makeLabDir(id);
    const pods = placements(opts, nodeCount);
    let network: Network | undefined;
    let cp: LabControlPlane | undefined;
    const agents: Agent[] = [];
    try {
      network = buildNetwork({ labId: id, podNetwork: opts.podNetwork ?? defaultPodNetwork(), nodes: nodeCount, pods, extraClientAddresses: opts.extraClientAddresses ?? 10 });
      cp = await LabControlPlane.start(dir);
      const net = network;
      const apiSock = cp.socketPath;
      const sock = (role: string): string => join(dir, `${role}.sock`);
      const [client, nodeAgents, podAgents] = await Promise.all([
        startAgent({ ns: net.client, socketPath: sock('client') }),
        Promise.all(net.nodes.map((ns, i) => startAgent({ ns, socketPath: sock(`node${i + 1}`), forward: `127.0.0.1:${NODE_API_PORT}=${apiSock}` }))),
        Promise.all(pods.map((p) => {
          const ns = net.pods.get(p.name);
          if (!ns) throw new Error(`no namespace for pod ${p.name}`);
          return startAgent({ ns, socketPath: sock(`pod-${p.name}`), podName: p.name, tcpPorts: opts.tcpPorts ?? DEFAULT_TCP_PORTS, udpPorts: opts.udpPorts ?? DEFAULT_UDP_PORTS, linePorts: opts.linePorts ?? DEFAULT_LINE_PORTS });
        })),
      ]);
      agents.push(client, ...nodeAgents, ...podAgents);
      const kubeconfig = kubeconfigYaml(`https://127.0.0.1:${NODE_API_PORT}`, cp.caPem, cp.token);
      const labNodes: LabNode[] = net.nodes.map((ns, i) => {
        const n = i + 1;
        const agent = nodeAgents[i];
        if (!agent) throw new Error('missing node agent');
        const kc = join(dir, `${nodeName(n)}.kubeconfig`);
        writeFileSync(kc, kubeconfig, { mode: 0o600 });
        const proxy = new ProxyProcess({ ns, agent, nodeName: nodeName(n), kubeconfig: kc, logFile: join(dir, `${nodeName(n)}.log`), extraArgs: opts.proxyArgs ?? [] });
        return { index: n, name: nodeName(n), zone: zoneOf(n), ns, agent, proxy, ip: (f: Family = 'IPv4') => nodeIP(n, f) };
      });
      const labPods: LabPod[] = pods.map((p, i) => {
        const ns = net.pods.get(p.name);
        const agent = podAgents[i];
        if (!ns || !agent) throw new Error(`missing pod ${p.name}`);
        const ips = { IPv4: podIP(p.node, p.host, 'IPv4'), IPv6: podIP(p.node, p.host, 'IPv6') };
        return { name: p.name, node: p.node, nodeName: nodeName(p.node), zone: zoneOf(p.node), ns, agent, ips, ip: (f: Family = 'IPv4') => ips[f] };
      });
      const lab = new Lab({ id, dir, cp, network: net, client, nodes: labNodes, pods: labPods });
      await lab.#registerNodes();
      lab.#barrier = await Barrier.create(lab.api, labNodes);
      if (opts.startProxies ?? true) await Promise.all(labNodes.map((n) => n.proxy.start()));
      return lab;
    } catch (err) {
      for (const a of agents) a.process.kill('SIGKILL');
      for (const ns of network?.all ?? []) ns.destroy();
      await cp?.close();
      removeLabDir(dir);
      throw err;
    }
  }

  /** Node objects, as kubelets would register them (addresses, pod CIDRs, zone label). */
  async #registerNodes(): Promise<void> {
    for (const n of this.nodes) {
      const node: Node = {
        apiVersion: 'v1', kind: 'Node',
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, [ZONE_LABEL]: n.zone } },
        spec: { podCIDR: podCIDR(n.index, 'IPv4'), podCIDRs: FAMILIES.map((f) => podCIDR(n.index, f)) },
        status: { addresses: [...FAMILIES.map((f) => ({ type: 'InternalIP', address: n.ip(f) })), { type: 'Hostname', address: n.name }] },
      };
      await this.api.create(node);
      await this.api.request('PATCH', `/api/v1/nodes/${n.name}/status`, { status: node.status }, 'application/merge-patch+json');
    }
  }

  get podNetwork(): PodNetwork {
    return this.network.podNetwork;
  }

  get api(): ApiClient {
    return this.cp.api;
  }

  node(n: number): LabNode {
    const node = this.nodes[n - 1];
    if (!node) throw new Error(`no node ${n}`);
    return node;
  }

  pod(name: string): LabPod {
    const p = this.pods.find((q) => q.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  podsOn(node: number): LabPod[] {
    return this.pods.filter((p) => p.node === node);
  }

  clientIP(i = 0, family: Family = 'IPv4'): string {
    return clientIP(i, family);
  }

  /** A fresh Kubernetes namespace for one test; reset() deletes it. */
  async namespace(): Promise<string> {
    const name = `t${++this.#nsCounter}-${this.id}`;
    await this.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    this.#namespaces.push(name);
    return name;
  }

  async deploy(namespace: string, name: string, spec: ServiceSpec, endpoints: readonly EndpointInput[], labels?: Record<string, string>): Promise<DeployedService> {
    const svc = await createService(this.api, namespace, name, spec, labels);
    await writeEndpoints(this.api, svc, endpoints);
    await this.settle();
    return svc;
  }

  async setEndpoints(svc: DeployedService, endpoints: readonly EndpointInput[]): Promise<void> {
    await writeEndpoints(this.api, svc, endpoints);
    await this.settle();
  }

  /**
   * Waits until every running kube-proxy-ts has programmed every Service and EndpointSlice
   * change written so far, and finished the sync that did (see barrier.ts).
   */
  async settle(timeoutMs = 20_000): Promise<void> {
    if (!this.#barrier) throw new Error('the lab has no barrier yet');
    await this.#barrier.pass(new Set(this.nodes.filter((n) => n.proxy.running).map((n) => n.index)), timeoutMs);
  }

  /** Deletes the namespaces made by namespace() (with their Services and slices) and settles. */
  async reset(): Promise<void> {
    const names = this.#namespaces;
    this.#namespaces = [];
    for (const name of names) await this.api.delete('Namespace', undefined, name);
    await this.settle();
  }

  /** Restarts every node's kube-proxy-ts with these extra flags (SIGTERM, rules kept) and settles. */
  async reconfigure(extraArgs: readonly string[]): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => {
      n.proxy.extraArgs = extraArgs;
      await n.proxy.restart('SIGTERM');
    }));
    await this.settle();
  }

  /** Sends the client's traffic for `cidr` to node `n` (as a router in front of it would). */
  async routeClient(cidr: string, n: number): Promise<void> {
    const f: Family = cidr.includes(':') ? 'IPv6' : 'IPv4';
    await this.network.client.run('ip', ['route', 'replace', cidr, 'via', nodeIP(n, f)]);
  }

  /** `nft …` inside node n. */
  async nft(n: number, args: readonly string[]): Promise<string> {
    return this.node(n).ns.run('nft', args);
  }

  /** Logs and rules of every node: printed when a test fails. */
  async diagnostics(): Promise<string> {
    const keep = process.env['KPT_LAB_KEEP'] === undefined ? ' — removed with the lab; set KPT_LAB_KEEP=1 to keep them' : '';
    const parts: string[] = [`lab ${this.id} (logs, kubeconfigs and the control plane's data in ${this.dir}${keep})`];
    for (const n of this.nodes) {
      parts.push(`----- ${n.name}: kube-proxy-ts log (tail) -----`, n.proxy.logTail(40));
      const r = await n.ns.exec('nft', ['list', 'ruleset']);
      parts.push(`----- ${n.name}: nft list ruleset -----`, r.stdout.split('\n').slice(0, 300).join('\n'));
    }
    return parts.join('\n');
  }

  /** Stops the API server, applies `meanwhile` through a second instance, brings it back. */
  async restartControlPlane(meanwhile: (api: ApiClient) => Promise<void>, downMs = 0): Promise<void> {
    await this.cp.restartWithChanges(meanwhile, downMs);
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.nodes.map(async (n) => {
      if (n.proxy.running) await n.proxy.stop('SIGKILL');
      n.proxy.close();
    }));
    for (const ns of this.network.all) ns.destroy();
    await this.cp.close();
    removeLabDir(this.dir);
  }
}
