// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function (top N) and the share
// of idle, GC and "program" (native code outside JS: syscalls and libuv) time.
//   npx node bench/tools/cpuprofile-summary.ts FILE.cpuprofile [N]

import { readFileSync } from 'node:fs';

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
interface Profile { readonly nodes: readonly ProfileNode[]; readonly samples: readonly number[]; readonly timeDeltas: readonly number[] }

function isProfile(v: unknown): v is Profile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return Array.isArray(o['nodes']) && Array.isArray(o['samples']) && Array.isArray(o['timeDeltas']);
}

process.stdout.on('error', () => { process.exit(0); });
const file = process.argv[2];
if (file === undefined) throw new Error('usage: cpuprofile-summary.ts FILE.cpuprofile [N]');
const top = Number(process.argv[3] ?? 30);
const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
if (!isProfile(raw)) throw new Error(`${file} is not a V8 CPU profile`);
const byId = new Map(raw.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < raw.samples.length; i++) {
  const node = byId.get(raw.samples[i] ?? -1);
  const dt = raw.timeDeltas[i] ?? 0;
  if (node === undefined) continue;
  total += dt;
  const f = node.callFrame;
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${f.lineNumber + 1}`;
  const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
// Inclusive ("total") time: each sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const n of raw.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode): string => {
  const f = n.callFrame;
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
};
const inclusive = new Map<string, number>();
for (let i = 0; i < raw.samples.length; i++) {
  const dt = raw.timeDeltas[i] ?? 0;
  const seen = new Set<string>();
  for (let id: number | undefined = raw.samples[i]; id !== undefined; id = parent.get(id)) {
    const node = byId.get(id);
    if (node === undefined) break;
    const k = label(node);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
}
const pct = (x: number): string => `${((100 * x) / total).toFixed(1).padStart(5)} %`;
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]);
const busy = total - (self.get('(idle)') ?? 0);
process.stdout.write(`total ${(total / 1e6).toFixed(2)} s sampled, busy ${pct(busy)}\n`);
for (const [k, v] of rows.slice(0, top)) process.stdout.write(`${pct(v)}  ${k}\n`);
process.stdout.write('\ninclusive (self + callees):\n');
for (const [k, v] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${k}\n`);
