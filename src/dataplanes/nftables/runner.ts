// The one way we talk to nft: `nft -f -` with the transaction on stdin (no shell), plus
// read-only queries. Tests run the real binary inside a network namespace via commandPrefix.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { NftCommandError } from './errors.ts';

/**
 * A transaction: its text, or its lines (each followed by a newline). Lines let a large
 * transaction go to nft without ever being joined into one string (5 MB at 10k Services,
 * as garbage on top of everything else a full sync holds).
 */
export type NftScript = string | readonly string[];

/** The text of a script. */
export function scriptText(script: NftScript): string {
  return typeof script === 'string' ? script : script.map((l) => `${l}\n`).join('');
}

export interface NftRunner {
  /** Apply a transaction atomically (`nft -f -`); with check, validate only (`nft -c -f -`). */
  run(script: NftScript, options?: { readonly check?: boolean }): Promise<void>;
  /** Run `nft ARGS…` and return stdout (e.g. ["-j", "list", "chains", "ip"]). */
  query(args: readonly string[]): Promise<string>;
  /**
   * Like run, but nft has the whole transaction before this returns: it gets on with it while
   * the caller keeps the CPU (a synchronous loop, say), without the event loop. In the
   * background, nft runs at the lowest CPU priority (it takes only CPU time nobody else wants)
   * until foreground() is called. Optional.
   */
  start?(script: NftScript, options?: { readonly background?: boolean }): StartedNft;
}

/** A transaction handed to nft by NftRunner.start. */
export interface StartedNft {
  /** Settles when nft is done: rejects as run would. */
  readonly done: Promise<void>;
  /** Normal CPU priority again (if started in the background and still running). */
  foreground(): void;
}

/** Niceness of a transaction started in the background. */
const BACKGROUND_NICENESS = 19;

/** CAP_SYS_NICE's bit in /proc/self/status CapEff. */
const CAP_SYS_NICE = 23n;

let sysNice: boolean | undefined;

/**
 * Whether we may raise a process's priority back (CAP_SYS_NICE: kube-proxy runs privileged).
 * Without it a transaction started in the background would stay at the lowest priority: on a
 * busy node, behind every workload; so it is not lowered at all then.
 */
function canRaisePriority(): boolean {
  if (sysNice === undefined) {
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      sysNice = m?.[1] !== undefined && ((BigInt(`0x${m[1]}`) >> CAP_SYS_NICE) & 1n) === 1n;
    } catch {
      sysNice = false;
    }
  }
  return sysNice;
}

export interface SpawnNftRunnerOptions {
  /** Path or name of the nft binary; default "nft". */
  readonly binary?: string;
  /** Prepended to the command line, e.g. ["ip", "netns", "exec", "kpt-x"]. */
  readonly commandPrefix?: readonly string[];
  /** Kill nft after this long; default 120 s. */
  readonly timeoutMs?: number;
}

interface Result { readonly code: number | null; readonly stdout: string; readonly stderr: string }

export class SpawnNftRunner implements NftRunner {
  readonly #binary: string;
  readonly #prefix: readonly string[];
  readonly #timeoutMs: number;

  constructor(options: SpawnNftRunnerOptions = {}) {
    this.#binary = options.binary ?? 'nft';
    this.#prefix = options.commandPrefix ?? [];
    this.#timeoutMs = options.timeoutMs ?? 120_000;
  }

  async run(script: NftScript, options: { readonly check?: boolean } = {}): Promise<void> {
    const args = options.check === true ? ['-c', '-f', '-'] : ['-f', '-'];
    const r = await this.#exec(args, script);
    if (r.code !== 0) throw this.#failure(args, r);
  }

