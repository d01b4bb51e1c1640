// The scale benchmark's world: a control plane in its own process (root namespace loopback),
// and two "nodes" in throwaway network namespaces, each with one pod namespace behind a veth:
//
//   big node   kube-proxy-ts (the real daemon) programs every object of the shape
//   small node the same renderer and planner (NftablesDataplane, no daemon) with 10 services:
//              the reference for per-packet cost
//
//   node ns: 192.168.250.1 on lo (the node IP), veth vpod 10.250.0.1/24 to the pod,
//            route 10.96.0.0/16 via vpod; an agent relays 127.0.0.1:6443 to the control plane
//   pod ns:  eth0 10.250.0.2/24, a server (pod-server.ts) on :8080 (Services' target) and
//            :8081 (direct connect probes)
//
// Namespaces are test/lab's (kpt-lab-<pid>x<rand>-<role>): deleted by destroy(), by the exit
// and signal hooks, or by the next lab's reaper if this process was SIGKILLed.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { kubeconfigYaml } from '../../src/controlplane/kubeconfig.ts';
import { startAgent, type Agent } from '../../test/lab/agent-client.ts';
import { LabNetns, makeLabDir, newLabId, reapStaleLabs, removeLabDir } from '../../test/lab/netns.ts';
import { BulkApi } from './api.ts';

const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'src/cli/bin.ts');
const POD_SERVER = join(import.meta.dirname, 'pod-server.ts');

export const NODE_NAME = 'scale-node';
export const NODE_IP = '192.168.250.1';
export const POD_IP = '10.250.0.2';
export const POD_GW = '10.250.0.1';
export const POD_PORT = 8080;
/** A second port of the pod, which no Service targets: direct connect probes go there. */
export const POD_DIRECT_PORT = 8081;
export const SERVICE_CIDR = '10.96.0.0/16';
export const CLUSTER_CIDR = '10.0.0.0/8';
export const NODE_API_PORT = 6443;

/** One node namespace and its pod. */
export interface NodePair {
  readonly node: LabNetns;
  readonly pod: LabNetns;
}

/**
 * CPUs for the per-packet measurements when there are several: the probes share the last CPU
 * (so no path gets a quieter one for a whole run, and each handshake's softirq work runs where
 * its probe does), the pods' servers the first (their accept and read work stays off the
 * probes' CPU). Undefined: no pinning.
 */
export function placement(): { probes?: string; pods?: string } {
  const n = availableParallelism();
  return n < 2 ? {} : { probes: String(n - 1), pods: '0' };
}

function wirePair(id: string, role: string): NodePair {
  const node = LabNetns.create(id, `${role}-node`);
  const pod = LabNetns.create(id, `${role}-pod`);
  node.ipBatchSync([
    `address add ${NODE_IP}/32 dev lo`,
    `link add vpod type veth peer name eth0 netns ${pod.name}`, 'link set vpod up', `address add ${POD_GW}/24 dev vpod`,
    `route add ${SERVICE_CIDR} dev vpod`,
  ]);
  pod.ipBatchSync(['link set eth0 up', `address add ${POD_IP}/24 dev eth0`, `route add default via ${POD_GW}`]);
  return { node, pod };
}

async function startPodServer(pod: LabNetns): Promise<ChildProcess> {
  const argv = [POD_SERVER, POD_IP, String(POD_PORT), String(POD_DIRECT_PORT)];
  const cpu = placement().pods;
  const child = cpu === undefined ? pod.spawn(process.execPath, argv) : pod.spawn('taskset', ['-c', cpu, process.execPath, ...argv]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { reject(new Error(`pod server in ${pod.name} not ready`)); }, 15_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`pod server exited ${String(code)}`)); });
  });
  return child;
}

