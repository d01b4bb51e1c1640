import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Gauge, Registry } from 'prom-client';
import { CONFIGZ_GROUP, DEFAULT_METRICS_BIND_ADDRESS, MetricsServer } from '../../src/server/metrics-server.ts';
import type { ListeningServer } from '../../src/server/http.ts';
import { createProxyMetrics, type ProxyMetrics } from '../../src/server/metrics.ts';
import { get } from './helpers.ts';

const METRIC_NAMES = [
  'kubeproxy_sync_proxy_rules_duration_seconds',
  'kubeproxy_sync_full_proxy_rules_duration_seconds',
  'kubeproxy_sync_partial_proxy_rules_duration_seconds',
  'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
  'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
  'kubeproxy_network_programming_duration_seconds',
  'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
  'kubeproxy_sync_proxy_rules_endpoint_changes_total',
  'kubeproxy_sync_proxy_rules_service_changes_pending',
  'kubeproxy_sync_proxy_rules_service_changes_total',
  'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
  'kubeproxy_proxy_healthz_total',
  'kubeproxy_proxy_livez_total',
  'kubeproxy_sync_proxy_rules_iptables_restore_failures_total',
  'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total',
  'kubeproxy_sync_proxy_rules_iptables_total',
  'kubeproxy_sync_proxy_rules_iptables_last',
  'kubeproxy_sync_proxy_rules_nftables_sync_failures_total',
  'kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total',
  'kubeproxy_conntrack_reconciler_sync_duration_seconds',
  'kubeproxy_conntrack_reconciler_deleted_entries_total',
];

const CONFIG = { Mode: 'nftables', BindAddress: '', NFTables: { SyncPeriod: '30s', MinSyncPeriod: '1s' } };

/** GET with our own headers (fetch would decode gzip itself). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('MetricsServer over HTTP', () => {
  let metrics: ProxyMetrics;
  let listening: ListeningServer;
  let mode = 'nftables';
  const controller = new AbortController();

  before(async () => {
    metrics = createProxyMetrics(new Registry());
    const server = new MetricsServer({ registry: metrics.registry, proxyMode: () => mode, configz: () => CONFIG });
    listening = await server.listen('127.0.0.1:0', controller.signal);
  });

  after(async () => {
    controller.abort();
    await listening.closed;
  });

  it('defaults to 127.0.0.1:10249', () => {
    assert.equal(DEFAULT_METRICS_BIND_ADDRESS, '127.0.0.1:10249');
  });

  it('serves /metrics with every kube-proxy metric and the process metrics', async () => {
    metrics.syncProxyRulesLatency.labels({ ip_family: 'IPv4' }).observe(0.02);
    metrics.nftablesSyncFailuresTotal.labels({ ip_family: 'IPv6' }).inc();
    const res = await get(`${listening.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    for (const name of METRIC_NAMES) {
      assert.match(res.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(res.text, /^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} 1$/m);
    assert.match(res.text, /^kubeproxy_sync_proxy_rules_nftables_sync_failures_total\{ip_family="IPv6"\} 1$/m);
    assert.match(res.text, /^process_resident_memory_bytes /m);
  });

  it('gzips /metrics when asked', async () => {
    const res = await rawGet(`${listening.url}/metrics`, { 'Accept-Encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(gunzipSync(res.body).toString('utf8'), /^# HELP kubeproxy_proxy_healthz_total /m);
    const plainRes = await rawGet(`${listening.url}/metrics`, { 'Accept-Encoding': 'gzip;q=0, identity' });
    assert.equal(plainRes.headers['content-encoding'], undefined);
  });

  it('serves /healthz as component-base does', async () => {
    let res = await get(`${listening.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    res = await get(`${listening.url}/healthz?verbose`);
    assert.equal(res.text, '[+]ping ok\nhealthz check passed\n');
    res = await get(`${listening.url}/healthz/ping`);
    assert.equal(res.text, 'ok');
  });

  it('serves /proxyMode as plain text', async () => {
    let res = await get(`${listening.url}/proxyMode`);
    assert.equal(res.status, 200);
    assert.equal(res.text, 'nftables');
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    mode = 'iptables';
    res = await get(`${listening.url}/proxyMode`);
    assert.equal(res.text, 'iptables');
  });

  it('serves /configz under the kube-proxy config group', async () => {
    const res = await get(`${listening.url}/configz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const body: unknown = JSON.parse(res.text);
    assert.deepEqual(body, { [CONFIGZ_GROUP]: CONFIG });
    assert.equal(CONFIGZ_GROUP, 'kubeproxy.config.k8s.io');
  });

  it('answers 404 for anything else', async () => {
    for (const path of ['/', '/metricsz', '/proxymode', '/configz/', '/livez']) {
      const res = await get(`${listening.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.text, '404 page not found\n');
    }
  });
});

describe('MetricsServer handler (no socket)', () => {
  it('answers 500 when the configuration cannot be written as JSON', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const server = new MetricsServer({ registry: new Registry(), proxyMode: 'nftables', configz: () => cyclic });
    const res = await server.handle({ method: 'GET', url: '/configz', headers: {} });
    assert.equal(res.status, 500);
    assert.match(String(res.body), /^error marshaling json: /);
  });

  it('answers 500 when gathering metrics fails', async () => {
    const broken = new Registry();
    new Gauge({
      name: 'broken',
      help: 'a collector that fails',
      registers: [broken],
      collect() {
        throw new Error('collector exploded');
      },
    });
    const server = new MetricsServer({ registry: broken, proxyMode: 'nftables', configz: () => ({}) });
    const res = await server.handle({ method: 'GET', url: '/metrics', headers: {} });
    assert.equal(res.status, 500);
    assert.match(String(res.body), /collector exploded/);
  });
});
