import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { HealthServer, DEFAULT_HEALTHZ_BIND_ADDRESS } from '../../src/server/health-server.ts';
import { formatGoTime, type ListeningServer } from '../../src/server/http.ts';
import { createProxyMetrics, type ProxyMetrics } from '../../src/server/metrics.ts';
import { ProxyHealth, healthTimeoutFor } from '../../src/server/proxy-health.ts';
import type { IPFamily, NodeInfo } from '../../src/model/types.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { counterValue, get } from './helpers.ts';

const SECOND = 1000;

function node(overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name: 'test-node',
    labels: new Map(),
    deleting: false,
    toBeDeletedByAutoscaler: false,
    addresses: ['192.168.0.1'],
    podCIDRs: [],
    ...overrides,
  };
}

interface Fixture {
  readonly clock: FakeClock;
  readonly health: ProxyHealth;
  readonly metrics: ProxyMetrics;
  readonly server: HealthServer;
}

function fixture(): Fixture {
  const clock = new FakeClock();
  // syncPeriod 5s → healthTimeout 10s, as in upstream's tests.
  const health = new ProxyHealth({ clock, healthTimeout: healthTimeoutFor(5 * SECOND) });
  const metrics = createProxyMetrics(new Registry(), { collectDefaultMetrics: false });
  const server = new HealthServer({ health, metrics });
  return { clock, health, metrics, server };
}

type Probe = '/healthz' | '/livez';

interface Expect {
  readonly code: 200 | 503;
  readonly lastUpdated: number | undefined;
  readonly healthy: boolean;
  readonly nodeEligible?: boolean;
  readonly status?: Partial<Record<IPFamily, { lastUpdated: number; healthy: boolean }>>;
}

function expectedBody(f: Fixture, probe: Probe, e: Expect): unknown {
  const status = e.status === undefined
    ? undefined
    : Object.fromEntries(Object.entries(e.status).map(([fam, s]) => [fam, { lastUpdated: formatGoTime(s.lastUpdated), healthy: s.healthy }]));
  return {
    lastUpdated: formatGoTime(e.lastUpdated),
    currentTime: formatGoTime(f.clock.now()),
    ...(probe === '/healthz' ? { nodeEligible: e.nodeEligible ?? true } : {}),
    healthy: e.healthy,
    ...(status === undefined ? {} : { status }),
  };
}

/** Ask the handler directly (no socket) and check status, headers and body. */
function check(f: Fixture, probe: Probe, e: Expect, note: string): void {
  const res = f.server.handle({ method: 'GET', url: probe, headers: {} });
  assert.equal(res.status, e.code, `${note}: status`);
  assert.equal(res.headers['Content-Type'], 'application/json');
  assert.equal(res.headers['X-Content-Type-Options'], 'nosniff');
  assert.equal(typeof res.body, 'string');
  assert.deepEqual(JSON.parse(String(res.body)), expectedBody(f, probe, e), `${note}: body`);
}

// Port of upstream testProxyHealthUpdater, run against both probes.
async function proxyHealthUpdaterCases(f: Fixture, probe: Probe): Promise<{ ok: number; fail: number }> {
  let ok = 0;
  let fail = 0;
  const expect = (e: Expect, note: string): void => {
    check(f, probe, e, note);
    if (e.code === 200) ok++;
    else fail++;
  };
  const both = (): number => {
    f.health.updated('IPv4');
    f.health.updated('IPv6');
    return f.clock.now();
  };

  expect({ code: 200, lastUpdated: f.clock.now(), healthy: true }, 'initially');

  let t = both();
  expect({ code: 200, lastUpdated: f.clock.now(), healthy: true, status: { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: true } } }, 'after first updates');

  await f.clock.advance(25 * SECOND);
  expect({ code: 200, lastUpdated: f.clock.now(), healthy: true, status: { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: true } } }, 'nothing queued');

  f.health.queuedUpdate('IPv4');
  await f.clock.advance(25 * SECOND);
  expect({ code: 503, lastUpdated: t, healthy: false, status: { IPv4: { lastUpdated: t, healthy: false }, IPv6: { lastUpdated: t, healthy: true } } }, 'IPv4 late');

  t = both();
  await f.clock.advance(5 * SECOND);
  expect({ code: 200, lastUpdated: f.clock.now(), healthy: true, status: { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: true } } }, 'recovered');

  f.health.queuedUpdate('IPv6');
  await f.clock.advance(25 * SECOND);
  expect({ code: 503, lastUpdated: t, healthy: false, status: { IPv4: { lastUpdated: t, healthy: true }, IPv6: { lastUpdated: t, healthy: false } } }, 'IPv6 late');

  t = both();
  await f.clock.advance(5 * SECOND);
  f.health.queuedUpdate('IPv4');
  f.health.queuedUpdate('IPv6');
  await f.clock.advance(25 * SECOND);
  expect({ code: 503, lastUpdated: t, healthy: false, status: { IPv4: { lastUpdated: t, healthy: false }, IPv6: { lastUpdated: t, healthy: false } } }, 'both late');

  f.health.updated('IPv4');
  const t4 = f.clock.now();
  expect({ code: 503, lastUpdated: t4, healthy: false, status: { IPv4: { lastUpdated: t4, healthy: true }, IPv6: { lastUpdated: t, healthy: false } } }, 'only IPv4 caught up');

  f.health.updated('IPv6');
  expect({ code: 200, lastUpdated: f.clock.now(), healthy: true, status: { IPv4: { lastUpdated: t4, healthy: true }, IPv6: { lastUpdated: f.clock.now(), healthy: true } } }, 'both caught up');
  return { ok, fail };
}

