// `npm run demo -- --once`: the demo builds its lab, applies examples/ with kubectl, spreads
// 100 requests over the two pods of examples/my-service.yaml, prints the table, and cleans up.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBalance } from '../lab/stats.ts';
import { labSkip } from '../lab/suite.ts';

const ROOT = join(import.meta.dirname, '../..');

function labNamespaces(out: string): string[] {
  return [...new Set([...out.matchAll(/kpt-lab-[0-9a-fx]+-[a-z0-9-]+/g)].map((m) => m[0]))];
}

describe('npm run demo', { skip: labSkip }, () => {
  it('package.json runs scripts/demo.ts', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['demo'], 'node scripts/demo.ts');
  });

  it('--once: spreads 100 requests to the ClusterIP over both pods, then removes everything', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/demo.ts'), '--once'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /service\/my-service (created|configured|unchanged)/, 'examples/ applied with kubectl');
    const rows = [...out.matchAll(/^ {2}(my-app-[12]) +10\.244\.\d\.\d+ +node-\d +(\d+)/gm)].map((m) => [m[1], Number(m[2])] as const);
    assert.equal(rows.length, 2, out);
    assert.equal(rows.reduce((a, [, n]) => a + n, 0), 100);
    const v = checkBalance(Object.fromEntries(rows.map(([pod, n]) => [pod ?? '', n])), ['my-app-1', 'my-app-2']);
    assert.ok(v.ok, v.message);
    assert.match(out, /nothing left behind/);
    const live = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const ns of labNamespaces(out)) assert.ok(!live.includes(ns), `${ns} deleted`);
  });
});
