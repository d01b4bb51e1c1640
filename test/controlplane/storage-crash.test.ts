// kill -9 at arbitrary moments: the store must reopen without corruption, contain every
// acknowledged write, and equal a prefix of the issued writes (nothing reordered or invented).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Store } from '../../src/controlplane/storage/store.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { removeDir, tempDir } from './helpers.ts';

interface Op {
  readonly rv: number;
  readonly op: 'put' | 'del';
  readonly name: string;
  readonly v: number;
}

async function runAndKill(dir: string, acksBeforeKill: number, history: Op[]): Promise<number> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'crash-writer.ts'), dir, '16384'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = 0;
  let maxAck = 0;
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, a, b, c, d] = line.split(' ');
        if (kind === 'issue') history.push({ rv: Number(a), op: b === 'del' ? 'del' : 'put', name: c ?? '', v: Number(d) });
        if (kind === 'ack') {
          acked++;
          maxAck = Math.max(maxAck, Number(a));
          if (acked === acksBeforeKill) {
            child.kill('SIGKILL');
          }
        }
      }
    });
    child.on('exit', () => { resolve(); });
    child.on('error', reject);
  });
  return maxAck;
}

describe('storage: crash consistency', () => {
  it('survives SIGKILL mid-write (several rounds, with compactions)', async () => {
    const dir = await tempDir('crash');
    const storeDir = join(dir, 'store');
    try {
      let history: Op[] = [];
      for (const kills of [120, 37, 300, 75]) {
        const maxAck = await runAndKill(storeDir, kills, history);
        const store = await Store.open({ dir: storeDir, logger: silentLogger() });
        const durable = store.committedRV;
        const maxIssued = Math.max(0, ...history.map((h) => h.rv));
        assert.ok(durable >= maxAck, `every acknowledged write survived (durable ${String(durable)}, acked ${String(maxAck)})`);
        assert.ok(durable <= maxIssued, 'nothing beyond what was issued');
        // The durable state is exactly the issued writes up to `durable`.
        history = history.filter((h) => h.rv <= durable).sort((a, b) => a.rv - b.rv);
        const expected = new Map<string, { rv: number; v: number }>();
        for (const h of history) {
          if (h.op === 'del') expected.delete(h.name);
          else expected.set(h.name, { rv: h.rv, v: h.v });
        }
        const idx = store.index('services');
        assert.equal(idx.size, expected.size);
        for (const [name, e] of expected) {
          const got = idx.byKey.get(`default/${name}`);
          assert.ok(got, `${name} present`);
          assert.equal(got.rv, e.rv, `${name} at the right revision`);
          assert.equal((got.obj['spec'] as { v: number }).v, e.v);
        }
        // Writes continue at the next revision.
        const w = store.put('services', 'default', 'probe', { metadata: { name: 'probe' } });
        assert.equal(w.object.rv, durable + 1);
        await w.committed;
        await store.delete('services', 'default', 'probe').committed;
        history.push({ rv: durable + 1, op: 'put', name: 'probe', v: 0 }, { rv: durable + 2, op: 'del', name: 'probe', v: 0 });
        await store.close();
      }
    } finally {
      await removeDir(dir);
    }
  });
});
