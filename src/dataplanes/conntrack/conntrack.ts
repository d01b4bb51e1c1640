// Deleting conntrack entries, behind a small port. The real implementation runs the
// `conntrack` CLI (no shell); tests of the planning use a fake, kernel tests the real one in
// a network namespace.

import { spawn } from 'node:child_process';
import type { IPFamily } from '../../model/types.ts';

/** Flows to delete: every given field must match. Never empty (see conntrackArgs). */
export interface ConntrackFilter {
  readonly family: IPFamily;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  /** Original destination address (service IP). */
  readonly origDst?: string;
  /** Original destination port (service port or NodePort). */
  readonly origDstPort?: number;
  /** Reply source address: the endpoint the flow was DNATed to. */
  readonly replySrc?: string;
  /** Reply source port (equal to origDstPort: a flow that was not DNATed). */
  readonly replySrcPort?: number;
}

export interface Conntrack {
  /** Delete matching flows; resolves to how many were deleted. */
  deleteFlows(filter: ConntrackFilter): Promise<number>;
}

export class ConntrackError extends Error {
  readonly code = 'CONNTRACK_FAILED';
  readonly stderr: string;
  constructor(message: string, stderr: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConntrackError';
    this.stderr = stderr;
  }
}

/** `conntrack -D …` arguments for a filter. Refuses a filter that would match every flow. */
export function conntrackArgs(f: ConntrackFilter): string[] {
  if (f.origDst === undefined && f.origDstPort === undefined && f.replySrc === undefined && f.replySrcPort === undefined) {
    throw new ConntrackError('refusing to delete conntrack entries without a filter', '');
  }
  const args = ['-D', '-f', f.family === 'IPv4' ? 'ipv4' : 'ipv6', '-p', f.protocol];
  if (f.origDst !== undefined) args.push('--orig-dst', f.origDst);
  if (f.origDstPort !== undefined) args.push('--orig-port-dst', String(f.origDstPort));
  if (f.replySrc !== undefined) args.push('--reply-src', f.replySrc);
  if (f.replySrcPort !== undefined) args.push('--reply-port-src', String(f.replySrcPort));
  return args;
}

export interface ConntrackCliOptions {
  readonly binary?: string;
  /** e.g. ["ip", "netns", "exec", "kpt-x"] in tests. */
  readonly commandPrefix?: readonly string[];
  readonly timeoutMs?: number;
}

export class ConntrackCli implements Conntrack {
  readonly #binary: string;
  readonly #prefix: readonly string[];
  readonly #timeoutMs: number;

  constructor(options: ConntrackCliOptions = {}) {
    this.#binary = options.binary ?? 'conntrack';
    this.#prefix = options.commandPrefix ?? [];
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  deleteFlows(filter: ConntrackFilter): Promise<number> {
    const argv = [...this.#prefix, this.#binary, ...conntrackArgs(filter)];
    const [cmd, ...rest] = argv;
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? this.#binary, rest, { stdio: ['ignore', 'pipe', 'pipe'], timeout: this.#timeoutMs });
      const err: Buffer[] = [];
      child.stdout.resume();
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => { reject(new ConntrackError(`could not run ${cmd ?? this.#binary}: ${e.message}`, '', { cause: e })); });
      child.on('close', (code) => {
        const stderr = Buffer.concat(err).toString('utf8');
        const m = /(\d+) flow entries have been deleted/.exec(stderr);
        const n = m?.[1] !== undefined ? Number(m[1]) : undefined;
        // conntrack exits 1 when nothing matched ("0 flow entries have been deleted").
        if (code === 0 || (code === 1 && n === 0)) resolve(n ?? 0);
        else reject(new ConntrackError(`conntrack ${conntrackArgs(filter).join(' ')} failed (exit ${String(code)}): ${stderr.trim()}`, stderr));
      });
    });
  }
}
