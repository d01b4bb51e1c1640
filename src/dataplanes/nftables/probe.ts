// Start-up capability probe: is there an nft binary, and does the kernel have everything our
// rules use? Each feature is checked with `nft -c` (validated by the kernel, never committed)
// so the error can name what is missing.

import { NftCapabilityError, NftCommandError } from './errors.ts';
import type { NftRunner } from './runner.ts';

const T = 'ip kube-proxy-probe';

interface Feature { readonly name: string; readonly hint: string; readonly lines: readonly string[] }

const FEATURES: readonly Feature[] = [
  { name: 'nf_tables', hint: 'kernel module nf_tables', lines: [`add table ${T}`, `add chain ${T} c`] },
  { name: 'filter base chains', hint: 'nf_tables filter hooks', lines: [`add table ${T}`, `add chain ${T} f { type filter hook input priority 0 ; }`] },
  { name: 'nat', hint: 'kernel module nft_chain_nat / nf_nat', lines: [`add table ${T}`, `add chain ${T} n { type nat hook prerouting priority -100 ; }`] },
  { name: 'conntrack', hint: 'kernel module nft_ct', lines: [`add table ${T}`, `add chain ${T} c`, `add rule ${T} c ct state new accept`] },
  { name: 'verdict maps', hint: 'concatenated verdict maps (nf_tables set support)', lines: [`add table ${T}`, `add chain ${T} c`, `add map ${T} m { type ipv4_addr . inet_proto . inet_service : verdict ; }`, `add rule ${T} c ip daddr . meta l4proto . th dport vmap @m`] },
  { name: 'numgen', hint: 'kernel module nft_numgen', lines: [`add table ${T}`, `add chain ${T} c`, `add chain ${T} d`, `add rule ${T} c numgen random mod 2 vmap { 0 : goto d , 1 : goto d }`] },
  { name: 'fib', hint: 'kernel module nft_fib_ipv4 / nft_fib_ipv6', lines: [`add table ${T}`, `add chain ${T} c`, `add rule ${T} c fib saddr type local accept`] },
  { name: 'reject', hint: 'kernel module nft_reject', lines: [`add table ${T}`, `add chain ${T} f { type filter hook input priority 0 ; }`, `add rule ${T} f reject`] },
  { name: 'dynamic timeout sets', hint: 'kernel module nft_dynset', lines: [`add table ${T}`, `add chain ${T} c`, `add set ${T} s { type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; }`, `add rule ${T} c update @s { ip saddr }`] },
  { name: 'dnat', hint: 'kernel module nft_nat', lines: [`add table ${T}`, `add chain ${T} n { type nat hook prerouting priority -100 ; }`, `add rule ${T} n meta l4proto tcp dnat to 10.0.0.1:80`] },
  { name: 'masquerade', hint: 'kernel module nft_masq', lines: [`add table ${T}`, `add chain ${T} p { type nat hook postrouting priority 100 ; }`, `add rule ${T} p masquerade fully-random`] },
];

/**
 * Throws NftCapabilityError naming the first missing piece (`missing` is "nft binary" or a
 * feature name). Needs CAP_NET_ADMIN like the dataplane itself.
 */
export async function probeNftables(runner: NftRunner): Promise<void> {
  try {
    await runner.query(['--version']);
  } catch (err) {
    if (err instanceof NftCommandError && err.code === 'NFT_NOT_FOUND') {
      throw new NftCapabilityError('nft binary', `nftables mode needs the nft binary: ${err.message}`, { cause: err });
    }
    throw new NftCapabilityError('nft binary', `nft --version failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const all = [...new Set(FEATURES.flatMap((f) => f.lines))].join('\n') + '\n';
  try {
    await runner.run(all, { check: true });
    return;
  } catch (err) {
    if (!(err instanceof NftCommandError)) throw err;
  }
  for (const f of FEATURES) {
    try {
      await runner.run(f.lines.join('\n') + '\n', { check: true });
    } catch (err) {
      const detail = err instanceof NftCommandError ? err.stderr : String(err);
      throw new NftCapabilityError(f.name, `the kernel or nft lacks ${f.name} (${f.hint}): ${detail.slice(0, 500)}`, { cause: err });
    }
  }
  throw new NftCapabilityError('unknown', 'nftables capability check failed, but no single feature could be blamed');
}
