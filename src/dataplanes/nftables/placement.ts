// Which table a service's chains live in.
//
// Every nft transaction that adds a rule with a jump, goto, DNAT or verdict-map element makes
// the kernel re-validate the whole table it touches: it walks every chain reachable from the
// table's base chains, through every element of every verdict map (nf_tables_api.c,
// nft_table_validate). One table holding 10k services × 10 endpoints costs 30–60 ms of kernel
// time on every such commit, however small: adding one service would cost O(cluster).
//
// So service chains are spread over tables ("shards") of bounded size: TABLE (shard 0) and
// kube-proxy-s1 … each with its own nat hooks and dispatch maps (render-base.ts). A service
// stays in the shard its name hashes to; the number of shards is chosen from the size of the
// ruleset when everything is rewritten (first sync, hourly), so a small cluster has exactly
// one table, laid out as upstream's. The price is two hash lookups per extra table (its
// service IPs, then whether the port is one of its NodePorts; the route lookup only for those:
// render-base.ts dispatchRules) for the first packet of a connection that no earlier table
// DNATs (a service connection stops at the table that DNATs it); later packets follow conntrack.

import { hashString } from '../../model/persistent-map.ts';
import type { FamilySnapshot, ServiceKey } from '../../model/types.ts';
import { MAX_SHARD_TABLES, shardTable } from './names.ts';

/** Rules (≈ one per endpoint, plus a few per port) a shard should hold at most. */
export const DEFAULT_SHARD_WEIGHT = 16_000;

/** Weight of a snapshot: service ports × 3 + endpoints, a proxy for rules the kernel walks. */
export function rulesetWeight(snap: FamilySnapshot): number {
  let w = 3 * snap.services.size;
  for (const eps of snap.endpoints.values()) w += eps.length;
  return w;
}

/** How many tables to spread `weight` over. */
export function shardCount(weight: number, perShard: number = DEFAULT_SHARD_WEIGHT): number {
  if (perShard <= 0) return 1;
  return Math.max(1, Math.min(MAX_SHARD_TABLES, Math.ceil(weight / perShard)));
}

/** The table of a service when there are `shards` tables: stable across restarts. */
export function tableFor(service: ServiceKey, shards: number): string {
  return shards <= 1 ? shardTable(0) : shardTable(hashString(service) % shards);
}

/** Whether a rewrite should re-spread the services: the current count is far off the ideal. */
export function shouldReshard(current: number, weight: number, perShard: number = DEFAULT_SHARD_WEIGHT): boolean {
  const ideal = shardCount(weight, perShard);
  return ideal > current * 2 || (ideal < current / 2 && current > 1);
}
