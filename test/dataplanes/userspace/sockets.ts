// Real-socket helpers for forwarder tests on 127.0.0.1 (no root needed): backends, clients,
// and a PortRuntime wired to real listeners with kernel-chosen ports.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { PassiveHealth, seededRandom } from '../../../src/dataplanes/userspace/balancers/index.ts';
import { ConnectionBudget } from '../../../src/dataplanes/userspace/budget.ts';
import { InMemoryUserspaceMetrics } from '../../../src/dataplanes/userspace/metrics.ts';
import { PortRuntime, type Frontend } from '../../../src/dataplanes/userspace/port-runtime.ts';
import type { ForwarderSettings } from '../../../src/dataplanes/userspace/tcp.ts';
import { categorizeEndpoints } from '../../../src/model/topology.ts';
import type { Endpoint, LoadBalancingAlgorithm, Protocol, ServicePort } from '../../../src/model/types.ts';
import { systemClock } from '../../../src/util/clock.ts';
import { memoryLogger } from '../../../src/util/logger.ts';
import { makeEndpoint, makePort, TEST_NODE } from '../nftables/fixtures.ts';

export const HOST = '127.0.0.1';

export interface Harness {
  readonly rt: PortRuntime;
  readonly frontend: Frontend;
  readonly port: number;
  readonly metrics: InMemoryUserspaceMetrics;
  readonly records: Record<string, unknown>[];
  readonly sp: ServicePort;
  /** Replace the endpoint list (as a sync would). */
  setEndpoints(eps: readonly Endpoint[]): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly protocol?: Protocol;
  readonly algorithm?: LoadBalancingAlgorithm;
  readonly settings?: Partial<ForwarderSettings>;
  readonly maxConnections?: number;
  readonly udpIdleTimeoutMs?: number;
  readonly backoffMs?: number;
}

/** A service port forwarding 127.0.0.1:<random> to `eps`. */
export async function harness(eps: readonly Endpoint[], o: HarnessOptions = {}): Promise<Harness> {
  const { logger, records } = memoryLogger(2);
  const metrics = new InMemoryUserspaceMetrics();
  const health = new PassiveHealth(systemClock, { baseMs: o.backoffMs ?? 60_000, maxMs: 60_000 });
  const settings: ForwarderSettings = { connectTimeoutMs: 2000, idleTimeoutMs: 0, maxConnectAttempts: 3, ...o.settings };
  const budget = new ConnectionBudget(o.maxConnections ?? 1000, systemClock, logger, metrics);
  const sp = makePort('ns1', 'svc1', 'p', (s) => { s.clusterIP = HOST; }, o.protocol ?? 'TCP');
  const rt = new PortRuntime(sp, {
    pool: { clock: systemClock, random: seededRandom(1), health, metrics },
    forwarder: { clock: systemClock, logger, metrics, budget, health, settings },
    categorize: categorizeEndpoints,
    defaultAlgorithm: o.algorithm ?? 'round-robin',
    udpIdleTimeoutMs: o.udpIdleTimeoutMs ?? 30_000,
    isNodeLocal: () => false,
  });
  const snap = { nodeName: TEST_NODE, nodeLabels: new Map<string, string>() };
  rt.update(sp, eps, snap);
  const frontend = rt.createFrontend({ key: 'internal|127.0.0.1|0', kind: 'internal', host: HOST, port: 0 });
  const port = await frontend.listen();
  return {
    rt, frontend, port, metrics, records, sp,
    setEndpoints: (list) => { rt.update(sp, list, snap); },
    close: () => frontend.close(false),
  };
}

export const ep = (port: number, fn?: Parameters<typeof makeEndpoint>[2]): Endpoint => makeEndpoint(HOST, port, fn);

/** A TCP server on 127.0.0.1:<random>; `onConn` handles each connection. */
export async function tcpServer(onConn: (s: net.Socket) => void, options: net.ServerOpts = {}, port = 0): Promise<{ server: net.Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, ...options }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    onConn(s);
  });
  server.listen(port, HOST);
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return {
    server, port: addr.port,
    close: () => new Promise((resolve) => {
      server.close(() => { resolve(); });
      for (const s of sockets) s.destroy();
    }),
  };
}

/** A server that answers every connection with `name` and closes. */
export function nameServer(name: string): ReturnType<typeof tcpServer> {
  return tcpServer((s) => { s.on('error', () => undefined); s.end(name); });
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = await tcpServer(() => undefined);
  await s.close();
  return s.port;
}

/** Connect, optionally send, read until the server closes: the text received, or the error code. */
export async function request(port: number, send?: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: HOST, port, allowHalfOpen: false });
    let data = '';
    const timer = setTimeout(() => { c.destroy(); resolve('TIMEOUT'); }, timeoutMs);
    c.setEncoding('utf8');
    c.on('data', (d: string) => { data += d; });
    c.on('end', () => { clearTimeout(timer); resolve(data); });
    c.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(`ERR ${e.code ?? e.message}`); });
    if (send !== undefined) c.write(send);
  });
}

/** Open a connection and keep it; resolves once connected (through the proxy: accepted). */
export async function openConnection(port: number): Promise<net.Socket> {
  const c = net.connect({ host: HOST, port });
  c.on('error', () => undefined);
  await once(c, 'connect');
  return c;
}

/** A UDP server that answers each datagram with `${name}:${message}`. */
export async function udpServer(name: string): Promise<{ port: number; close(): void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => { s.send(`${name}:${m.toString()}`, r.port, r.address); });
  s.bind(0, HOST);
  await once(s, 'listening');
  return { port: s.address().port, close: () => { s.close(); } };
}

/** A UDP client socket bound once (one flow), with a helper to send and await one reply. */
export async function udpClient(): Promise<{ ask(port: number, msg: string, timeoutMs?: number): Promise<{ text: string; from: string }>; close(): void }> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  return {
    ask: (port, msg, timeoutMs = 2000) => new Promise((resolve) => {
      const timer = setTimeout(() => { s.removeAllListeners('message'); resolve({ text: 'TIMEOUT', from: '' }); }, timeoutMs);
      s.once('message', (m, r) => { clearTimeout(timer); resolve({ text: m.toString(), from: `${r.address}:${r.port}` }); });
      s.send(msg, port, HOST);
    }),
    close: () => { s.close(); },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Poll `cond` every 10 ms until true or `ms` elapse. */
export async function eventually(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A port whose connects hang (no SYN-ACK): a child process listens with backlog 1 and then
 * blocks its event loop, so it never accepts; a few filler connections fill the accept queue
 * and the kernel drops further SYNs. No root, no firewall rules. close() kills the child.
 */
export async function blackholePort(): Promise<{ port: number; close(): void }> {
  const code = `const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
    console.log(s.address().port);
    setTimeout(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }, 50);
  });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  await sleep(150);
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const f = net.connect({ host: HOST, port });
    f.on('error', () => undefined);
    fillers.push(f);
  }
  await sleep(100);
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    },
  };
}
