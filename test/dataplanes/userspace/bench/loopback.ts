// Loopback benchmark: request/response rate and latency, and new connections per second,
// directly to a backend and through the userspace forwarder (each in its own process; the
// load generator is this process). Not part of the test suite:
//   npx node test/dataplanes/userspace/bench/loopback.ts [seconds] [concurrency]
// The numbers are for comparing paths on one machine in one run, not absolute figures.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.argv[2] ?? 5);
const CONCURRENCY = Number(process.argv[3] ?? 32);
const REQ = Buffer.alloc(100, 'q');
REQ[99] = 10;

const BACKEND = `const net = require('net'); const RES = Buffer.alloc(100, 'r'); RES[99] = 10;
const s = net.createServer({ noDelay: true }, (c) => { c.on('error', () => {}); c.on('data', (d) => { for (const b of d) if (b === 10) c.write(RES); }); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

async function start(args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return { child, line: chunk.toString().trim() };
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const addr = s.address();
  s.close();
  return typeof addr === 'object' && addr !== null ? addr.port : 0;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Keep-alive request/response on CONCURRENCY connections. */
async function requests(port: number): Promise<{ rps: number; p50: number; p99: number }> {
  const deadline = performance.now() + SECONDS * 1000;
  const lat: number[] = [];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    const c = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await once(c, 'connect');
    await new Promise<void>((resolve) => {
      let t0 = performance.now();
      let pending = 0;
      c.on('data', (d: Buffer) => {
        for (const b of d) if (b === 10) pending--;
        if (pending > 0) return;
        const now = performance.now();
        lat.push(now - t0);
        if (now > deadline) { c.end(); resolve(); return; }
        t0 = now;
        pending = 1;
        c.write(REQ);
      });
      pending = 1;
      c.write(REQ);
    });
  }));
  const sorted = Float64Array.from(lat).sort();
  return { rps: lat.length / SECONDS, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** New connection per request: connect, one request, close. */
async function connections(port: number): Promise<{ cps: number; p50: number; p99: number }> {
  const deadline = performance.now() + SECONDS * 1000;
  const lat: number[] = [];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const c = net.connect({ host: '127.0.0.1', port, noDelay: true });
      c.on('error', () => undefined);
      c.write(REQ);
      await once(c, 'data');
      c.destroy();
      lat.push(performance.now() - t0);
    }
  }));
  const sorted = Float64Array.from(lat).sort();
  return { cps: lat.length / SECONDS, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

const backend = await start(['-e', BACKEND]);
const backendPort = Number(backend.line);
const listen = await freePort();
const proxy = await start([fileURLToPath(new URL('./proxy-process.ts', import.meta.url)), String(backendPort), String(listen)]);
const fmt = (n: number): string => n.toFixed(0);
const ms = (n: number): string => `${(n * 1000).toFixed(0)} µs`;
try {
  for (const [name, port] of [['direct', backendPort], ['userspace', listen]] as const) {
    const r = await requests(port);
    const c = await connections(port);
    console.log(`${name.padEnd(10)} req/s ${fmt(r.rps)} (p50 ${ms(r.p50)}, p99 ${ms(r.p99)})  new conn/s ${fmt(c.cps)} (p50 ${ms(c.p50)}, p99 ${ms(c.p99)})`);
  }
} finally {
  proxy.child.stdin?.end();
  backend.child.kill();
}
