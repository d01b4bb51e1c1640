// The kube-proxy metrics (upstream pkg/proxy/metrics/metrics.go, 1.33+ with per-IP-family
// labels), on a registry the composition root passes in. Names, types, help texts, buckets and
// label names match upstream; help texts carry the "[ALPHA] " prefix that upstream's
// component-base adds to every alpha metric, so the served text is the same.
//
// Like upstream's RegisterMetrics(mode), only the metrics the proxy mode uses are registered
// (exposed); the others still exist on the returned object, so callers never need to check,
// but observing them changes nothing that is served.

import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { ProxyMode } from '../dataplanes/dataplane.ts';

/** Label for the IP family a proxier serves: "IPv4" | "IPv6" (upstream v1.IPFamily values). */
export type IPFamilyLabel = 'ip_family';

export interface ProxyMetrics {
  readonly registry: Registry;
  /** kubeproxy_sync_proxy_rules_duration_seconds{ip_family} */
  readonly syncProxyRulesLatency: Histogram<IPFamilyLabel>;
  /** kubeproxy_sync_full_proxy_rules_duration_seconds{ip_family} (iptables, nftables) */
  readonly syncFullProxyRulesLatency: Histogram<IPFamilyLabel>;
  /** kubeproxy_sync_partial_proxy_rules_duration_seconds{ip_family} (iptables, nftables) */
  readonly syncPartialProxyRulesLatency: Histogram<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family} */
  readonly syncProxyRulesLastTimestamp: Gauge<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family} */
  readonly syncProxyRulesLastQueuedTimestamp: Gauge<IPFamilyLabel>;
  /** kubeproxy_network_programming_duration_seconds{ip_family} */
  readonly networkProgrammingLatency: Histogram<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_endpoint_changes_pending */
  readonly endpointChangesPending: Gauge;
  /** kubeproxy_sync_proxy_rules_endpoint_changes_total */
  readonly endpointChangesTotal: Counter;
  /** kubeproxy_sync_proxy_rules_service_changes_pending */
  readonly serviceChangesPending: Gauge;
  /** kubeproxy_sync_proxy_rules_service_changes_total */
  readonly serviceChangesTotal: Counter;
  /** kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family,traffic_policy} (a gauge, despite the name) */
  readonly syncProxyRulesNoLocalEndpointsTotal: Gauge<IPFamilyLabel | 'traffic_policy'>;
  /** kubeproxy_proxy_healthz_total{code} */
  readonly proxyHealthzTotal: Counter<'code'>;
  /** kubeproxy_proxy_livez_total{code} */
  readonly proxyLivezTotal: Counter<'code'>;
  /** kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family} (iptables) */
  readonly iptablesRestoreFailuresTotal: Counter<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family} (iptables) */
  readonly iptablesPartialRestoreFailuresTotal: Counter<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_iptables_total{ip_family,table} (iptables) */
  readonly iptablesRulesTotal: Gauge<IPFamilyLabel | 'table'>;
  /** kubeproxy_sync_proxy_rules_iptables_last{ip_family,table} (iptables) */
  readonly iptablesRulesLastSync: Gauge<IPFamilyLabel | 'table'>;
  /** kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family} (nftables) */
  readonly nftablesSyncFailuresTotal: Counter<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family} (nftables) */
  readonly nftablesCleanupFailuresTotal: Counter<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_nftables_chains{ip_family} (ours: chains we own after the last sync) */
  readonly nftablesChains: Gauge<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_nftables_elements{ip_family} (ours: map and set elements we own) */
  readonly nftablesElements: Gauge<IPFamilyLabel>;
  /** kubeproxy_sync_proxy_rules_nftables_operations_last{ip_family} (ours: statements in the last transaction) */
  readonly nftablesOperationsLast: Gauge<IPFamilyLabel>;
  /**
   * kubeproxy_sync_proxy_rules_phase_seconds{kind,phase} (ours): seconds the last sync of this
   * kind (full|partial) spent per phase: snapshot (model), render, plan, kernel_read, apply.
   */
  readonly syncPhaseLast: Gauge<'kind' | 'phase'>;
  /** kubeproxy_sync_proxy_rules_phase_seconds_total{kind,phase} (ours): the same, summed over syncs. */
  readonly syncPhaseTotal: Counter<'kind' | 'phase'>;
  /** kubeproxy_sync_proxy_rules_initial_state_timestamp_seconds (ours): when the initial lists were complete. */
  readonly initialStateTimestamp: Gauge;
  /** kubeproxy_conntrack_reconciler_sync_duration_seconds{ip_family} (iptables, nftables) */
  readonly reconcileConntrackFlowsLatency: Histogram<IPFamilyLabel>;
  /** kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family} (iptables, nftables) */
  readonly reconcileConntrackFlowsDeletedEntriesTotal: Counter<IPFamilyLabel>;
}

export interface ProxyMetricsOptions {
  /**
   * Register only what this mode uses, as upstream does. Undefined registers everything
   * (handy for tests and tools).
   */
  readonly mode?: ProxyMode;
  /** Also collect prom-client's process_* and nodejs_* metrics on the registry. Default true. */
  readonly collectDefaultMetrics?: boolean;
}

