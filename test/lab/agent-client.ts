// The lab's side of an agent: starts test/lab/agent.ts inside a namespace and sends it
// requests (agent-protocol.ts) over its unix socket.

import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { AgentRequest, AgentResponse, GetResult, Held, Hit, HitProto, LoadReport, StreamReport, Target } from './agent-protocol.ts';
import type { LabNetns } from './netns.ts';

const AGENT = join(import.meta.dirname, 'agent.ts');

export interface AgentStart {
  readonly ns: LabNetns;
  readonly socketPath: string;
  readonly podName?: string;
  readonly tcpPorts?: readonly number[];
  readonly udpPorts?: readonly number[];
  /** Line servers (long-lived connections, agent.ts). */
  readonly linePorts?: readonly number[];
  readonly forward?: string;
}

export type HitOptions = Omit<Target, 'host' | 'port'>;

/** Starts an agent and waits for its "ready" line. */
export async function startAgent(opts: AgentStart): Promise<Agent> {
  const args = [AGENT, '--control', opts.socketPath];
  if (opts.podName !== undefined) args.push('--name', opts.podName);
  if (opts.tcpPorts && opts.tcpPorts.length > 0) args.push('--tcp', opts.tcpPorts.join(','));
  if (opts.udpPorts && opts.udpPorts.length > 0) args.push('--udp', opts.udpPorts.join(','));
  if (opts.linePorts && opts.linePorts.length > 0) args.push('--line', opts.linePorts.join(','));
  if (opts.forward !== undefined) args.push('--forward', opts.forward);
  const child = opts.ns.spawn(process.execPath, args);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`agent in ${opts.ns.name} not ready after 20 s: ${stderr}`)); }, 20_000);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent in ${opts.ns.name} exited (${String(code)}): ${stderr}`));
    });
  });
  return new Agent(opts.ns, opts.socketPath, child);
}

export class Agent {
  readonly ns: LabNetns;
  readonly socketPath: string;
  readonly process: ChildProcess;

  constructor(ns: LabNetns, socketPath: string, child: ChildProcess) {
    this.ns = ns;
    this.socketPath = socketPath;
    this.process = child;
  }

  call(req: AgentRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = connect({ path: this.socketPath });
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('connect', () => { sock.write(`${JSON.stringify(req)}\n`); });
      sock.on('data', (c: string) => { buf += c; });
      sock.on('error', reject);
      sock.on('end', () => {
        try {
          const r = JSON.parse(buf) as AgentResponse;
          if (r.ok) resolve(r.result);
          else reject(new Error(`agent in ${this.ns.name}: ${req.op}: ${r.error}`));
        } catch (err) {
          reject(new Error(`agent in ${this.ns.name}: bad response ${JSON.stringify(buf)}`, { cause: err }));
        }
      });
    });
  }

  /** One HTTP request on a new TCP connection. */
  async tcp(host: string, port: number, opts: HitOptions = {}): Promise<Hit> {
    return (await this.call({ op: 'tcp', host, port, ...opts })) as Hit;
  }

  /** One UDP datagram and its reply. */
  async udp(host: string, port: number, opts: HitOptions = {}): Promise<Hit> {
    return (await this.call({ op: 'udp', host, port, ...opts })) as Hit;
  }

  /** `count` requests, `concurrency` at a time (default 8); 'line': one round trip to a line server per connection. */
  async batch(proto: HitProto, host: string, port: number, count: number, opts: HitOptions & { concurrency?: number } = {}): Promise<Hit[]> {
    return (await this.call({ op: 'batch', proto, host, port, count, ...opts })) as Hit[];
  }

  /** Plain HTTP GET from inside the namespace (health, metrics, health check node ports). */
  async get(url: string, timeoutMs = 2000): Promise<GetResult> {
    return (await this.call({ op: 'get', url, timeoutMs })) as GetResult;
  }

  /** Starts new connections every intervalMs until the returned stop() is called. */
  async load(proto: 'tcp' | 'udp', host: string, port: number, intervalMs: number, opts: HitOptions = {}): Promise<{ stop(): Promise<LoadReport> }> {
    const id = (await this.call({ op: 'loadStart', proto, host, port, intervalMs, ...opts })) as number;
    return { stop: async () => (await this.call({ op: 'loadStop', id })) as LoadReport };
  }

  /** A datagram every intervalMs from one source port, replies recorded. */
  async udpStream(host: string, port: number, intervalMs: number, opts: HitOptions = {}): Promise<{ peek(): Promise<StreamReport>; stop(): Promise<StreamReport> }> {
    const id = (await this.call({ op: 'streamStart', host, port, intervalMs, ...opts })) as number;
    return {
      peek: async () => (await this.call({ op: 'streamPeek', id })) as StreamReport,
      stop: async () => (await this.call({ op: 'streamStop', id })) as StreamReport,
    };
  }

  /** Starts or stops one of a pod's servers (stopping a line server resets its connections). */
  async serve(proto: 'tcp' | 'udp' | 'line', port: number, on: boolean): Promise<void> {
    await this.call({ op: 'serve', proto, port, on });
  }

  /** One round trip to a line server on a new connection, kept open (closeHeld ends it). */
  async hold(host: string, port: number, count: number, opts: HitOptions = {}): Promise<Held[]> {
    return (await this.call({ op: 'holdOpen', host, port, count, ...opts })) as Held[];
  }

  /** A round trip on each held connection (default: all), in the order of `ids`. */
  async pingHeld(ids?: readonly number[], timeoutMs?: number): Promise<Hit[]> {
    return (await this.call({ op: 'holdPing', ...(ids !== undefined ? { ids } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) })) as Hit[];
  }

  async closeHeld(ids?: readonly number[]): Promise<void> {
    await this.call({ op: 'holdClose', ...(ids !== undefined ? { ids } : {}) });
  }
}