describe('HealthServer handlers (no socket)', () => {
  it('/healthz follows proxier health and counts responses by code', async () => {
    const f = fixture();
    f.health.syncNode(node());
    const { ok, fail } = await proxyHealthUpdaterCases(f, '/healthz');
    assert.equal(await counterValue(f.metrics.proxyHealthzTotal, { code: '200' }), ok);
    assert.equal(await counterValue(f.metrics.proxyHealthzTotal, { code: '503' }), fail);
    assert.equal(await counterValue(f.metrics.proxyLivezTotal, { code: '200' }), 0);
  });

  it('/livez follows proxier health, has no nodeEligible, and counts responses by code', async () => {
    const f = fixture();
    f.health.syncNode(undefined); // livez does not care about the node
    const { ok, fail } = await proxyHealthUpdaterCases(f, '/livez');
    assert.equal(await counterValue(f.metrics.proxyLivezTotal, { code: '200' }), ok);
    assert.equal(await counterValue(f.metrics.proxyLivezTotal, { code: '503' }), fail);
    assert.equal(await counterValue(f.metrics.proxyHealthzTotal, { code: '200' }), 0);
  });

  // Port of the node part of upstream TestHealthzServer / TestLivezServer.
  it('/healthz is 503 with nodeEligible false for ineligible nodes; /livez stays 200', () => {
    const f = fixture();
    f.health.updated('IPv4');
    f.health.updated('IPv6');
    const now = f.clock.now();
    const status = { IPv4: { lastUpdated: now, healthy: true }, IPv6: { lastUpdated: now, healthy: true } };
    const cases: { name: string; node: NodeInfo | undefined; eligible: boolean }[] = [
      { name: 'other taint', node: node(), eligible: true },
      { name: 'ToBeDeletedByClusterAutoscaler', node: node({ toBeDeletedByAutoscaler: true }), eligible: false },
      { name: 'untainted again', node: node(), eligible: true },
      { name: 'deleting', node: node({ deleting: true }), eligible: false },
      { name: 'node unknown', node: undefined, eligible: false },
    ];
    for (const c of cases) {
      f.health.syncNode(c.node);
      check(f, '/healthz', { code: c.eligible ? 200 : 503, lastUpdated: now, healthy: true, nodeEligible: c.eligible, status }, `healthz ${c.name}`);
      check(f, '/livez', { code: 200, lastUpdated: now, healthy: true, status }, `livez ${c.name}`);
    }
  });

  it('writes the body with Go field order and time format', () => {
    const f = fixture();
    f.health.syncNode(node({ deleting: true }));
    let res = f.server.handle({ method: 'GET', url: '/healthz', headers: {} });
    assert.equal(res.body, '{"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2024-01-01T00:00:00Z","nodeEligible":false,"healthy":true}');
    f.health.updated('IPv4');
    res = f.server.handle({ method: 'GET', url: '/livez?x=1', headers: {} });
    assert.equal(res.body, '{"lastUpdated":"2024-01-01T00:00:00Z","currentTime":"2024-01-01T00:00:00Z","healthy":true,"status":{"IPv4":{"lastUpdated":"2024-01-01T00:00:00Z","healthy":true}}}');
  });

  it('answers 404 elsewhere', () => {
    const f = fixture();
    for (const url of ['/', '/healthz/', '/metrics', '/livezz']) {
      const res = f.server.handle({ method: 'GET', url, headers: {} });
      assert.equal(res.status, 404, url);
      assert.equal(res.body, '404 page not found\n');
    }
  });
});