/** prometheus.ExponentialBuckets: start, start×factor, … (count values, same float steps as Go). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const buckets: number[] = [];
  let value = start;
  for (let i = 0; i < count; i++) {
    buckets.push(value);
    value *= factor;
  }
  return buckets;
}

/** prometheus.LinearBuckets: start, start+width, … (count values, same float steps as Go). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  const buckets: number[] = [];
  let value = start;
  for (let i = 0; i < count; i++) {
    buckets.push(value);
    value += width;
  }
  return buckets;
}

/** component-base metrics.MergeBuckets: note that it starts with a 0 bucket. */
export function mergeBuckets(...lists: readonly (readonly number[])[]): number[] {
  return [0, ...lists.flat()];
}

/** 0.001s … 16.384s: upstream's sync latency buckets. */
export const SYNC_LATENCY_BUCKETS: readonly number[] = exponentialBuckets(0.001, 2, 15);

/** 0, 0.25s, 0.5s, 1…59s, 60…115s by 5, 120…300s by 30: upstream's network programming buckets. */
export const NETWORK_PROGRAMMING_BUCKETS: readonly number[] = mergeBuckets(
  linearBuckets(0.25, 0.25, 2),
  linearBuckets(1, 1, 59),
  linearBuckets(60, 5, 12),
  linearBuckets(120, 30, 7),
);

const SUBSYSTEM = 'kubeproxy';
/** component-base prefixes the help of every ALPHA metric with its stability level. */
const alpha = (help: string): string => `[ALPHA] ${help}`;

type MetricGroup = 'core' | 'fullPartial' | 'iptables' | 'nftables' | 'conntrack';

function groupsFor(mode: ProxyMode | undefined): ReadonlySet<MetricGroup> {
  switch (mode) {
    case undefined:
      return new Set<MetricGroup>(['core', 'fullPartial', 'iptables', 'nftables', 'conntrack']);
    case 'iptables':
      return new Set<MetricGroup>(['core', 'fullPartial', 'iptables', 'conntrack']);
    case 'nftables':
      return new Set<MetricGroup>(['core', 'fullPartial', 'nftables', 'conntrack']);
    case 'userspace':
      return new Set<MetricGroup>(['core']);
  }
}

/**
 * Create the kube-proxy metrics on `registry`. Call once per registry: registering the same
 * names twice throws.
 */
