import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { meta, spec, startTestPlane, str, svc, type TestPlane } from './helpers.ts';

const SVC = '/api/v1/namespaces/default/services';

describe('API server over HTTPS', () => {
  let t: TestPlane;
  before(async () => { t = await startTestPlane(); });
  after(async () => { await t.stop(); });

  it('requires the bearer token on every request (401 Status)', async () => {
    for (const path of ['/api', '/version', '/healthz', SVC]) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const r = request(`${t.cp.url}${path}`, { ca: t.cp.caPem, headers: { Authorization: 'Bearer wrong' } }, (rs) => {
          let body = '';
          rs.on('data', (c: Buffer) => { body += c.toString(); });
          rs.on('end', () => { resolve({ status: rs.statusCode ?? 0, body }); });
        });
        r.on('error', reject);
        r.end();
      });
      assert.equal(res.status, 401, path);
      assert.deepEqual(JSON.parse(res.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }
  });

  it('serves version, health and discovery (legacy and aggregated)', async () => {
    assert.equal((await t.client.get('/version')).json()['major'], '1');
    assert.equal((await t.client.get('/healthz')).text, 'ok');
    assert.equal((await t.client.get('/readyz')).text, 'ok');
    assert.equal((await t.client.get('/livez')).status, 200);
    const api = (await t.client.get('/api')).json();
    assert.deepEqual(api['versions'], ['v1']);
    const v1 = (await t.client.get('/api/v1')).json();
    const names = (v1['resources'] as { name: string }[]).map((r) => r.name);
    assert.deepEqual(names.sort(), ['namespaces', 'namespaces/status', 'nodes', 'nodes/status', 'services', 'services/status']);
    const groups = (await t.client.get('/apis')).json();
    assert.equal((groups['groups'] as { name: string }[])[0]?.name, 'discovery.k8s.io');
    assert.equal((await t.client.get('/apis/discovery.k8s.io')).json()['kind'], 'APIGroup');
    const disc = (await t.client.get('/apis/discovery.k8s.io/v1')).json();
    assert.equal((disc['resources'] as { name: string }[])[0]?.name, 'endpointslices');
    const agg = await t.client.get('/api', { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    assert.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    assert.equal(agg.json()['kind'], 'APIGroupDiscoveryList');
  });

  it('serves OpenAPI v3 (with merge keys and fieldValidation) and v2', async () => {
    const idx = (await t.client.get('/openapi/v3')).json() as { paths: Record<string, { serverRelativeURL: string }> };
    const url = idx.paths['api/v1']?.serverRelativeURL ?? '';
    const doc = (await t.client.get(url)).json() as { paths: Record<string, Record<string, { parameters?: { name: string }[] }>>; components: { schemas: Record<string, { properties?: Record<string, Record<string, unknown>> }> } };
    const patchOp = doc.paths['/api/v1/namespaces/{namespace}/services/{name}']?.['patch'];
    assert.ok(patchOp?.parameters?.some((p) => p.name === 'fieldValidation'));
    const ports = doc.components.schemas['io.k8s.api.core.v1.ServiceSpec']?.properties?.['ports'];
    assert.equal(ports?.['x-kubernetes-patch-merge-key'], 'port');
    assert.equal(ports['x-kubernetes-patch-strategy'], 'merge');
    const v2 = await t.client.get('/openapi/v2', { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
    assert.equal(v2.status, 200);
    assert.equal((await t.client.get('/openapi/v2')).json()['swagger'], '2.0');
  });

  it('answers JSON to clients that ask for protobuf with a JSON fallback, 406 without one', async () => {
    const ok = await t.client.get('/api/v1/namespaces', { Accept: 'application/vnd.kubernetes.protobuf, application/json' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.equal(ok.json()['kind'], 'NamespaceList');
    const no = await t.client.get('/api/v1/namespaces', { Accept: 'application/vnd.kubernetes.protobuf' });
    assert.equal(no.status, 406);
    assert.equal(no.json()['reason'], 'NotAcceptable');
  });

  it('creates, gets, updates (409 on a stale resourceVersion) and deletes', async () => {
    const c = await t.client.post(SVC, svc('crud'));
    assert.equal(c.status, 201);
    const created = c.json();
    const rv = String(meta(created)['resourceVersion']);
    assert.equal((await t.client.post(SVC, svc('crud'))).json()['reason'], 'AlreadyExists');
    const got = (await t.client.get(`${SVC}/crud`)).json();
    assert.deepEqual(got, created);
    const upd = { ...created, spec: { ...spec(created), selector: { app: 'x' } } };
    const u = await t.client.put(`${SVC}/crud`, upd);
    assert.equal(u.status, 200);
    assert.notEqual(meta(u.json())['resourceVersion'], rv);
    assert.equal(meta(u.json())['generation'], 2);
    const stale = await t.client.put(`${SVC}/crud`, upd);
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.json(), {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'Operation cannot be fulfilled on services "crud": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict', details: { name: 'crud', kind: 'services' }, code: 409,
    });
    const noop = await t.client.patch(`${SVC}/crud`, { spec: { selector: { app: 'x' } } }, 'application/merge-patch+json');
    assert.equal(meta(noop.json())['resourceVersion'], meta(u.json())['resourceVersion'], 'a no-op patch does not write');
    const d = await t.client.delete(`${SVC}/crud`);
    assert.equal(d.status, 200);
    assert.equal(d.json()['kind'], 'Service');
    const gone = await t.client.get(`${SVC}/crud`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'services "crud" not found', reason: 'NotFound', details: { name: 'crud', kind: 'services' }, code: 404 });
  });

  it('answers 404/405/415/400 with Status objects', async () => {
    const nf = await t.client.get('/api/v1/pods');
    assert.equal(nf.status, 404);
    assert.equal(nf.json()['kind'], 'Status');
    const mna = await t.client.req('PUT', SVC, svc('x'));
    assert.equal(mna.status, 405);
    assert.equal(mna.json()['reason'], 'MethodNotAllowed');
    const bad = await t.client.req('POST', SVC, '{not json');
    assert.equal(bad.status, 400);
    await t.client.post(SVC, svc('p'));
    const ssa = await t.client.patch(`${SVC}/p`, 'x: y', 'application/apply-patch+yaml');
    assert.equal(ssa.status, 415);
    const badSel = await t.client.get(`${SVC}?labelSelector=${encodeURIComponent('a in (')}`);
    assert.equal(badSel.status, 400);
    const badField = await t.client.get(`${SVC}?fieldSelector=spec.foo%3Dbar`);
    assert.equal(badField.status, 400);
    assert.match(String(badField.json()['message']), /field label not supported: spec.foo/);
  });

  it('lists with label and field selectors, across namespaces, with pagination', async () => {
    await t.client.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sel' } });
    for (let i = 0; i < 7; i++) {
      await t.client.post('/api/v1/namespaces/sel/services', svc(`s${String(i)}`, { labels: { idx: String(i), parity: i % 2 ? 'odd' : 'even' } }));
    }
    const names = async (q: string): Promise<string[]> => ((await t.client.get(`/api/v1/namespaces/sel/services?${q}`)).json()['items'] as Record<string, unknown>[]).map((o) => String(meta(o)['name']));
    assert.deepEqual(await names('labelSelector=parity%3Dodd'), ['s1', 's3', 's5']);
    assert.deepEqual(await names('labelSelector=parity!%3Dodd,idx%20notin%20(0,2)'), ['s4', 's6']);
    assert.deepEqual(await names('labelSelector=idx%20in%20(1,2)'), ['s1', 's2']);
    assert.deepEqual(await names('labelSelector=!parity'), []);
    assert.deepEqual(await names('labelSelector=parity'), ['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
    assert.deepEqual(await names('fieldSelector=metadata.name%3Ds3'), ['s3']);
    assert.deepEqual(await names('fieldSelector=metadata.name!%3Ds3,metadata.namespace%3Dsel&labelSelector=parity%3Dodd'), ['s1', 's5']);
    const all = (await t.client.get('/api/v1/services?labelSelector=parity')).json();
    assert.equal((all['items'] as unknown[]).length, 7);
    assert.equal(all['kind'], 'ServiceList');
    // Pagination.
    const seen: string[] = [];
    let cont = '';
    let pages = 0;
    do {
      const page = (await t.client.get(`/api/v1/namespaces/sel/services?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`)).json();
      seen.push(...(page['items'] as Record<string, unknown>[]).map((o) => String(meta(o)['name'])));
      cont = str((page['metadata'] as Record<string, unknown>)['continue'] ?? '');
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
  });

  it('streams a long list in pieces (chunked), items in order, one valid document', async () => {
    await t.client.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'long' } });
    const n = 600;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => t.client.post('/api/v1/namespaces/long/services', svc(`l${String(i + j).padStart(4, '0')}`))));
    }
    const res = await t.client.get('/api/v1/namespaces/long/services');
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['content-length'], undefined);
    const list = res.json();
    assert.equal(list['kind'], 'ServiceList');
    assert.match(str((list['metadata'] as Record<string, unknown>)['resourceVersion']), /^\d+$/);
    const names = (list['items'] as Record<string, unknown>[]).map((o) => String(meta(o)['name']));
    assert.deepEqual(names, Array.from({ length: n }, (_, i) => `l${String(i).padStart(4, '0')}`));
    // A short one is still sent whole, with its length.
    const short = await t.client.get('/api/v1/namespaces/long/services?limit=5');
    assert.equal(short.headers['content-length'], String(Buffer.byteLength(short.text)));
    assert.equal((short.json()['items'] as unknown[]).length, 5);
  });

  it('serves Table and PartialObjectMetadata renderings', async () => {
    await t.client.post(SVC, svc('tbl', {}, { type: 'NodePort', ports: [{ port: 80, nodePort: 30123 }], selector: { app: 'tbl' } }));
    const tbl = (await t.client.get(`${SVC}/tbl`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' })).json();
    assert.equal(tbl['kind'], 'Table');
    assert.deepEqual((tbl['columnDefinitions'] as { name: string }[]).map((c) => c.name), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector']);
    const cells = (tbl['rows'] as { cells: string[] }[])[0]?.cells ?? [];
    assert.deepEqual([cells[0], cells[1], cells[3], cells[4], cells[6]], ['tbl', 'NodePort', '<none>', '80:30123/TCP', 'app=tbl']);
    const pm = (await t.client.get(SVC, { Accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json' })).json();
    assert.equal(pm['kind'], 'PartialObjectMetadataList');
  });

  it('honours dryRun=All and DELETE preconditions', async () => {
    const dry = await t.client.post(`${SVC}?dryRun=All`, svc('dry'));
    assert.equal(dry.status, 201);
    assert.equal((await t.client.get(`${SVC}/dry`)).status, 404);
    const c = (await t.client.post(SVC, svc('pre'))).json();
    const conflict = await t.client.delete(`${SVC}/pre`, { preconditions: { uid: 'other' } });
    assert.equal(conflict.status, 409);
    const dryDel = await t.client.delete(`${SVC}/pre?dryRun=All`);
    assert.equal(dryDel.status, 200);
    assert.equal((await t.client.get(`${SVC}/pre`)).status, 200);
    assert.equal((await t.client.delete(`${SVC}/pre`, { preconditions: { uid: meta(c)['uid'] } })).status, 200);
  });

  it('returns a Success Status when deleting an EndpointSlice, and keeps objects with finalizers until they are removed', async () => {
    const es = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
    await t.client.post(es, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e1', finalizers: ['example.com/hold'] }, addressType: 'IPv4', endpoints: [] });
    const d1 = (await t.client.delete(`${es}/e1`)).json();
    assert.ok(meta(d1)['deletionTimestamp'], 'marked for deletion');
    assert.equal((await t.client.get(`${es}/e1`)).status, 200);
    await t.client.patch(`${es}/e1`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
    assert.equal((await t.client.get(`${es}/e1`)).status, 404);
    await t.client.post(es, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e2' }, addressType: 'IPv4' });
    const d2 = (await t.client.delete(`${es}/e2`)).json();
    assert.equal(d2['kind'], 'Status');
    assert.equal(d2['status'], 'Success');
  });

  it('deletes a namespace with its contents, but not the system ones', async () => {
    await t.client.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tmp' } });
    await t.client.post('/api/v1/namespaces/tmp/services', svc('x'));
    assert.equal((await t.client.delete('/api/v1/namespaces/tmp')).status, 200);
    assert.equal((await t.client.get('/api/v1/namespaces/tmp/services/x')).status, 404);
    const forbidden = await t.client.delete('/api/v1/namespaces/default');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json()['message'], 'namespaces "default" is forbidden: this namespace may not be deleted');
  });

  it('updates status only through the status subresource', async () => {
    const c = (await t.client.post(SVC, svc('lb', {}, { type: 'LoadBalancer' }))).json();
    const viaMain = await t.client.patch(`${SVC}/lb`, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } } }, 'application/merge-patch+json');
    assert.deepEqual(viaMain.json()['status'], { loadBalancer: {} });
    const viaStatus = await t.client.patch(`${SVC}/lb/status`, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } } }, 'application/merge-patch+json');
    assert.deepEqual(viaStatus.json()['status'], { loadBalancer: { ingress: [{ ip: '192.0.2.50', ipMode: 'VIP' }] } });
    assert.deepEqual(spec(viaStatus.json()), spec(c));
  });

  it('rejects unknown fields with fieldValidation=Strict and warns by default', async () => {
    const strict = await t.client.post(`${SVC}?fieldValidation=Strict`, { ...svc('uf'), extra: 1 });
    assert.equal(strict.status, 400);
    assert.match(String(strict.json()['message']), /strict decoding error: unknown field "extra"/);
    const warn = await t.client.post(SVC, { ...svc('uf'), extra: 1 });
    assert.equal(warn.status, 201);
    assert.match(String(warn.headers['warning']), /299 - "unknown field \\"extra\\""/);
    assert.equal(warn.json()['extra'], undefined, 'unknown fields are dropped');
  });
});
