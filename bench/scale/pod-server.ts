// The benchmark's pod: `node pod-server.ts <ip> <port>...`. Every connection is read to the end
// and answered with the number of bytes read: a bulk client measures throughput with it, and a
// client that only times the TCP handshake resets right after connecting. Prints "ready" once
// every port listens. (The connect probe reaches the pod directly on a port no Service targets,
// so its connections never share a conntrack reply tuple with DNATed ones.)

import { createServer } from 'node:net';

const [ip = '0.0.0.0', ...ports] = process.argv.slice(2);

await Promise.all((ports.length > 0 ? ports : ['8080']).map((port) => new Promise<void>((resolve) => {
  const server = createServer((s) => {
    let bytes = 0;
    s.on('error', () => undefined);
    s.on('data', (b: Buffer) => { bytes += b.length; });
    s.on('end', () => { s.end(`${String(bytes)}\n`); });
  });
  server.listen(Number(port), ip, 4096, resolve);
})));
process.stdout.write('ready\n');