describe('HealthServer over HTTP', () => {
  let f: Fixture;
  let listening: ListeningServer;
  const controller = new AbortController();

  before(async () => {
    f = fixture();
    listening = await f.server.listen('127.0.0.1:0', controller.signal);
  });

  after(async () => {
    controller.abort();
    await listening.closed;
  });

  it('listens on the default address unless told otherwise', () => {
    assert.equal(DEFAULT_HEALTHZ_BIND_ADDRESS, '0.0.0.0:10256');
    assert.equal(listening.address.address, '127.0.0.1');
    assert.ok(listening.address.port > 0);
  });

  it('serves /healthz and /livez: 200, then 503 when stale, 503 on /healthz only for an ineligible node', async () => {
    f.health.syncNode(node());
    f.health.updated('IPv4');
    const synced = f.clock.now();

    for (const path of ['/healthz', '/livez']) {
      const res = await get(`${listening.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const body: unknown = JSON.parse(res.text);
      assert.deepEqual(body, {
        lastUpdated: formatGoTime(f.clock.now()),
        currentTime: formatGoTime(f.clock.now()),
        ...(path === '/healthz' ? { nodeEligible: true } : {}),
        healthy: true,
        status: { IPv4: { lastUpdated: formatGoTime(synced), healthy: true } },
      });
    }

    // A change queued and not synced for 2 × syncPeriod (10s).
    f.health.queuedUpdate('IPv4');
    await f.clock.advance(10 * SECOND - 1);
    assert.equal((await get(`${listening.url}/healthz`)).status, 200, 'not late yet');
    await f.clock.advance(1);
    for (const path of ['/healthz', '/livez']) {
      const res = await get(`${listening.url}${path}`);
      assert.equal(res.status, 503, path);
      const body: unknown = JSON.parse(res.text);
      assert.deepEqual(body, {
        lastUpdated: '2024-01-01T00:00:00Z',
        currentTime: '2024-01-01T00:00:10Z',
        ...(path === '/healthz' ? { nodeEligible: true } : {}),
        healthy: false,
        status: { IPv4: { lastUpdated: '2024-01-01T00:00:00Z', healthy: false } },
      });
    }

    // Synced again: healthy. Then the node is tainted for deletion: healthz 503, livez 200.
    f.health.updated('IPv4');
    assert.equal((await get(`${listening.url}/healthz`)).status, 200);
    f.health.syncNode(node({ toBeDeletedByAutoscaler: true }));
    const healthz = await get(`${listening.url}/healthz`);
    assert.equal(healthz.status, 503);
    const hb: unknown = JSON.parse(healthz.text);
    assert.ok(typeof hb === 'object' && hb !== null);
    assert.equal((hb as Record<string, unknown>)['nodeEligible'], false);
    assert.equal((hb as Record<string, unknown>)['healthy'], true);
    const livez = await get(`${listening.url}/livez`);
    assert.equal(livez.status, 200);
    assert.equal('nodeEligible' in (JSON.parse(livez.text) as object), false);

    f.health.syncNode(node({ deleting: true }));
    assert.equal((await get(`${listening.url}/healthz`)).status, 503);
    assert.equal((await get(`${listening.url}/livez`)).status, 200);

    // Counted by code: healthz 200×3, 503×3; livez 200×3, 503×1.
    assert.equal(await counterValue(f.metrics.proxyHealthzTotal, { code: '200' }), 3);
    assert.equal(await counterValue(f.metrics.proxyHealthzTotal, { code: '503' }), 3);
    assert.equal(await counterValue(f.metrics.proxyLivezTotal, { code: '200' }), 3);
    assert.equal(await counterValue(f.metrics.proxyLivezTotal, { code: '503' }), 1);
    const exposition = await f.metrics.registry.metrics();
    assert.match(exposition, /^kubeproxy_proxy_healthz_total\{code="503"\} 3$/m);
    assert.match(exposition, /^kubeproxy_proxy_livez_total\{code="200"\} 3$/m);
  });

  it('serves HEAD and POST like GET, and 404 elsewhere', async () => {
    f.health.syncNode(node());
    const head = await get(`${listening.url}/livez`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await get(`${listening.url}/livez`, { method: 'POST' })).status, 200);
    const missing = await get(`${listening.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.text, '404 page not found\n');
    assert.equal(missing.headers.get('content-type'), 'text/plain; charset=utf-8');
  });
});

describe('HealthServer listen', () => {
  it('fails with a stable code when the port is taken, and closes on abort', async () => {
    const f = fixture();
    const c1 = new AbortController();
    const first = await f.server.listen('127.0.0.1:0', c1.signal);
    const c2 = new AbortController();
    await assert.rejects(f.server.listen(`127.0.0.1:${first.address.port}`, c2.signal), { code: 'SERVER_LISTEN_FAILED' });
    c1.abort();
    await first.closed;
    await assert.rejects(fetch(`${first.url}/healthz`));
  });
});
