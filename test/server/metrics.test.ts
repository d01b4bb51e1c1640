import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  NETWORK_PROGRAMMING_BUCKETS,
  SYNC_LATENCY_BUCKETS,
  createProxyMetrics,
  exponentialBuckets,
  linearBuckets,
} from '../../src/server/metrics.ts';

type MetricType = 'histogram' | 'gauge' | 'counter';

interface Spec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly modes: readonly ('iptables' | 'nftables' | 'userspace')[];
  /** Ours, not upstream's: no stability prefix on the help text. */
  readonly ours?: true;
}

const ALL = ['iptables', 'nftables', 'userspace'] as const;
const RULES = ['iptables', 'nftables'] as const;

// Upstream pkg/proxy/metrics (1.33+): name, type, help, labels, and which modes register it.
const SPECS: readonly Spec[] = [
  { name: 'kubeproxy_sync_proxy_rules_duration_seconds', type: 'histogram', help: 'SyncProxyRules latency in seconds', labels: ['ip_family'], modes: ALL },
  { name: 'kubeproxy_sync_full_proxy_rules_duration_seconds', type: 'histogram', help: 'SyncProxyRules latency in seconds for full resyncs', labels: ['ip_family'], modes: RULES },
  { name: 'kubeproxy_sync_partial_proxy_rules_duration_seconds', type: 'histogram', help: 'SyncProxyRules latency in seconds for partial resyncs', labels: ['ip_family'], modes: RULES },
  { name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', type: 'gauge', help: 'The last time proxy rules were successfully synced', labels: ['ip_family'], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', type: 'gauge', help: 'The last time a sync of proxy rules was queued', labels: ['ip_family'], modes: ALL },
  { name: 'kubeproxy_network_programming_duration_seconds', type: 'histogram', help: 'In Cluster Network Programming Latency in seconds', labels: ['ip_family'], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', type: 'gauge', help: 'Pending proxy rules Endpoint changes', labels: [], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', type: 'counter', help: 'Cumulative proxy rules Endpoint changes', labels: [], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_service_changes_pending', type: 'gauge', help: 'Pending proxy rules Service changes', labels: [], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_service_changes_total', type: 'counter', help: 'Cumulative proxy rules Service changes', labels: [], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', type: 'gauge', help: 'Number of services with a Local traffic policy and no endpoints', labels: ['ip_family', 'traffic_policy'], modes: ALL },
  { name: 'kubeproxy_proxy_healthz_total', type: 'counter', help: 'Cumulative proxy healthz HTTP status', labels: ['code'], modes: ALL },
  { name: 'kubeproxy_proxy_livez_total', type: 'counter', help: 'Cumulative proxy livez HTTP status', labels: ['code'], modes: ALL },
  { name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', type: 'counter', help: 'Cumulative proxy iptables restore failures', labels: ['ip_family'], modes: ['iptables'] },
  { name: 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', type: 'counter', help: 'Cumulative proxy iptables partial restore failures', labels: ['ip_family'], modes: ['iptables'] },
  { name: 'kubeproxy_sync_proxy_rules_iptables_total', type: 'gauge', help: 'Total number of iptables rules owned by kube-proxy', labels: ['ip_family', 'table'], modes: ['iptables'] },
  { name: 'kubeproxy_sync_proxy_rules_iptables_last', type: 'gauge', help: 'Number of iptables rules written by kube-proxy in last sync', labels: ['ip_family', 'table'], modes: ['iptables'] },
  { name: 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total', type: 'counter', help: 'Cumulative proxy nftables sync failures', labels: ['ip_family'], modes: ['nftables'] },
  { name: 'kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total', type: 'counter', help: 'Cumulative proxy nftables cleanup failures', labels: ['ip_family'], modes: ['nftables'] },
  // Ours (kube-proxy-ts): what the nftables dataplane owns and wrote, for dashboards of sync cost.
  { name: 'kubeproxy_sync_proxy_rules_nftables_chains', type: 'gauge', help: 'Number of nftables chains owned by kube-proxy-ts after the last sync', labels: ['ip_family'], modes: ['nftables'], ours: true },
  { name: 'kubeproxy_sync_proxy_rules_nftables_elements', type: 'gauge', help: 'Number of nftables map and set elements owned by kube-proxy-ts after the last sync', labels: ['ip_family'], modes: ['nftables'], ours: true },
  { name: 'kubeproxy_sync_proxy_rules_nftables_operations_last', type: 'gauge', help: 'Number of nftables statements written by kube-proxy-ts in the last sync', labels: ['ip_family'], modes: ['nftables'], ours: true },
  { name: 'kubeproxy_sync_proxy_rules_phase_seconds', type: 'gauge', help: 'Seconds the last sync of each kind (full, partial) of kube-proxy-ts spent in each phase', labels: ['kind', 'phase'], modes: ALL, ours: true },
  { name: 'kubeproxy_sync_proxy_rules_phase_seconds_total', type: 'counter', help: 'Seconds kube-proxy-ts syncs of each kind (full, partial) spent in each phase, summed', labels: ['kind', 'phase'], modes: ALL, ours: true },
  { name: 'kubeproxy_sync_proxy_rules_initial_state_timestamp_seconds', type: 'gauge', help: 'When kube-proxy-ts had processed the initial Service and EndpointSlice lists', labels: [], modes: ALL, ours: true },
  { name: 'kubeproxy_conntrack_reconciler_sync_duration_seconds', type: 'histogram', help: 'ReconcileConntrackFlowsLatency latency in seconds', labels: ['ip_family'], modes: RULES },
  { name: 'kubeproxy_conntrack_reconciler_deleted_entries_total', type: 'counter', help: 'Cumulative conntrack flows deleted by conntrack reconciler', labels: ['ip_family'], modes: RULES },
];

describe('createProxyMetrics', () => {
  it('registers every upstream metric with its type, help and labels', async () => {
    const registry = new Registry();
    createProxyMetrics(registry, { collectDefaultMetrics: false });
    const byName = new Map(registry.getMetricsAsArray().map((m) => [m.name, m]));
    assert.equal(byName.size, SPECS.length);
    const text = await registry.metrics();
    for (const spec of SPECS) {
      const metric = byName.get(spec.name);
      assert.ok(metric, spec.name);
      assert.equal(metric.type, spec.type, spec.name);
      const help = spec.ours === true ? spec.help : `[ALPHA] ${spec.help}`;
      assert.equal(metric.help, help, spec.name);
      assert.ok(text.includes(`# HELP ${spec.name} ${help}\n`), spec.name);
      assert.ok(text.includes(`# TYPE ${spec.name} ${spec.type}\n`), spec.name);
    }
  });

  it('uses the upstream label names', async () => {
    const registry = new Registry();
    const m = createProxyMetrics(registry, { collectDefaultMetrics: false });
    m.syncProxyRulesLatency.labels({ ip_family: 'IPv4' }).observe(0.003);
    m.syncFullProxyRulesLatency.labels({ ip_family: 'IPv4' }).observe(0.003);
    m.syncPartialProxyRulesLatency.labels({ ip_family: 'IPv6' }).observe(0.003);
    m.syncProxyRulesLastTimestamp.labels({ ip_family: 'IPv4' }).set(1);
    m.syncProxyRulesLastQueuedTimestamp.labels({ ip_family: 'IPv4' }).set(1);
    m.networkProgrammingLatency.labels({ ip_family: 'IPv4' }).observe(2);
    m.endpointChangesPending.set(1);
    m.endpointChangesTotal.inc();
    m.serviceChangesPending.set(1);
    m.serviceChangesTotal.inc();
    m.syncProxyRulesNoLocalEndpointsTotal.labels({ ip_family: 'IPv4', traffic_policy: 'internal' }).set(2);
    m.proxyHealthzTotal.labels({ code: '200' }).inc();
    m.proxyLivezTotal.labels({ code: '503' }).inc();
    m.iptablesRestoreFailuresTotal.labels({ ip_family: 'IPv4' }).inc();
    m.iptablesPartialRestoreFailuresTotal.labels({ ip_family: 'IPv4' }).inc();
    m.iptablesRulesTotal.labels({ ip_family: 'IPv4', table: 'nat' }).set(10);
    m.iptablesRulesLastSync.labels({ ip_family: 'IPv4', table: 'filter' }).set(3);
    m.nftablesSyncFailuresTotal.labels({ ip_family: 'IPv6' }).inc();
    m.nftablesCleanupFailuresTotal.labels({ ip_family: 'IPv6' }).inc();
    m.reconcileConntrackFlowsLatency.labels({ ip_family: 'IPv4' }).observe(0.01);
    m.reconcileConntrackFlowsDeletedEntriesTotal.labels({ ip_family: 'IPv4' }).inc(18);
    const text = await registry.metrics();
    for (const line of [
      'kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.004",ip_family="IPv4"} 1',
      'kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="internal"} 2',
      'kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="nat"} 10',
      'kubeproxy_sync_proxy_rules_endpoint_changes_total 1',
      'kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family="IPv4"} 18',
      'kubeproxy_network_programming_duration_seconds_bucket{le="2",ip_family="IPv4"} 1',
      'kubeproxy_proxy_livez_total{code="503"} 1',
    ]) {
      assert.ok(text.includes(`${line}\n`), line);
    }
  });

  it('uses the upstream buckets', async () => {
    assert.deepEqual(SYNC_LATENCY_BUCKETS, [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384]);
    assert.equal(NETWORK_PROGRAMMING_BUCKETS.length, 1 + 2 + 59 + 12 + 7);
    assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(0, 5), [0, 0.25, 0.5, 1, 2]);
    assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(61, 64), [59, 60, 65]);
    assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(-8), [115, 120, 150, 180, 210, 240, 270, 300]);
    assert.deepEqual(exponentialBuckets(1, 3, 3), [1, 3, 9]);
    assert.deepEqual(linearBuckets(1, 1, 3), [1, 2, 3]);

    const registry = new Registry();
    const m = createProxyMetrics(registry, { collectDefaultMetrics: false });
    m.networkProgrammingLatency.labels({ ip_family: 'IPv4' }).observe(0.1);
    m.reconcileConntrackFlowsLatency.labels({ ip_family: 'IPv4' }).observe(0.1);
    const text = await registry.metrics();
    const les = (metric: string): string[] =>
      [...text.matchAll(new RegExp(`^${metric}_bucket\\{le="([^"]+)"`, 'gm'))].map((x) => x[1] ?? '');
    assert.deepEqual(les('kubeproxy_network_programming_duration_seconds'), [...NETWORK_PROGRAMMING_BUCKETS.map(String), '+Inf']);
    assert.deepEqual(les('kubeproxy_conntrack_reconciler_sync_duration_seconds'), [...SYNC_LATENCY_BUCKETS.map(String), '+Inf']);
  });

  it('registers only what each mode uses', () => {
    for (const mode of ALL) {
      const registry = new Registry();
      const m = createProxyMetrics(registry, { mode, collectDefaultMetrics: false });
      const names = new Set(registry.getMetricsAsArray().map((x) => x.name));
      const want = new Set(SPECS.filter((s) => s.modes.includes(mode)).map((s) => s.name));
      assert.deepEqual(names, want, mode);
      // Unregistered metrics still work; they are just not served.
      m.nftablesSyncFailuresTotal.labels({ ip_family: 'IPv4' }).inc();
    }
  });

  it('adds process and Node.js metrics on the same registry unless disabled', async () => {
    const registry = new Registry();
    createProxyMetrics(registry);
    const text = await registry.metrics();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^process_start_time_seconds /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('keeps registries separate: no global state', () => {
    const a = new Registry();
    const b = new Registry();
    createProxyMetrics(a, { collectDefaultMetrics: false });
    createProxyMetrics(b, { collectDefaultMetrics: false });
    assert.throws(() => createProxyMetrics(a, { collectDefaultMetrics: false }), /already been registered/);
  });
});
