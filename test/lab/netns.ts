// Network namespaces and processes owned by one lab. Every namespace is named
// kpt-lab-<labId>-<role>, every process is started by us and tracked by pid. destroy() kills
// the processes (by pid) and deletes the namespaces; as a last resort the same happens on
// process exit and on SIGINT/SIGTERM, so an interrupted run leaves nothing behind. Nothing
// here touches the root network namespace: every `ip` call names its namespace (`ip -n`) and
// every command runs through `ip netns exec <ours>`.

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExecResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything still alive, across labs of this process: what the exit hooks clean up. */
const liveNamespaces = new Set<string>();
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooked = false;
/** When false, SIGINT/SIGTERM are left to the caller (the demo handles them itself). */
let handleSignals = true;

function killNow(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.delete(child);
}

function deleteNow(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  liveNamespaces.delete(name);
}

/** Synchronous last-resort cleanup of everything any lab in this process still owns. */
export function cleanupEverythingNow(): void {
  for (const c of [...liveChildren]) killNow(c);
  for (const n of [...liveNamespaces]) deleteNow(n);
  if (process.env['KPT_LAB_KEEP'] === undefined) for (const d of [...liveDirs]) removeDir(d);
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** A temp dir of a lab (kpt-lab-<labId>-*): removed with the lab, or by the exit hooks. */
export function makeLabDir(labId: string): string {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), `kpt-lab-${labId}-`));
  liveDirs.add(dir);
  return dir;
}

/** Removes a lab's temp dir (kept when KPT_LAB_KEEP is set, for debugging). */
export function removeLabDir(dir: string): void {
  if (process.env['KPT_LAB_KEEP'] === undefined) removeDir(dir);
  else liveDirs.delete(dir);
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupEverythingNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (!handleSignals) return;
      cleanupEverythingNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Let the caller own SIGINT/SIGTERM (it must call destroy); the exit hook stays. */
export function leaveSignalsToCaller(): void {
  handleSignals = false;
}

/** A lab id: the creating process's pid (for reapStaleLabs) and a random part. */
export function newLabId(): string {
  return `${process.pid}x${randomBytes(2).toString('hex')}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what a lab process that died without cleaning up (SIGKILL, a crash) left behind:
 * namespaces named kpt-lab-<pid>x…-… whose <pid> no longer runs, and the lab processes still
 * inside them (agents and kube-proxy-ts that lab started), and its temp dir. Returns the
 * namespaces removed.
 */
export function reapStaleLabs(): string[] {
  let list: string;
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^kpt-lab-(\d+)x[0-9a-f]+-[a-z0-9-]+$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    try {
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter((p) => p !== '').map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    } catch {
      // no pids
    }
    deleteNow(name);
    reaped.push(name);
  }
  for (const entry of readdirSync(tmpdir())) {
    const m = /^kpt-lab-(\d+)x[0-9a-f]+-/.exec(entry);
    if (m && !alive(Number(m[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return reaped;
}

/** A namespace of the lab. */
export class LabNetns {
  readonly name: string;
  readonly role: string;
  readonly #children = new Set<ChildProcess>();
  #deleted = false;

  private constructor(name: string, role: string) {
    this.name = name;
    this.role = role;
  }

  static create(labId: string, role: string): LabNetns {
    if (!/^[a-z0-9-]{1,24}$/.test(role)) throw new Error(`bad namespace role ${JSON.stringify(role)}`);
    hookExit();
    const name = `kpt-lab-${labId}-${role}`;
    execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
    liveNamespaces.add(name);
    const ns = new LabNetns(name, role);
    ns.ipSync(['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** `ip -n <ns> …`, synchronously (set-up only: it blocks the event loop). */
  ipSync(args: readonly string[]): void {
    execFileSync('ip', ['-n', this.name, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Many `ip` commands in one process (`ip -n <ns> -batch -`), synchronously. */
  ipBatchSync(lines: readonly string[]): void {
    if (lines.length === 0) return;
    try {
      execFileSync('ip', ['-n', this.name, '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      throw new Error(`ip -batch in ${this.name} failed: ${e.stderr?.toString() ?? String(err)}\n${lines.join('\n')}`, { cause: err });
    }
  }

  /** Writes sysctls of this namespace (per-netns ones only: net.ipv4.*, net.ipv6.*, net.bridge.*). */
  sysctlSync(settings: Readonly<Record<string, string>>): void {
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    execFileSync('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Runs a command inside the namespace without blocking the event loop. */
  exec(cmd: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = execFile('ip', ['netns', 'exec', this.name, cmd, ...args], {
        encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL',
      }, (err, stdout, stderr) => {
        liveChildren.delete(child);
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ status, stdout, stderr });
      });
      liveChildren.add(child);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }

  /** Like exec, but throws on a non-zero exit. */
  async run(cmd: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${this.name} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /**
   * Starts a long-running process inside the namespace. `ip netns exec` execs the command, so
   * the child's pid is the command's own pid: signals reach it directly.
   */
  spawn(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...options });
    this.#children.add(child);
    liveChildren.add(child);
    child.once('exit', () => {
      this.#children.delete(child);
      liveChildren.delete(child);
    });
    return child;
  }

  /** Kills our processes in this namespace (by pid) and deletes it. */
  destroy(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    for (const c of [...this.#children]) killNow(c);
    deleteNow(this.name);
  }
}

/** Namespaces this process created and has not deleted (for the tests' final checks). */
export function liveLabNamespaces(): string[] {
  return [...liveNamespaces];
}
