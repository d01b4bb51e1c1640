// The resolve hook of src/cli/lean-modules.ts: client-node's KubeConfig still loads configs and
// authenticates, without the generated API's modules; and that saves resident memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

// Runs in a fresh process: (optionally) the lean hook, then a recording hook, then a kubeconfig
// load and an authenticated request's options through our loader. Prints one JSON line.
const PROBE = `
import { registerHooks } from 'node:module';
const lean = process.argv[1] === 'lean';
if (lean) (await import(${JSON.stringify(join(ROOT, 'src/cli/lean-modules.ts'))})).registerLeanModuleHooks();
const gen = [];
const undici = [];
registerHooks({ resolve(s, c, next) {
  const r = next(s, c);
  if (r.url.includes('/client-node/dist/gen/')) gen.push(r.url);
  if (r.url.includes('/node_modules/undici/')) undici.push(r.url);
  return r;
} });
const { loadKubeConfig } = await import(${JSON.stringify(join(ROOT, 'src/sources/api/kubeconfig.ts'))});
const { kc } = loadKubeConfig({ kubeconfigPath: process.argv[2] });
const opts = {};
await kc.applyToHTTPSOptions(opts);
const undiciAtStart = undici.length;
// client-node's fetch transport still gets a real undici Agent (loaded now, on first use).
const dispatcher = kc.createDispatcher({ ...kc.getCurrentCluster(), skipTLSVerify: true }, { rejectUnauthorized: false });
const agent = { name: dispatcher?.constructor?.name, dispatch: typeof dispatcher?.dispatch, undiciLoaded: undici.length > 0 || Object.keys((await import('node:module')).createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/undici/')) };
let makeApiClient = 'ok';
try { kc.makeApiClient(class {}); } catch (e) { makeApiClient = String(e.message); }
globalThis.gc();
console.log(JSON.stringify({ gen: gen.length, undiciAtStart, agent, auth: opts.headers?.Authorization, rssMiB: process.memoryUsage().rss / 2 ** 20, makeApiClient }));
`;

interface Probe {
  gen: number;
  undiciAtStart: number;
  agent: { name?: string; dispatch: string; undiciLoaded: boolean };
  auth: string;
  rssMiB: number;
  makeApiClient: string;
}

function probe(mode: 'lean' | 'full', kubeconfig: string): Probe {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE, mode, kubeconfig], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Probe;
}

describe('lean client-node (no generated API)', () => {
  it('loads a kubeconfig and authenticates without the generated API, in less memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-lean-'));
    try {
      const kubeconfig = join(dir, 'config');
      writeFileSync(kubeconfig, [
        'apiVersion: v1', 'kind: Config', 'current-context: c',
        'clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: secret-token}}]',
        'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
      ].join('\n'));
      const full = probe('full', kubeconfig);
      const lean = probe('lean', kubeconfig);
      assert.equal(full.auth, 'Bearer secret-token');
      assert.equal(lean.auth, 'Bearer secret-token');
      assert.ok(full.gen > 100, `without the hook the generated API loads (${String(full.gen)} modules)`);
      // rxjsStub.js (middleware.js's helper) is all that is left of dist/gen.
      assert.ok(lean.gen <= 1, `with the hook: ${String(lean.gen)} generated modules`);
      assert.match(lean.makeApiClient, /does not load client-node's generated API/);
      // undici (client-node's fetch transport, unused here) loads only when first used.
      assert.ok(full.undiciAtStart > 0, 'without the hook undici loads at start');
      assert.equal(lean.undiciAtStart, 0, 'with the hook undici is not loaded at start');
      for (const p of [full, lean]) {
        assert.equal(p.agent.name, 'Agent');
        assert.equal(p.agent.dispatch, 'function');
        assert.equal(p.agent.undiciLoaded, true);
      }
      assert.ok(lean.rssMiB < full.rssMiB - 25, `RSS ${full.rssMiB.toFixed(0)} → ${lean.rssMiB.toFixed(0)} MiB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
