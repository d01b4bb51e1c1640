// The one way we talk to nft: `nft -f -` with the transaction on stdin (no shell), plus
// read-only queries. Tests run the real binary inside a network namespace via commandPrefix.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
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

  #exec(args: readonly string[], stdin: NftScript | undefined): Promise<Result> {
    const argv = [...this.#prefix, this.#binary, ...args];
    const [cmd, ...rest] = argv;
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? this.#binary, rest, { stdio: ['pipe', 'pipe', 'pipe'], timeout: this.#timeoutMs });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') reject(new NftCommandError('NFT_NOT_FOUND', `nft binary not found (${cmd ?? this.#binary})`, '', null, { cause: e }));
        else reject(new NftCommandError('NFT_FAILED', `could not run ${cmd ?? this.#binary}: ${e.message}`, '', null, { cause: e }));
      });
      child.on('close', (code) => {
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.on('error', () => { /* reported through close/error */ });
      writeScript(child.stdin, stdin ?? '').catch(() => { /* nft went away: reported through close/error */ });
    });
  }
}

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
