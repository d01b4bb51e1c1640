// Throwaway network namespaces for tests that touch real kernel state (nft, conntrack,
// sockets). Every namespace is named kpt-<prefix>-<random>, has loopback up, and is deleted
// when the callback settles — and, as a last resort, on process exit or SIGINT/SIGTERM.
// Nothing here ever touches the root namespace.

import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const live = new Set<string>();
let hooked = false;

function deleteNow(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  live.delete(name);
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanup = (): void => { for (const name of [...live]) deleteNow(name); };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { cleanup(); process.kill(process.pid, sig); });
  }
}

export interface Netns {
  readonly name: string;
  /** Prefix for spawning a command inside the namespace. */
  readonly prefix: readonly string[];
  /** Run a command inside the namespace; throws on non-zero exit. Returns stdout. */
  exec(cmd: string, args?: readonly string[], input?: string): string;
  /** Like exec, but returns the exit status and output instead of throwing. */
  tryExec(cmd: string, args?: readonly string[], input?: string): { status: number; stdout: string; stderr: string };
  /** Start a long-running process inside the namespace (killed when the namespace goes). */
  spawn(cmd: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
}

export function netnsName(prefix: string): string {
  if (!/^[a-z0-9-]{1,20}$/.test(prefix)) throw new Error(`bad netns prefix ${JSON.stringify(prefix)}`);
  return `kpt-${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Create a namespace (loopback up). Prefer withNetns, which always deletes it. */
export function createNetns(prefix: string): Netns & { destroy(): void } {
  hookExit();
  const name = netnsName(prefix);
  execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
  live.add(name);
  const children: ChildProcess[] = [];
  const nsPrefix = ['ip', 'netns', 'exec', name];
  const tryExec = (cmd: string, args: readonly string[] = [], input?: string): { status: number; stdout: string; stderr: string } => {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', name, cmd, ...args], { input: input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 512 * 1024 * 1024 });
      return { status: 0, stdout, stderr: '' };
    } catch (err) {
      const e = err as { status?: number | null; stdout?: string; stderr?: string };
      return { status: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const ns = {
    name,
    prefix: nsPrefix,
    tryExec,
    exec(cmd: string, args: readonly string[] = [], input?: string): string {
      const r = tryExec(cmd, args, input);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${name} failed (${String(r.status)}): ${r.stderr}`);
      return r.stdout;
    },
    spawn(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
      const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: 'pipe', ...options });
      children.push(child);
      return child;
    },
    destroy(): void {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      deleteNow(name);
    },
  };
  ns.exec('ip', ['link', 'set', 'lo', 'up']);
  return ns;
}

/** Run fn with a fresh namespace; the namespace is deleted whatever happens. */
export async function withNetns<T>(prefix: string, fn: (ns: Netns) => Promise<T> | T): Promise<T> {
  const ns = createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    ns.destroy();
  }
}

/** Names of namespaces this process created and has not deleted yet. */
export function liveNamespaces(): string[] {
  return [...live];
}

/** Whether tests that need root and `ip netns` can run here. */
export function canUseNetns(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
