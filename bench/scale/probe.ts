// Client side of the dataplane measurements, run inside a node namespace:
//
//   node probe.ts bulk <host> <port> <seconds>     one connection, writes for <seconds>, the
//                                                 server answers with the bytes it read
//   node probe.ts once <host> <port> <timeoutMs>   one connection attempt
//   node probe.ts step <host> <port> <warm-up>     stepped handshakes: after <warm-up> of them
//                                                 prints "ready", then for each stdin line
//                                                 "<n> <skip>" makes <skip> + <n> sequential
//                                                 handshakes and answers with the µs of the
//                                                 last <n> ("fail" for a failed one), so a
//                                                 coordinator can interleave paths in other
//                                                 namespaces in short bursts
//
// Prints one JSON line (step: one line per step).

import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, host = '', portText = '0', arg = '0'] = process.argv.slice(2);
const port = Number(portText);

function handshake(timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s: Socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('timeout')); }, timeoutMs);
    s.once('connect', () => {
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      clearTimeout(timer);
      s.resetAndDestroy();
      resolve(us);
    });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function bulkMode(seconds: number): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const s = connect({ host, port, noDelay: true });
  await new Promise<void>((r, j) => { s.once('connect', r); s.once('error', j); });
  const t0 = performance.now();
  let reply = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => { reply += d; });
  const done = new Promise<void>((r) => { s.once('end', r); });
  while (performance.now() - t0 < seconds * 1000) {
    if (!s.write(chunk)) await new Promise<void>((r) => { s.once('drain', r); });
  }
  s.end();
  await done;
  const elapsed = (performance.now() - t0) / 1000;
  const bytes = Number(reply.trim());
  process.stdout.write(`${JSON.stringify({ bytes, seconds: elapsed, gbitPerS: (bytes * 8) / elapsed / 1e9 })}\n`);
}

async function onceMode(timeoutMs: number): Promise<void> {
  try {
    const us = await handshake(timeoutMs);
    process.stdout.write(`${JSON.stringify({ ok: true, us })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
  }
}

async function stepMode(warmUp: number): Promise<void> {
  for (let i = 0; i < warmUp; i++) await handshake(2000);
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [n = 1, skip = 0] = line.trim().split(/\s+/).map(Number);
    const answers: string[] = [];
    for (let i = 0; i < skip + n; i++) {
      let answer = 'fail';
      try {
        answer = (await handshake(2000)).toFixed(2);
      } catch { /* answered as "fail" */ }
      if (i >= skip) answers.push(answer);
    }
    process.stdout.write(`${answers.join(' ')}\n`);
  }
}

switch (mode) {
  case 'bulk': await bulkMode(Number(arg)); break;
  case 'once': await onceMode(Number(arg)); break;
  case 'step': await stepMode(Number(arg)); break;
  default:
    process.stderr.write('usage: probe.ts bulk|once|step <host> <port> <arg>\n');
    process.exitCode = 2;
}
