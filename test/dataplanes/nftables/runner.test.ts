// The runner writes a transaction (its text or its lines) to nft's stdin in pieces (no
// multi-megabyte string or buffer): what arrives must be the script, byte for byte.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scriptText, SpawnNftRunner } from '../../../src/dataplanes/nftables/runner.ts';

describe('nft runner stdin', () => {
  it('a script of several pieces arrives whole, characters outside the BMP not split', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-runner-'));
    try {
      const file = join(dir, 'stdin');
      // The command prefix stands in for nft: a shell that copies its stdin to a file.
      const runner = new SpawnNftRunner({ commandPrefix: ['sh', '-c', `cat > '${file}'`], binary: 'nft' });
      // 64 KiB pieces: put a surrogate pair across every piece boundary, and more text after.
      const piece = 64 * 1024;
      let script = '';
      for (let i = 0; i < 5; i++) script += `${'a'.repeat(piece - 1 - (i === 0 ? 0 : 1))}\u{1F600}`;
      script += 'add table ip kube-proxy\n'.repeat(20_000);
      await runner.run(script);
      const got = readFileSync(file);
      assert.equal(got.length, Buffer.byteLength(script));
      assert.ok(got.equals(Buffer.from(script, 'utf8')), 'same bytes');
      await runner.run('');
      assert.equal(readFileSync(file).length, 0, 'an empty script closes stdin at once');
      // As lines: short ones batched, one longer than a piece cut; each ends with a newline.
      const lines = ['add table ip kube-proxy', ...Array.from({ length: 30_000 }, (_, i) => `add element ip kube-proxy cluster-ips { 10.96.${String(i >> 8)}.${String(i & 255)} }`), `# ${'x'.repeat(3 * piece)}\u{1F600}`, 'last'];
      await runner.run(lines);
      const text = scriptText(lines);
      assert.ok(text.endsWith('last\n'));
      assert.ok(readFileSync(file).equals(Buffer.from(text, 'utf8')), 'lines arrive as their text');
      await runner.run([]);
      assert.equal(readFileSync(file).length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start: nft reads the transaction from a file that is gone already; in the background at the lowest priority until foreground()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-runner-'));
    try {
      const file = join(dir, 'stdin');
      const nice = join(dir, 'nice');
      // Stands in for nft: copies its stdin, then (a little later) records its own niceness.
      const runner = new SpawnNftRunner({ commandPrefix: ['sh', '-c', `cat > '${file}'; sleep 0.3; cut -d' ' -f19 /proc/$$/stat > '${nice}'`], binary: 'nft' });
      const lines = ['add table ip kube-proxy', ...Array.from({ length: 20_000 }, (_, i) => `add element ip kube-proxy cluster-ips { 10.96.${String(i >> 8)}.${String(i & 255)} }`)];
      const before = new Set(readdirSync(tmpdir()));
      const started = runner.start(lines, { background: true });
      // The file is unlinked as soon as nft has it.
      assert.deepEqual(readdirSync(tmpdir()).filter((f) => !before.has(f) && f.startsWith('kube-proxy-ts-nft-')), []);
      await started.done;
      assert.ok(readFileSync(file).equals(Buffer.from(scriptText(lines), 'utf8')), 'the whole transaction, from offset 0');
      const privileged = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      const canRaise = privileged !== undefined && ((BigInt(`0x${privileged}`) >> 23n) & 1n) === 1n;
      assert.equal(readFileSync(nice, 'utf8').trim(), canRaise ? '19' : '0', 'background: lowest priority (when it can be raised again)');
      const again = runner.start('add table ip kube-proxy\n', { background: true });
      again.foreground();
      await again.done;
      assert.equal(readFileSync(nice, 'utf8').trim(), '0', 'foreground(): normal priority again');
      await runner.start('x\n').done;
      assert.equal(readFileSync(nice, 'utf8').trim(), '0', 'not in the background: normal priority');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start without a writable temporary directory goes through a pipe, as run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpt-runner-'));
    const saved = process.env['TMPDIR'];
    try {
      const file = join(dir, 'stdin');
      const runner = new SpawnNftRunner({ commandPrefix: ['sh', '-c', `cat > '${file}'`], binary: 'nft' });
      process.env['TMPDIR'] = join(dir, 'no-such-dir');
      await runner.start('add table ip kube-proxy\n', { background: true }).done;
      assert.equal(readFileSync(file, 'utf8'), 'add table ip kube-proxy\n');
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start reports a failing transaction as run does', async () => {
    const runner = new SpawnNftRunner({ commandPrefix: ['sh', '-c', 'cat > /dev/null; echo "Error: no such table" >&2; exit 1'], binary: 'nft' });
    await assert.rejects(runner.start('add element ip nope s { 1.2.3.4 }\n').done, /nft -f - failed \(exit 1\): Error: no such table/);
  });
});

