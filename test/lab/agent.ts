// The one process the lab runs in each of its namespaces (pods, nodes, client):
//
//   node agent.ts --control <sock> [--name <pod> --tcp 8080,8081 --udp 8080,5353 --line 7000]
//                 [--forward 127.0.0.1:6443=<unix socket>]
//
// --name/--tcp/--udp: the pod's servers. TCP ports answer HTTP (so curl works too), UDP ports
//   answer each datagram; both reply "<pod> <clientIP>:<clientPort> <proto>/<port>".
// --line: TCP servers that answer every line with that text and keep the connection open
//   (long-lived connections); stopping one resets its connections, as a crashed server would.
// --forward: a TCP listener relayed to a unix socket (how node namespaces reach the control
//   plane, which listens on the root namespace's loopback, without touching the root
//   namespace's network configuration).
// --control: requests from the lab (agent-protocol.ts), run from inside this namespace.
// Prints "ready" once everything listens.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resetSocket } from '../../src/dataplanes/userspace/tcp.ts';
import { formatReply, type AgentRequest, type AgentResponse } from './agent-protocol.ts';
import { batch, HeldConnections, httpGet, Load, tcpHit, udpHit, UdpStream } from './agent-ops.ts';

const { values } = parseArgs({
  options: {
    control: { type: 'string' },
    name: { type: 'string' },
    tcp: { type: 'string' },
    udp: { type: 'string' },
    forward: { type: 'string' },
    line: { type: 'string' },
  },
  strict: true,
});

const podName = values.name ?? '';
const ports = (s: string | undefined): number[] => (s ?? '').split(',').filter((p) => p !== '').map(Number);

const tcpServers = new Map<number, HttpServer>();
const udpServers = new Map<number, UdpSocket>();
const lineServers = new Map<number, { readonly server: Server; readonly conns: Set<Socket> }>();

function listenTcp(port: number): Promise<void> {
  const server = createHttpServer((req, res) => {
    const body = formatReply(podName, req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0, 'tcp', port);
    res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(`${body}\n`);
  });
  server.keepAliveTimeout = 1;
  tcpServers.set(port, server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => { resolve(); });
  });
}

function listenUdp(port: number): Promise<void> {
  const sock = createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (_msg, rinfo) => {
    sock.send(formatReply(podName, rinfo.address, rinfo.port, 'udp', port), rinfo.port, rinfo.address);
  });
  udpServers.set(port, sock);
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '::', () => { resolve(); });
  });
}

function listenLine(port: number): Promise<void> {
  const conns = new Set<Socket>();
  const server = createServer((c) => {
    conns.add(c);
    c.setNoDelay(true);
    c.setEncoding('utf8');
    let buf = '';
    c.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        buf = buf.slice(nl + 1);
        c.write(`${formatReply(podName, c.remoteAddress ?? '?', c.remotePort ?? 0, 'tcp', port)}\n`);
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => conns.delete(c));
  });
  lineServers.set(port, { server, conns });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => { resolve(); });
  });
}

async function serve(proto: 'tcp' | 'udp' | 'line', port: number, on: boolean): Promise<void> {
  if (proto === 'line') {
    const l = lineServers.get(port);
    if (on && l === undefined) await listenLine(port);
    if (!on && l !== undefined) {
      lineServers.delete(port);
      // As if the server crashed: its connections are reset, new ones are refused.
      for (const c of l.conns) resetSocket(c);
      await new Promise<void>((resolve) => { l.server.close(() => { resolve(); }); });
    }
    return;
  }
  if (proto === 'tcp') {
    const s = tcpServers.get(port);
    if (on && s === undefined) await listenTcp(port);
    if (!on && s !== undefined) {
      tcpServers.delete(port);
      s.closeAllConnections();
      await new Promise<void>((resolve) => { s.close(() => { resolve(); }); });
    }
    return;
  }
  const u = udpServers.get(port);
  if (on && u === undefined) await listenUdp(port);
  if (!on && u !== undefined) {
    udpServers.delete(port);
    u.close();
  }
}

function startForward(spec: string): Promise<Server> {
  const m = /^([^=]+):(\d+)=(.+)$/.exec(spec);
  if (!m) throw new Error(`bad --forward ${spec}`);
  const [, host = '', port = '', path = ''] = m;
  const server = createServer((inbound) => {
    const outbound = connect({ path });
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), host, () => { resolve(server); });
  });
}

const loads = new Map<number, Load>();
const held = new HeldConnections();
const streams = new Map<number, UdpStream>();
let nextId = 1;

async function handle(req: AgentRequest): Promise<unknown> {
  switch (req.op) {
    case 'ping':
      return 'pong';
    case 'tcp':
      return tcpHit(req);
    case 'udp':
      return udpHit(req);
    case 'batch':
      return batch(req.proto, req.count, req.concurrency ?? 8, req);
    case 'get':
      return httpGet(req.url, req.timeoutMs);
    case 'loadStart': {
      const id = nextId++;
      loads.set(id, new Load(req.proto, req.intervalMs, req));
      return id;
    }
    case 'loadStop': {
      const load = loads.get(req.id);
      if (!load) throw new Error(`no load ${req.id}`);
      loads.delete(req.id);
      return load.stop();
    }
    case 'streamStart': {
      const id = nextId++;
      streams.set(id, await UdpStream.start(req.intervalMs, req));
      return id;
    }
    case 'streamPeek':
    case 'streamStop': {
      const s = streams.get(req.id);
      if (!s) throw new Error(`no stream ${req.id}`);
      if (req.op === 'streamPeek') return s.peek();
      streams.delete(req.id);
      return s.stop();
    }
    case 'serve':
      await serve(req.proto, req.port, req.on);
      return null;
    case 'holdOpen':
      return held.open(req.count, req);
    case 'holdPing':
      return held.ping(req.ids, req.timeoutMs);
    case 'holdClose':
      held.close(req.ids);
      return null;
  }
}

function startControl(path: string): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      const reply = (r: AgentResponse): void => { conn.end(`${JSON.stringify(r)}\n`); };
      let req: AgentRequest;
      try {
        req = JSON.parse(line) as AgentRequest;
      } catch (err) {
        reply({ ok: false, error: `bad request: ${String(err)}` });
        return;
      }
      handle(req).then((result) => { reply({ ok: true, result }); }, (err: unknown) => {
        reply({ ok: false, error: err instanceof Error ? err.message : String(err) });
      });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { resolve(server); });
  });
}

async function main(): Promise<void> {
  await Promise.all([...ports(values.tcp).map(listenTcp), ...ports(values.udp).map(listenUdp), ...ports(values.line).map(listenLine)]);
  if (values.forward !== undefined) await startForward(values.forward);
  if (values.control !== undefined) await startControl(values.control);
  process.stdout.write('ready\n');
}

process.on('SIGTERM', () => { process.exit(0); });
main().catch((err: unknown) => {
  process.stderr.write(`agent failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
