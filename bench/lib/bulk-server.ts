// The backend's bulk responder: answers any HTTP request with a fixed-size body from one
// preallocated buffer (one large write per response: the kernel, not this process, is the
// work) and closes. Args: HOST PORT BYTES. Prints "ready" once listening.

import net from 'node:net';

const host = process.argv[2] ?? '0.0.0.0';
const port = Number(process.argv[3] ?? 8081);
const bytes = Number(process.argv[4] ?? 100 * 1024 * 1024);
const body = Buffer.alloc(bytes, 'x');
const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n`);

const server = net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => undefined);
  let seen = '';
  const onData = (d: Buffer): void => {
    seen += d.toString('latin1');
    if (!seen.includes('\r\n\r\n')) return;
    s.removeListener('data', onData);
    s.write(head);
    s.end(body);
  };
  s.on('data', onData);
});
server.listen({ host, port, backlog: 1024 }, () => { process.stdout.write('ready\n'); });
process.on('SIGTERM', () => { process.exit(0); });