/** The control plane as its own process (`kube-proxy-ts control-plane`), so its memory is its own. */
export class ControlPlaneProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly caPem: string;
  readonly token: string;

  private constructor(child: ChildProcess, url: string, caPem: string, token: string) {
    this.child = child;
    this.url = url;
    this.caPem = caPem;
    this.token = token;
  }

  static async start(dir: string): Promise<ControlPlaneProcess> {
    const dataDir = join(dir, 'control-plane');
    const log = createWriteStream(join(dir, 'control-plane.log'));
    const child = spawn(process.execPath, [BIN, 'control-plane', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--service-cidr', SERVICE_CIDR], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.pipe(log);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => { reject(new Error('control plane did not start within 30 s')); }, 30_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /serving at (https:\/\/\S+)/.exec(out);
        if (m?.[1] !== undefined) { clearTimeout(timer); resolve(m[1]); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`control plane exited ${String(code)}`)); });
    });
    const caPem = readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8');
    const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
    return new ControlPlaneProcess(child, url, caPem, token);
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (!this.running || pid === undefined) return;
    const exited = new Promise<void>((r) => { this.child.once('exit', () => { r(); }); });
    process.kill(pid, 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => { r(false); }, 10_000))]);
    if (!done) process.kill(pid, 'SIGKILL');
  }
}

/** A unix socket relayed to the control plane's TCP port (the node agent forwards to it). */
function startRelay(socketPath: string, port: number): Promise<{ server: Server; sockets: Set<Socket> }> {
  rmSync(socketPath, { force: true });
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port });
    sockets.add(inbound);
    inbound.pipe(outbound).pipe(inbound);
    const end = (): void => { inbound.destroy(); outbound.destroy(); sockets.delete(inbound); };
    for (const s of [inbound, outbound]) { s.on('error', end); s.on('close', end); }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { resolve({ server, sockets }); });
  });
}

export class ScaleEnv {
  readonly id: string;
  readonly dir: string;
  readonly big: NodePair;
  readonly small: NodePair;
  readonly nodeAgent: Agent;
  readonly cp: ControlPlaneProcess;
  readonly api: BulkApi;
  readonly kubeconfig: string;
  readonly #relay: { server: Server; sockets: Set<Socket> };
  readonly #servers: ChildProcess[];

  private constructor(init: { id: string; dir: string; big: NodePair; small: NodePair; nodeAgent: Agent; cp: ControlPlaneProcess; api: BulkApi; kubeconfig: string; relay: { server: Server; sockets: Set<Socket> }; servers: ChildProcess[] }) {
    this.id = init.id;
    this.dir = init.dir;
    this.big = init.big;
    this.small = init.small;
    this.nodeAgent = init.nodeAgent;
    this.cp = init.cp;
    this.api = init.api;
    this.kubeconfig = init.kubeconfig;
    this.#relay = init.relay;
    this.#servers = init.servers;
  }

  static async create(concurrency: number): Promise<ScaleEnv> {
    reapStaleLabs();
    const id = newLabId();
    const dir = makeLabDir(id);
    const made: LabNetns[] = [];
    let cp: ControlPlaneProcess | undefined;
    try {
      const big = wirePair(id, 'scale');
      made.push(big.node, big.pod);
      const small = wirePair(id, 'ref');
      made.push(small.node, small.pod);
      cp = await ControlPlaneProcess.start(dir);
      const sock = join(dir, 'api.sock');
      const relay = await startRelay(sock, cp.port);
      const nodeAgent = await startAgent({ ns: big.node, socketPath: join(dir, 'node.sock'), forward: `127.0.0.1:${NODE_API_PORT}=${sock}` });
      const servers = await Promise.all([startPodServer(big.pod), startPodServer(small.pod)]);
      const kubeconfig = join(dir, 'node.kubeconfig');
      writeFileSync(kubeconfig, kubeconfigYaml(`https://127.0.0.1:${NODE_API_PORT}`, cp.caPem, cp.token), { mode: 0o600 });
      const api = new BulkApi({ url: cp.url, caPem: cp.caPem, token: cp.token, concurrency });
      return new ScaleEnv({ id, dir, big, small, nodeAgent, cp, api, kubeconfig, relay, servers });
    } catch (err) {
      await cp?.stop();
      for (const ns of made) ns.destroy();
      removeLabDir(dir);
      throw err;
    }
  }

  async destroy(): Promise<void> {
    this.api.close();
    for (const s of this.#servers) if (s.pid !== undefined && s.exitCode === null) process.kill(s.pid, 'SIGKILL');
    this.nodeAgent.process.kill('SIGKILL');
    for (const s of this.#relay.sockets) s.destroy();
    await new Promise<void>((r) => { this.#relay.server.close(() => { r(); }); });
    await this.cp.stop();
    for (const ns of [this.big.node, this.big.pod, this.small.node, this.small.pod]) ns.destroy();
    removeLabDir(this.dir);
  }
}
