// Load generation: wrk (Debian's /usr/bin/wrk) in the client namespace, reporting through a Lua
// done() hook (wrk-report.lua) so the figures are exact numbers, not wrk's rounded text; and
// curl for bulk downloads.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Netns } from '../../test/helpers/netns.ts';

const REPORT = join(import.meta.dirname, 'wrk-report.lua');

export interface WrkResult {
  /** CPU seconds wrk itself used (user + system, from /usr/bin/time). */
  readonly cpuSeconds: number;
  readonly requests: number;
  readonly durationUs: number;
  readonly bytes: number;
  readonly errors: { readonly connect: number; readonly read: number; readonly write: number; readonly status: number; readonly timeout: number };
  readonly latencyUs: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly p999: number; readonly max: number };
  /** [percentile, µs] pairs (with WrkOptions.grid): for pooling runs (latency.ts). */
  readonly grid?: readonly (readonly [number, number])[];
}

export interface WrkOptions {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  /** Send "Connection: close": every request on a new TCP connection. */
  readonly close: boolean;
  readonly cpus?: string | undefined;
  /** Report the latency at a grid of percentiles too. */
  readonly grid?: boolean;
}

const running = new Set<ChildProcess>();

/** Kill (SIGKILL) every command started by run() that is still going: on interrupt. */
export function killRunning(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Run a command in `ns` without blocking the event loop; resolves with stdout (throws on failure). */
export async function run(ns: Netns, cmd: string, args: readonly string[], cpus?: string): Promise<string> {
  return (await runBoth(ns, cmd, args, cpus)).stdout;
}

/** run(), resolving with stdout and stderr. */
export function runBoth(ns: Netns, cmd: string, args: readonly string[], cpus?: string): Promise<{ stdout: string; stderr: string }> {
  const argv = cpus === undefined ? [cmd, ...args] : ['taskset', '-c', cpus, cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout: out, stderr: err });
      else reject(new Error(`${argv.join(' ')} in ${ns.name} exited ${String(code)}: ${err}${out}`));
    });
  });
}

function isWrkResult(v: unknown): v is Omit<WrkResult, 'cpuSeconds'> {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['requests'] === 'number' && typeof o['durationUs'] === 'number'
    && typeof o['errors'] === 'object' && typeof o['latencyUs'] === 'object';
}

export function parseWrkOutput(text: string): WrkResult {
  const lines = text.split('\n');
  const line = lines.find((l) => l.startsWith('WRK_JSON '));
  if (line === undefined) throw new Error(`no report in wrk output: ${text}`);
  const v: unknown = JSON.parse(line.slice('WRK_JSON '.length));
  if (!isWrkResult(v)) throw new Error(`malformed wrk report: ${line}`);
  const cpu = /^WRK_CPU (\S+) (\S+)$/m.exec(text);
  return { ...v, cpuSeconds: cpu === null ? Number.NaN : Number(cpu[1]) + Number(cpu[2]) };
}

export async function wrk(ns: Netns, o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '5s', '-s', REPORT];
  if (o.close) args.push('-H', 'Connection: close');
  args.push(o.url);
  // GNU time reports wrk's own CPU time on stderr.
  const time = ['/usr/bin/time', '-f', 'WRK_CPU %U %S', 'wrk', ...args];
  const [cmd = 'env', ...rest] = o.grid === true ? ['env', 'KPT_WRK_GRID=1', ...time] : time;
  const r = await runBoth(ns, cmd, rest, o.cpus);
  return parseWrkOutput(`${r.stdout}\n${r.stderr}`);
}

/** Download `url` once with curl: bytes per second, bytes, and curl's own CPU seconds. */
export async function curlSpeed(ns: Netns, url: string, cpus?: string): Promise<{ bytesPerSecond: number; bytes: number; cpuSeconds: number }> {
  const r = await runBoth(ns, '/usr/bin/time', ['-f', 'CURL_CPU %U %S',
    'curl', '-sS', '--fail', '-o', '/dev/null', '-w', 'CURL_SPEED %{speed_download} %{size_download}', '--max-time', '60', url], cpus);
  const out = `${r.stdout}\n${r.stderr}`;
  const speed = /CURL_SPEED (\S+) (\S+)/.exec(out);
  const cpu = /CURL_CPU (\S+) (\S+)/.exec(out);
  const bytesPerSecond = Number(speed?.[1]);
  const bytes = Number(speed?.[2]);
  if (!Number.isFinite(bytesPerSecond) || !Number.isFinite(bytes)) throw new Error(`unexpected curl output ${JSON.stringify(out)}`);
  return { bytesPerSecond, bytes, cpuSeconds: cpu === null ? Number.NaN : Number(cpu[1]) + Number(cpu[2]) };
}
