import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseControlPlaneArgs, runControlPlaneCommand } from '../../src/controlplane/index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { removeDir, tempDir } from './helpers.ts';

function io(): { out: string[]; err: string[]; io: { out: { write(t: string): void }; err: { write(t: string): void } } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (t) => { out.push(t); } }, err: { write: (t) => { err.push(t); } } } };
}

describe('control-plane command', () => {
  it('parses flags', () => {
    const opts = parseControlPlaneArgs(['--listen', '127.0.0.1:7443', '--data-dir', '/d', '--kubeconfig-out', '/k', '--manifests', '/m', '--service-cidr', '10.0.0.0/16, fd00::/112', '--node-port-range', '31000-31999'], silentLogger());
    assert.notEqual(opts, 'help');
    if (opts === 'help') return;
    assert.equal(opts.listen, '127.0.0.1:7443');
    assert.equal(opts.dataDir, '/d');
    assert.equal(opts.kubeconfigOut, '/k');
    assert.equal(opts.manifestsDir, '/m');
    assert.deepEqual(opts.serviceCIDRs, ['10.0.0.0/16', 'fd00::/112']);
    assert.equal(opts.nodePortRange, '31000-31999');
    assert.equal(parseControlPlaneArgs(['--help'], silentLogger()), 'help');
  });

  it('reports usage errors with exit code 2', async () => {
    const c = io();
    assert.equal(await runControlPlaneCommand([], silentLogger(), undefined, c.io), 2);
    assert.match(c.err.join(''), /--data-dir is required/);
    assert.equal(await runControlPlaneCommand(['--bogus'], silentLogger(), undefined, c.io), 2);
  });

  it('serves until aborted, writing the kubeconfig', async () => {
    const dir = await tempDir('cmd');
    try {
      const ac = new AbortController();
      const c = io();
      const kubeconfig = join(dir, 'kc');
      const run = runControlPlaneCommand(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--kubeconfig-out', kubeconfig], silentLogger(), ac.signal, c.io);
      const deadline = Date.now() + 10_000;
      while (!c.out.join('').includes('kubeconfig:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(c.out.join(''), /control plane serving at https:\/\/127\.0\.0\.1:\d+/);
      assert.match(await readFile(kubeconfig, 'utf8'), /certificate-authority-data/);
      ac.abort();
      assert.equal(await run, 0);
    } finally {
      await removeDir(dir);
    }
  });
});
