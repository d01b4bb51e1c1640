// Shared helpers for control plane tests: temp dirs, a started control plane, an HTTPS client
// that trusts its CA, a watch stream reader and a kubectl runner.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/index.ts';
import { silentLogger } from '../../src/util/logger.ts';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `kpts-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface TestPlane {
  readonly cp: ControlPlane;
  readonly dir: string;
  readonly client: Client;
  stop(): Promise<void>;
}

export async function startTestPlane(extra: Partial<ControlPlaneOptions> = {}): Promise<TestPlane> {
  const dir = await tempDir('cp');
  const cp = await startControlPlane({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: silentLogger(), ...extra });
  const client = new Client(cp);
  return {
    cp, dir, client,
    async stop() {
      client.close();
      await cp.close();
      await removeDir(dir);
    },
  };
}

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

export class Client {
  private readonly cp: ControlPlane;
  private readonly agent: Agent;

  constructor(cp: ControlPlane, maxSockets = 32) {
    this.cp = cp;
    this.agent = new Agent({ keepAlive: true, maxSockets, ca: cp.caPem });
  }

  close(): void {
    this.agent.destroy();
  }

  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise<Response>((resolve, reject) => {
      const r = request(`${this.cp.url}${path}`, {
        method,
        agent: this.agent,
        headers: {
          Authorization: `Bearer ${this.cp.token}`,
          Accept: 'application/json',
          ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
        res.on('error', reject);
      });
      r.on('error', reject);
      if (payload !== undefined) r.write(payload);
      r.end();
    });
  }

  get(path: string, headers?: Record<string, string>): Promise<Response> {
    return this.req('GET', path, undefined, headers);
  }
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response> {
    return this.req('POST', path, body, headers);
  }
  put(path: string, body: unknown): Promise<Response> {
    return this.req('PUT', path, body);
  }
  patch(path: string, body: unknown, type: string): Promise<Response> {
    return this.req('PATCH', path, body, { 'Content-Type': type });
  }
  delete(path: string, body?: unknown): Promise<Response> {
    return this.req('DELETE', path, body);
  }

  /** Opens a watch; events are collected as they arrive. */
  watch(path: string, headers: Record<string, string> = {}): WatchStream {
    return new WatchStream(this.cp, this.agent, path, headers);
  }
}

export interface WatchEvent {
  readonly type: string;
  readonly object: Record<string, unknown>;
}

export class WatchStream {
  readonly events: WatchEvent[] = [];
  ended = false;
  status = 0;
  private buf = '';
  private waiters: (() => void)[] = [];
  private readonly destroyFn: () => void;
  readonly ready: Promise<void>;

  constructor(cp: ControlPlane, agent: Agent, path: string, headers: Record<string, string>) {
    let readyResolve: () => void = () => undefined;
    this.ready = new Promise((r) => { readyResolve = r; });
    const r = request(`${cp.url}${path}`, { method: 'GET', agent, headers: { Authorization: `Bearer ${cp.token}`, Accept: 'application/json', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      readyResolve();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.buf += chunk;
        let nl;
        while ((nl = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, nl);
          this.buf = this.buf.slice(nl + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchEvent);
        }
        this.wake();
      });
      const end = (): void => { this.ended = true; this.wake(); };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
    });
    r.on('error', () => { this.ended = true; readyResolve(); this.wake(); });
    r.end();
    this.destroyFn = () => { r.destroy(); };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked on every event), rejects after timeoutMs. */
  async until(pred: (events: readonly WatchEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.events)) {
      if (Date.now() > deadline) throw new Error(`watch condition not met; got ${JSON.stringify(this.events.map((e) => e.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async untilEnded(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('watch did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  close(): void {
    this.destroyFn();
  }
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real kubectl against the control plane (HOME in `home` so caches stay per test). */
export function kubectl(cp: ControlPlane, home: string, args: readonly string[], env: Record<string, string> = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, ...env },
      timeout: 30_000,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Text of a JSON value for assertions (strings as they are). */
export function str(v: unknown): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function svc(name: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec: { ports: [{ port: 80 }], ...spec } };
}

export function meta(o: Record<string, unknown>): Record<string, unknown> {
  const m = o['metadata'];
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : {};
}

export function spec(o: Record<string, unknown>): Record<string, unknown> {
  const s = o['spec'];
  return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
}
