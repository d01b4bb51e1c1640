import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { probeNftables } from '../../../src/dataplanes/nftables/probe.ts';
import { NftCapabilityError, NftCommandError } from '../../../src/dataplanes/nftables/errors.ts';
import { scriptText, SpawnNftRunner, type NftRunner } from '../../../src/dataplanes/nftables/runner.ts';
import { canUseNetns, withNetns } from '../../helpers/netns.ts';

describe('probeNftables', () => {
  it('names the missing nft binary', async () => {
    await assert.rejects(probeNftables(new SpawnNftRunner({ binary: '/nonexistent/kpt/nft' })),
      (e: unknown) => e instanceof NftCapabilityError && e.missing === 'nft binary' && e.name === 'NftCapabilityError');
  });

  it('names the missing binary behind a command prefix too', { skip: !canUseNetns() && 'needs root' }, async () => {
    await withNetns('probe-bogus', async (ns) => {
      await assert.rejects(probeNftables(new SpawnNftRunner({ binary: '/nonexistent/kpt/nft', commandPrefix: ns.prefix })),
        (e: unknown) => e instanceof NftCapabilityError && e.missing === 'nft binary');
    });
  });

  it('names a missing kernel feature', async () => {
    const runner: NftRunner = {
      query: () => Promise.resolve('nftables v1.0.6'),
      run: (script) => scriptText(script).includes('numgen')
        ? Promise.reject(new NftCommandError('NFT_FAILED', 'nft failed', 'Error: Could not process rule: No such file or directory', 1))
        : Promise.resolve(),
    };
    await assert.rejects(probeNftables(runner), (e: unknown) => e instanceof NftCapabilityError && e.missing === 'numgen' && /nft_numgen/.test(e.message));
  });

  it('passes on this kernel, committing nothing', { skip: !canUseNetns() && 'needs root' }, async () => {
    await withNetns('probe-ok', async (ns) => {
      await probeNftables(new SpawnNftRunner({ commandPrefix: ns.prefix }));
      assert.equal(ns.exec('nft', ['list', 'tables']).trim(), '');
    });
  });
});
