// The lab's own tests: it comes up and answers, and it leaves nothing behind — after
// destroy(), after SIGINT, and (through the next lab's reaper) after SIGKILL. "Nothing" means
// no namespace, no process it started, and an unchanged root-namespace nftables ruleset.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from './lab.ts';
import { reapStaleLabs } from './netns.ts';
import { labSkip, ok, outcome } from './suite.ts';

const HOLD = join(import.meta.dirname, 'fixtures/hold-lab.ts');

interface Held { namespaces: string[]; pids: number[]; dir: string }

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

function rootTables(): string {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(held: Held): Promise<void> {
  for (let i = 0; i < 50 && held.pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  const left = namespaces().filter((n) => held.namespaces.includes(n));
  assert.deepEqual(left, [], 'namespaces deleted');
  assert.deepEqual(held.pids.filter(alive), [], 'processes ended');
  assert.equal(existsSync(held.dir), false, 'temp dir removed');
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Runs fn with hold-lab.ts started in a child process (its JSON line parsed). Whatever fn
 * does, the child is gone afterwards: SIGINT (its own cleanup), then SIGKILL and the reaper.
 */
async function withHeldLab(withProxies: boolean, fn: (held: Held, child: ChildProcess) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, [HOLD, ...(withProxies ? ['--proxies'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  try {
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const held = await new Promise<Held>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`hold-lab not up after 60 s: ${err}`)); }, 60_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as Held);
      });
      void exited.then(() => { reject(new Error(`hold-lab exited: ${err}`)); });
    });
    await fn(held, child);
  } finally {
    if (running(child)) {
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (running(child)) child.kill('SIGKILL');
      await exited;
      reapStaleLabs();
    }
  }
}

describe('the lab itself', { skip: labSkip, concurrency: false }, () => {
  it('comes up, answers from inside its namespaces, and destroy() leaves nothing behind', async () => {
    const tables = rootTables();
    const lab = await Lab.create({ nodes: 2, podsPerNode: 1, startProxies: false });
    const held: Held = { namespaces: lab.network.all.map((n) => n.name), pids: [lab.client, ...lab.nodes.map((n) => n.agent), ...lab.pods.map((p) => p.agent)].flatMap((a) => a.process.pid ?? []), dir: lab.dir };
    try {
      assert.ok(held.namespaces.every((n) => n.startsWith(`kpt-lab-${lab.id}-`)));
      // Pod to pod across nodes (routed by the nodes), TCP and UDP, source address preserved.
      const [a, b] = [lab.pod('pod-1-a'), lab.pod('pod-2-a')];
      const h = ok(await a.agent.tcp(b.ip(), 8080));
      assert.deepEqual([h.pod, h.clientIP, h.served], ['pod-2-a', a.ip(), 'tcp/8080']);
      assert.equal(ok(await a.agent.udp(b.ip('IPv6'), 5353)).clientIP, a.ip('IPv6'));
      // The client reaches the nodes (a closed port answers with a reset)...
      assert.equal(outcome(await lab.client.tcp(lab.node(2).ip(), 1, { timeoutMs: 500 })), 'ECONNREFUSED');
      // ...and the nodes reach the API server through their relay (401: no token sent).
      const code = await lab.node(1).ns.run('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', 'https://127.0.0.1:6443/api']);
      assert.equal(code, '401');
    } finally {
      await lab.destroy();
    }
    await gone(held);
    assert.equal(rootTables(), tables, 'the root namespace\'s nftables ruleset is untouched');
  });

  it('SIGINT to the process holding a lab removes its namespaces and processes (kube-proxy-ts too)', async () => {
    await withHeldLab(true, async (held, child) => {
      assert.equal(held.pids.length, 4, 'client, node and pod agents, and the node\'s kube-proxy-ts');
      assert.ok(held.namespaces.every((n) => namespaces().includes(n)));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      await gone(held);
    });
  });

  it('a lab whose process was SIGKILLed is reaped by the next lab', async () => {
    await withHeldLab(false, async (held, child) => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      assert.ok(held.namespaces.every((n) => namespaces().includes(n)), 'SIGKILL cannot clean up');
      const reaped = reapStaleLabs();
      assert.deepEqual(reaped.sort(), [...held.namespaces].sort());
      await gone(held);
    });
  });
});
