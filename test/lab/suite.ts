// Wiring a lab into a node:test file: one lab per file (before/after), a fresh Kubernetes
// namespace per test, objects removed between tests, and the nodes' logs and rules printed
// when a test fails. Plus the small assertions the e2e tests share.

import { after, afterEach, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Hit } from './agent-protocol.ts';
import { Lab, type LabOptions } from './lab.ts';
import { liveLabNamespaces } from './netns.ts';
import { checkBalance } from './stats.ts';
import { hostPort, type Family } from './topology.ts';

/** Skip reason when the lab cannot run here (it needs root for network namespaces). */
export const labSkip: string | false = typeof process.getuid === 'function' && process.getuid() === 0 ? false : 'needs root for network namespaces';

export interface LabSuite {
  readonly lab: Lab;
  /** The Kubernetes namespace of the running test. */
  readonly ns: string;
}

/** Call inside a describe(): sets up the lab and per-test namespaces. */
export function useLab(opts: LabOptions = {}): LabSuite {
  let lab: Lab | undefined;
  let ns: string | undefined;
  before(async () => { lab = await Lab.create(opts); }, { timeout: 60_000 });
  after(async () => {
    // No nftables transaction may have failed on any node during the file.
    const failures: string[] = [];
    try {
      for (const n of lab?.nodes ?? []) {
        if (!n.proxy.running) continue;
        for (const [k, v] of await n.proxy.metrics()) {
          if (k.startsWith('kubeproxy_sync_proxy_rules_nftables_sync_failures_total') && v > 0) failures.push(`${n.name}: ${k} ${v}`);
        }
      }
    } finally {
      await lab?.destroy();
    }
    assert.deepEqual(liveLabNamespaces(), [], 'every lab namespace is deleted');
    assert.deepEqual(failures, [], 'no nftables sync failed');
  });
  beforeEach(async () => { ns = await lab?.namespace(); });
  afterEach(async (t) => {
    if (!lab) return;
    // TestContext.passed exists at run time (Node 24) but not yet in @types/node.
    const passed = 'passed' in t ? t.passed : true;
    if (!passed) process.stderr.write(`\n===== ${t.name} failed: lab diagnostics =====\n${await lab.diagnostics()}\n`);
    await lab.reset();
  });
  return {
    get lab(): Lab {
      if (!lab) throw new Error('the lab is not up');
      return lab;
    },
    get ns(): string {
      if (ns === undefined) throw new Error('no namespace: not inside a test');
      return ns;
    },
  };
}

/** Count per pod name; failures count under "!<error>". */
export function tally(hits: readonly Hit[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of hits) {
    const k = h.ok ? h.pod : `!${h.error}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The pod that answered, or the error: "pod-1-a", "ETIMEDOUT", "ECONNREFUSED". */
export function outcome(h: Hit): string {
  return h.ok ? h.pod : h.error;
}

/** Asserts the hit succeeded and returns it narrowed. */
export function ok(h: Hit, what = 'request'): Extract<Hit, { ok: true }> {
  if (!h.ok) assert.fail(`${what} failed: ${h.error} after ${Math.round(h.ms)} ms`);
  return h;
}

/** Asserts the hit failed, with `error` matching (e.g. ECONNREFUSED for a reject). */
export function fails(h: Hit, error: RegExp, what = 'request'): void {
  if (h.ok) assert.fail(`${what} unexpectedly reached ${h.pod} (from ${h.clientIP})`);
  assert.match(h.error, error, what);
}

/** Every hit succeeded and came from one of `pods` (each at least once when `all`). */
export function onlyFrom(hits: readonly Hit[], pods: readonly string[], all = true): Record<string, number> {
  const counts = tally(hits);
  for (const k of Object.keys(counts)) assert.ok(pods.includes(k), `unexpected ${k} in ${JSON.stringify(counts)} (want ${pods.join(', ')})`);
  if (all) for (const p of pods) assert.ok((counts[p] ?? 0) > 0, `${p} got no traffic: ${JSON.stringify(counts)}`);
  return counts;
}

/** Statistical balance check (stats.ts): fails a correct balancer one run in a million. */
export function assertBalanced(hits: readonly Hit[], pods: readonly string[]): void {
  const v = checkBalance(tally(hits), pods);
  assert.ok(v.ok, v.message);
}

/** Retries `fn` until it stops throwing (for "eventually" checks), then returns its value. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * GET a node's healthCheckNodePort from the client. The server starts listening just after
 * the sync that created it, so a refused connection is retried briefly.
 */
export async function healthCheck(lab: Lab, node: number, port: number, family: Family = 'IPv4'): Promise<{ status: number; localEndpoints: number; weight: string | undefined }> {
  const r = await eventually(() => lab.client.get(`http://${hostPort(lab.node(node).ip(family), port)}/`), 3000, 50);
  const body = JSON.parse(r.body) as { localEndpoints: number };
  return { status: r.status, localEndpoints: body.localEndpoints, weight: r.headers['x-load-balancing-endpoint-weight'] };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
