// The runner writes a transaction (its text or its lines) to nft's stdin in pieces (no
// multi-megabyte string or buffer): what arrives must be the script, byte for byte.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
});
