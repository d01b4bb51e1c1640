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

export interface NftablesMetrics {
  /** kubeproxy_sync_proxy_rules_nftables_sync_failures_total */
  syncFailed(): void;
  /** kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total (stale chain deletion) */
  cleanupFailed(): void;
  /** One call per family per successful sync. */
  synced(report: NftablesSyncReport): void;
  /** kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy} (a gauge upstream) */
  noLocalEndpoints(family: IPFamily, policy: 'internal' | 'external', count: number): void;
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
