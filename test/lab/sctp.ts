// SCTP in the lab (see sctp.py for why raw sockets): whether this kernel can carry SCTP
// through conntrack and NAT, a pod-side responder, and a client that opens associations.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Hit } from './agent-protocol.ts';
import type { LabNetns } from './netns.ts';

const SCRIPT = join(import.meta.dirname, 'sctp.py');

export interface SctpSupport {
  /** Can the lab test SCTP Services here? */
  readonly usable: boolean;
  /** Kernel SCTP sockets (CONFIG_IP_SCTP): not needed by the lab, reported for the record. */
  readonly sockets: boolean;
  readonly reason: string;
  /** python3's real path (avoids version-manager shims on every spawn). */
  readonly python: string;
}

/** Probes (in a throwaway namespace of the caller's) what the kernel offers for SCTP. */
export async function probeSctp(ns: LabNetns): Promise<SctpSupport> {
  let python = '';
  try {
    python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  } catch {
    return { usable: false, sockets: false, reason: 'python3 is not installed', python };
  }
  const sockets = (await ns.exec(python, ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)'])).status === 0;
  const raw = (await ns.exec(python, ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)'])).status === 0;
  // conntrack's SCTP tracker is what NAT needs: built in, or a loadable module we will not load.
  const tracker = (await ns.exec('test', ['-e', '/proc/sys/net/netfilter/nf_conntrack_sctp_timeout_established'])).status === 0;
  if (!raw) return { usable: false, sockets, reason: 'raw IP sockets for protocol 132 are not available', python };
  if (!tracker) return { usable: false, sockets, reason: 'the kernel has no SCTP conntrack (nf_conntrack_proto_sctp), so it cannot NAT SCTP', python };
  return { usable: true, sockets, reason: sockets ? 'kernel SCTP sockets and SCTP conntrack' : 'no kernel SCTP sockets (CONFIG_IP_SCTP unset); SCTP conntrack/NAT present: raw-socket INIT/INIT-ACK', python };
}

/** Starts the INIT-ACK responder as `name` on `port` inside a pod namespace. */
export async function startSctpServer(support: SctpSupport, ns: LabNetns, name: string, port: number): Promise<void> {
  const child = ns.spawn(support.python, [SCRIPT, 'server', name, String(port)]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => { reject(new Error(`sctp server in ${ns.name} not ready: ${err}`)); }, 10_000);
    child.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sctp server in ${ns.name} exited (${String(code)}): ${err}`));
    });
  });
}

/** Opens `count` associations (INIT → INIT-ACK) to host:port from inside `ns`. */
export async function sctpHits(support: SctpSupport, ns: LabNetns, host: string, port: number, count: number, timeoutMs = 2000): Promise<Hit[]> {
  const r = await ns.exec(support.python, [SCRIPT, 'client', host, String(port), String(count), String(timeoutMs)], { timeoutMs: count * timeoutMs + 10_000 });
  if (r.status !== 0) throw new Error(`sctp client in ${ns.name} failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Hit);
}