  /**
   * The transaction goes to a file that becomes nft's stdin (unlinked at once: only the open
   * descriptor keeps it), so nft reads it at its own pace; a pipe would hold 64 KiB until our
   * event loop ran again.
   */
  start(script: NftScript, options: { readonly background?: boolean } = {}): StartedNft {
    const path = join(tmpdir(), `kube-proxy-ts-nft-${String(process.pid)}-${String(++startCounter)}.nft`);
    let fd: number | undefined;
    let pid: number | undefined;
    const background = options.background === true && canRaisePriority();
    const foreground = (): void => {
      if (pid === undefined || !background) return;
      const p = pid;
      pid = undefined;
      // Raising a priority back needs CAP_SYS_NICE (kube-proxy has it); without, nft just
      // finishes at the lower one. ESRCH: it is done already.
      try { setPriority(p, 0); } catch { /* see above */ }
    };
    try {
      fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      // At explicit positions (pwrite): the descriptor's offset, which nft inherits, stays at 0.
      let at = 0;
      for (const piece of typeof script === 'string' ? [script] : linePieces(script)) at += writeSync(fd, piece, at, 'utf8');
      const args = ['-f', '-'];
      const done = this.#exec(args, fd, (child) => {
        pid = child;
        if (background) {
          try { setPriority(child, BACKGROUND_NICENESS); } catch { /* it runs at ours */ }
        }
      }).then((r) => {
        pid = undefined;
        if (r.code !== 0) throw this.#failure(args, r);
      });
      return { done, foreground };
    } catch {
      // No writable temporary directory (a read-only root file system, say): through a pipe
      // as run() does. nft then gets the transaction when our event loop next runs.
      try { unlinkSync(path); } catch { /* unlinked already, or never created */ }
      return { done: this.run(script), foreground };
    } finally {
      // The child has its own copy of the descriptor once spawned (or failed to spawn).
      if (fd !== undefined) closeSync(fd);
    }
  }

  async query(args: readonly string[]): Promise<string> {
    const r = await this.#exec(args, undefined);
    if (r.code !== 0) throw this.#failure(args, r);
    return r.stdout;
  }

  #failure(args: readonly string[], r: Result): NftCommandError {
    const stderr = r.stderr.trim();
    // `ip netns exec` reports a missing binary itself, with exit status 255.
    if (/exec of .* failed: No such file or directory/.test(stderr) || r.code === 127) {
      return new NftCommandError('NFT_NOT_FOUND', `nft binary not found (${this.#binary})`, stderr, r.code);
    }
    return new NftCommandError('NFT_FAILED', `nft ${args.join(' ')} failed (exit ${String(r.code)}): ${stderr.slice(0, 2000)}`, stderr, r.code);
  }

  /** Runs nft with `stdin` (a script written through a pipe, or an open file descriptor). */
  #exec(args: readonly string[], stdin: NftScript | number | undefined, onSpawn?: (pid: number) => void): Promise<Result> {
    const argv = [...this.#prefix, this.#binary, ...args];
    const [cmd, ...rest] = argv;
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? this.#binary, rest, { stdio: [typeof stdin === 'number' ? stdin : 'pipe', 'pipe', 'pipe'], timeout: this.#timeoutMs });
      if (child.pid !== undefined) onSpawn?.(child.pid);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') reject(new NftCommandError('NFT_NOT_FOUND', `nft binary not found (${cmd ?? this.#binary})`, '', null, { cause: e }));
        else reject(new NftCommandError('NFT_FAILED', `could not run ${cmd ?? this.#binary}: ${e.message}`, '', null, { cause: e }));
      });
      child.on('close', (code) => {
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      if (typeof stdin === 'number') return;
      const input = child.stdin;
      if (input === null) return;
      input.on('error', () => { /* reported through close/error */ });
      writeScript(input, stdin ?? '').catch(() => { /* nft went away: reported through close/error */ });
    });
  }
}

let startCounter = 0;

/** Largest piece of a script written to nft's stdin at once. */
const STDIN_PIECE = 64 * 1024;

/** Lines in pieces of about STDIN_PIECE, each ending with a newline. */
function* linePieces(lines: readonly string[]): Generator<string> {
  let batch: string[] = [];
  let size = 0;
  for (const l of lines) {
    batch.push(l);
    size += l.length + 1;
    if (size >= STDIN_PIECE) {
      batch.push('');
      yield batch.join('\n');
      batch = [];
      size = 0;
    }
  }
  if (batch.length > 0) {
    batch.push('');
    yield batch.join('\n');
  }
}

/**
 * Writes a script in pieces of at most STDIN_PIECE characters, each after the previous one
 * drained, then ends the stream. A 5 MB transaction written at once is a 5 MB buffer outside
 * the heap; glibc then raises its mmap threshold to that size and keeps later buffers in its
 * main heap, which it rarely gives back: RSS the process keeps.
 */
async function writeScript(stream: Writable, script: NftScript): Promise<void> {
  for (const text of typeof script === 'string' ? [script] : linePieces(script)) {
    let i = 0;
    while (i < text.length) {
      let end = Math.min(text.length, i + STDIN_PIECE);
      // Never split a surrogate pair (UTF-8 would get two halves of one character).
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      const ok = stream.write(text.slice(i, end));
      i = end;
      if (!ok) await once(stream, 'drain');
    }
  }
  stream.end();
}
