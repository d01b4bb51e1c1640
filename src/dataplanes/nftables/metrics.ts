// What the nftables dataplane reports. The composition root adapts this to prom-client
// (src/server/metrics.ts); tests use a recording fake. Names in comments are the upstream
// metric each call feeds.

import type { IPFamily } from '../../model/types.ts';

export type SyncKind = 'full' | 'partial';

export interface NftablesSyncReport {
  readonly family: IPFamily;
  readonly kind: SyncKind;
  /** kubeproxy_sync_{full,partial}_proxy_rules_duration_seconds */
  readonly durationSeconds: number;
  /** Statements in this family's part of the transaction. */
  readonly operations: number;
  /** Chains we manage (fixed + per service) and elements in our sets/maps after the sync. */
  readonly chains: number;
  readonly elements: number;
  readonly affinitySets: number;
  readonly staleChains: number;
}

/** Seconds one sync (all families together) spent per phase. */
export interface SyncPhases {
  /** Rendering rules from the snapshot (and hashing them). */
  readonly render: number;
  /** Turning rendered rules + the record into the transaction text. */
  readonly plan: number;
  /** Reading names and elements back from the kernel (full syncs that do). */
  readonly kernelRead: number;
  /** Running nft: parsing, netlink, the kernel's commit. */
  readonly apply: number;
  /** The cleanup transaction that deletes what partial syncs left behind. */
  readonly cleanup: number;
}

export interface NftablesMetrics {
  /** kubeproxy_sync_proxy_rules_nftables_sync_failures_total */
  syncFailed(): void;
  /** kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total (stale chain deletion) */
  cleanupFailed(): void;
  /** One call per family per successful sync. */
  synced(report: NftablesSyncReport): void;
  /** kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy} (a gauge upstream) */
  noLocalEndpoints(family: IPFamily, policy: 'internal' | 'external', count: number): void;
  /** Where the time of one sync went (kubeproxy_sync_proxy_rules_phase_seconds). */
  phases?(kind: SyncKind, phases: SyncPhases): void;
  /** Seconds spent reading the kernel state on a full sync. */
  kernelRead(family: IPFamily, seconds: number): void;
  /** kubeproxy_conntrack_reconciler_deleted_entries_total */
  conntrackEntriesDeleted(family: IPFamily, count: number): void;
}

export const noopNftablesMetrics: NftablesMetrics = {
  syncFailed: () => undefined,
  cleanupFailed: () => undefined,
  synced: () => undefined,
  noLocalEndpoints: () => undefined,
  kernelRead: () => undefined,
  conntrackEntriesDeleted: () => undefined,
};
