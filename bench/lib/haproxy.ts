// HAProxy (the Debian package's /usr/sbin/haproxy) in two roles: the backend's HTTP responder
// (`http-request return`, a fixed 200 "ok" without touching a file: far cheaper per request than
// any Node server, so the backend is rarely what limits a path) and the reference TCP proxy
// (`mode tcp`, one frontend per benchmarked port, nbthread as kube-proxy-ts's thread count).
// Both run in the foreground (-db) so the bench owns their pids.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../../test/helpers/netns.ts';
import { waitForExit } from './process.ts';

export const HAPROXY = '/usr/sbin/haproxy';

export interface TcpProxyPort {
  readonly name: string;
  readonly bind: string;
  readonly port: number;
  readonly server: string;
  readonly serverPort: number;
}

/** An equivalent of the userspace forwarder: plain TCP, no splice, timeouts as ours. */
export function tcpProxyConfig(threads: number, ports: readonly TcpProxyPort[]): string {
  const lines = [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 9000',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 24h',
    '  timeout server 24h',
    '  retries 2',
  ];
  for (const p of ports) {
    lines.push(
      '',
      `frontend fe_${p.name}`,
      `  bind ${p.bind}:${p.port}`,
      `  default_backend be_${p.name}`,
      '',
      `backend be_${p.name}`,
      `  server s1 ${p.server}:${p.serverPort}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The backend's small-response HTTP server. */
export function httpResponderConfig(threads: number, bind: string, port: number): string {
  return [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 9000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    '',
    'frontend responder',
    `  bind ${bind}:${port}`,
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n');
}

export interface RunningHaproxy {
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Start HAProxy in `ns` with `config` (optionally pinned to `cpus` with taskset). */
export async function startHaproxy(ns: Netns, config: string, cpus?: string): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'kpt-bench-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const check = ns.tryExec(HAPROXY, ['-c', '-q', '-f', file]);
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`haproxy rejected its configuration: ${check.stderr}${check.stdout}`);
  }
  const args = ['-db', '-f', file];
  const child = cpus === undefined ? ns.spawn(HAPROXY, args) : ns.spawn('taskset', ['-c', cpus, HAPROXY, ...args]);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  child.stdout?.resume();
  const pid = child.pid;
  if (pid === undefined) throw new Error('haproxy did not start');
  // -db: no fork; a bad start exits at once.
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`haproxy exited at start (${String(child.exitCode)}): ${stderr}`);
  }
  return {
    child,
    pid,
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitForExit(child, 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