export function createProxyMetrics(registry: Registry, options: ProxyMetricsOptions = {}): ProxyMetrics {
  const groups = groupsFor(options.mode);
  const on = (group: MetricGroup): Registry[] => (groups.has(group) ? [registry] : []);
  const name = (n: string): string => `${SUBSYSTEM}_${n}`;

  const metrics: ProxyMetrics = {
    registry,
    syncProxyRulesLatency: new Histogram({
      name: name('sync_proxy_rules_duration_seconds'),
      help: alpha('SyncProxyRules latency in seconds'),
      buckets: [...SYNC_LATENCY_BUCKETS],
      labelNames: ['ip_family'],
      registers: on('core'),
    }),
    syncFullProxyRulesLatency: new Histogram({
      name: name('sync_full_proxy_rules_duration_seconds'),
      help: alpha('SyncProxyRules latency in seconds for full resyncs'),
      buckets: [...SYNC_LATENCY_BUCKETS],
      labelNames: ['ip_family'],
      registers: on('fullPartial'),
    }),
    syncPartialProxyRulesLatency: new Histogram({
      name: name('sync_partial_proxy_rules_duration_seconds'),
      help: alpha('SyncProxyRules latency in seconds for partial resyncs'),
      buckets: [...SYNC_LATENCY_BUCKETS],
      labelNames: ['ip_family'],
      registers: on('fullPartial'),
    }),
    syncProxyRulesLastTimestamp: new Gauge({
      name: name('sync_proxy_rules_last_timestamp_seconds'),
      help: alpha('The last time proxy rules were successfully synced'),
      labelNames: ['ip_family'],
      registers: on('core'),
    }),
    syncProxyRulesLastQueuedTimestamp: new Gauge({
      name: name('sync_proxy_rules_last_queued_timestamp_seconds'),
      help: alpha('The last time a sync of proxy rules was queued'),
      labelNames: ['ip_family'],
      registers: on('core'),
    }),
    networkProgrammingLatency: new Histogram({
      name: name('network_programming_duration_seconds'),
      help: alpha('In Cluster Network Programming Latency in seconds'),
      buckets: [...NETWORK_PROGRAMMING_BUCKETS],
      labelNames: ['ip_family'],
      registers: on('core'),
    }),
    endpointChangesPending: new Gauge({
      name: name('sync_proxy_rules_endpoint_changes_pending'),
      help: alpha('Pending proxy rules Endpoint changes'),
      registers: on('core'),
    }),
    endpointChangesTotal: new Counter({
      name: name('sync_proxy_rules_endpoint_changes_total'),
      help: alpha('Cumulative proxy rules Endpoint changes'),
      registers: on('core'),
    }),
    serviceChangesPending: new Gauge({
      name: name('sync_proxy_rules_service_changes_pending'),
      help: alpha('Pending proxy rules Service changes'),
      registers: on('core'),
    }),
    serviceChangesTotal: new Counter({
      name: name('sync_proxy_rules_service_changes_total'),
      help: alpha('Cumulative proxy rules Service changes'),
      registers: on('core'),
    }),
    syncProxyRulesNoLocalEndpointsTotal: new Gauge({
      name: name('sync_proxy_rules_no_local_endpoints_total'),
      help: alpha('Number of services with a Local traffic policy and no endpoints'),
      labelNames: ['ip_family', 'traffic_policy'],
      registers: on('core'),
    }),
    proxyHealthzTotal: new Counter({
      name: name('proxy_healthz_total'),
      help: alpha('Cumulative proxy healthz HTTP status'),
      labelNames: ['code'],
      registers: on('core'),
    }),
    proxyLivezTotal: new Counter({
      name: name('proxy_livez_total'),
      help: alpha('Cumulative proxy livez HTTP status'),
      labelNames: ['code'],
      registers: on('core'),
    }),
    iptablesRestoreFailuresTotal: new Counter({
      name: name('sync_proxy_rules_iptables_restore_failures_total'),
      help: alpha('Cumulative proxy iptables restore failures'),
      labelNames: ['ip_family'],
      registers: on('iptables'),
    }),
    iptablesPartialRestoreFailuresTotal: new Counter({
      name: name('sync_proxy_rules_iptables_partial_restore_failures_total'),
      help: alpha('Cumulative proxy iptables partial restore failures'),
      labelNames: ['ip_family'],
      registers: on('iptables'),
    }),
    iptablesRulesTotal: new Gauge({
      name: name('sync_proxy_rules_iptables_total'),
      help: alpha('Total number of iptables rules owned by kube-proxy'),
      labelNames: ['ip_family', 'table'],
      registers: on('iptables'),
    }),
    iptablesRulesLastSync: new Gauge({
      name: name('sync_proxy_rules_iptables_last'),
      help: alpha('Number of iptables rules written by kube-proxy in last sync'),
      labelNames: ['ip_family', 'table'],
      registers: on('iptables'),
    }),
    nftablesSyncFailuresTotal: new Counter({
      name: name('sync_proxy_rules_nftables_sync_failures_total'),
      help: alpha('Cumulative proxy nftables sync failures'),
      labelNames: ['ip_family'],
      registers: on('nftables'),
    }),
    nftablesCleanupFailuresTotal: new Counter({
      name: name('sync_proxy_rules_nftables_cleanup_failures_total'),
      help: alpha('Cumulative proxy nftables cleanup failures'),
      labelNames: ['ip_family'],
      registers: on('nftables'),
    }),
    nftablesChains: new Gauge({
      name: name('sync_proxy_rules_nftables_chains'),
      help: 'Number of nftables chains owned by kube-proxy-ts after the last sync',
      labelNames: ['ip_family'],
      registers: on('nftables'),
    }),
    nftablesElements: new Gauge({
      name: name('sync_proxy_rules_nftables_elements'),
      help: 'Number of nftables map and set elements owned by kube-proxy-ts after the last sync',
      labelNames: ['ip_family'],
      registers: on('nftables'),
    }),
    nftablesOperationsLast: new Gauge({
      name: name('sync_proxy_rules_nftables_operations_last'),
      help: 'Number of nftables statements written by kube-proxy-ts in the last sync',
      labelNames: ['ip_family'],
      registers: on('nftables'),
    }),
    syncPhaseLast: new Gauge({
      name: name('sync_proxy_rules_phase_seconds'),
      help: 'Seconds the last sync of each kind (full, partial) of kube-proxy-ts spent in each phase',
      labelNames: ['kind', 'phase'],
      registers: on('core'),
    }),
    syncPhaseTotal: new Counter({
      name: name('sync_proxy_rules_phase_seconds_total'),
      help: 'Seconds kube-proxy-ts syncs of each kind (full, partial) spent in each phase, summed',
      labelNames: ['kind', 'phase'],
      registers: on('core'),
    }),
    initialStateTimestamp: new Gauge({
      name: name('sync_proxy_rules_initial_state_timestamp_seconds'),
      help: 'When kube-proxy-ts had processed the initial Service and EndpointSlice lists',
      registers: on('core'),
    }),
    reconcileConntrackFlowsLatency: new Histogram({
      name: name('conntrack_reconciler_sync_duration_seconds'),
      help: alpha('ReconcileConntrackFlowsLatency latency in seconds'),
      buckets: [...SYNC_LATENCY_BUCKETS],
      labelNames: ['ip_family'],
      registers: on('conntrack'),
    }),
    reconcileConntrackFlowsDeletedEntriesTotal: new Counter({
      name: name('conntrack_reconciler_deleted_entries_total'),
      help: alpha('Cumulative conntrack flows deleted by conntrack reconciler'),
      labelNames: ['ip_family'],
      registers: on('conntrack'),
    }),
  };

  if (options.collectDefaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return metrics;
}
