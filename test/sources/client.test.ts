import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/util/logger.ts';
import { createApiClient, type ApiClientOptions } from '../../src/sources/api/client.ts';
import { ApiError } from '../../src/sources/api/errors.ts';
import { SERVICE_ACCOUNT_DIR } from '../../src/sources/api/kubeconfig.ts';
import { FakeApiServer, NODES, type FakeApiServerOptions } from './fake-apiserver.ts';
import { makePki, type Pki } from './pki.ts';

let tmp = '';
let pki: Pki;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kpts-client-'));
  fs.mkdirSync(path.join(tmp, 'pki'));
  pki = makePki(path.join(tmp, 'pki'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let seq = 0;
function tempDir(): string {
  return fs.mkdtempSync(path.join(tmp, `t${++seq}-`));
}

function writeKubeconfig(dir: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = path.join(dir, 'kubeconfig');
  const cfg = {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'ctx',
    clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  };
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

async function withServer(opts: FakeApiServerOptions, fn: (fake: FakeApiServer) => Promise<void>): Promise<void> {
  const fake = await FakeApiServer.start(opts);
  fake.upsert(NODES, { metadata: { name: 'n1' } });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

function tlsServer(extra: Partial<FakeApiServerOptions> = {}): FakeApiServerOptions {
  return { tls: { key: pki.read(pki.serverKeyFile), cert: pki.read(pki.serverCertFile), ca: pki.read(pki.caFile), requestCert: true }, ...extra };
}

async function get(opts: ApiClientOptions, p = '/api/v1/nodes'): Promise<number> {
  const client = createApiClient(opts, silentLogger());
  try {
    return (await client.request(p)).status;
  } finally {
    client.close();
  }
}

const lastAuth = (fake: FakeApiServer): string | undefined => fake.requests.at(-1)?.headers.authorization;

describe('API client: kubeconfig and auth', () => {
  it('sends the kubeconfig token, our User-Agent and Accept: application/json', async () => {
    await withServer({}, async (fake) => {
      const kubeconfigPath = writeKubeconfig(tempDir(), { server: fake.url }, { token: 'abc' });
      assert.equal(await get({ kubeconfigPath, userAgent: 'kube-proxy-ts/v0 (linux/amd64)' }), 200);
      const req = fake.requests.at(-1);
      assert.equal(req?.headers.authorization, 'Bearer abc');
      assert.equal(req.headers['user-agent'], 'kube-proxy-ts/v0 (linux/amd64)');
      assert.equal(req.headers.accept, 'application/json');
    });
  });

  it('authenticates with a client certificate and verifies the server against the CA (relative paths)', async () => {
    await withServer(tlsServer(), async (fake) => {
      const dir = tempDir();
      for (const f of [pki.caFile, pki.clientCertFile, pki.clientKeyFile]) fs.copyFileSync(f, path.join(dir, path.basename(f)));
      const kubeconfigPath = writeKubeconfig(dir, { server: fake.url, 'certificate-authority': 'ca.crt' },
        { 'client-certificate': 'client.crt', 'client-key': 'client.key' });
      assert.equal(await get({ kubeconfigPath, userAgent: 't' }), 200);
      assert.equal(fake.requests.at(-1)?.clientCertCN, 'system:kube-proxy');

      const noCa = writeKubeconfig(tempDir(), { server: fake.url }, { token: 'x' });
      await assert.rejects(get({ kubeconfigPath: noCa, userAgent: 't' }), (err: unknown) => err instanceof ApiError && err.code === 'API_TRANSPORT');
    });
  });

  it('--master replaces the kubeconfig server and keeps its credentials; --master alone sends none', async () => {
    await withServer({}, async (fake) => {
      const kubeconfigPath = writeKubeconfig(tempDir(), { server: 'http://127.0.0.1:1' }, { token: 'from-kubeconfig' });
      const client = createApiClient({ kubeconfigPath, master: fake.url, userAgent: 't' }, silentLogger());
      assert.equal(client.describe(), fake.url);
      assert.equal((await client.request('/api/v1/nodes')).status, 200);
      client.close();
      assert.equal(lastAuth(fake), 'Bearer from-kubeconfig');
      assert.equal(await get({ master: fake.url, userAgent: 't' }), 200);
      assert.equal(lastAuth(fake), undefined);
    });
  });

  it('reads a kubeconfig tokenFile and trims it', async () => {
    await withServer({}, async (fake) => {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, 'tok'), 'file-token\n');
      const kubeconfigPath = writeKubeconfig(dir, { server: fake.url }, { tokenFile: 'tok' });
      assert.equal(await get({ kubeconfigPath, userAgent: 't' }), 200);
      assert.equal(lastAuth(fake), 'Bearer file-token');
    });
  });

  describe('in-cluster', () => {
    function inCluster(fake: FakeApiServer, token: string): { root: string; tokenFile: string; opts: ApiClientOptions } {
      const root = tempDir();
      const sa = path.join(root, SERVICE_ACCOUNT_DIR);
      fs.mkdirSync(sa, { recursive: true });
      fs.copyFileSync(pki.caFile, path.join(sa, 'ca.crt'));
      const tokenFile = path.join(sa, 'token');
      fs.writeFileSync(tokenFile, token);
      const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(fake.port) };
      return { root, tokenFile, opts: { userAgent: 't', env, inClusterRoot: root } };
    }

    it('re-reads a rotated token when the server answers 401', async () => {
      const valid = new Set(['Bearer token-1']);
      await withServer(tlsServer({ authorize: (req) => valid.has(req.headers.authorization ?? '') }), async (fake) => {
        const ic = inCluster(fake, 'token-1\n');
        const client = createApiClient(ic.opts, silentLogger());
        assert.equal(client.describe(), `https://127.0.0.1:${fake.port}`);
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        assert.equal(lastAuth(fake), 'Bearer token-1');
        fs.writeFileSync(ic.tokenFile, 'token-2');
        valid.clear();
        valid.add('Bearer token-2');
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        assert.deepEqual(fake.requests.slice(-2).map((r) => r.headers.authorization), ['Bearer token-1', 'Bearer token-2']);
        client.close();
      });
    });

    it('re-reads the token file after a minute even without a 401', async (t) => {
      await withServer(tlsServer(), async (fake) => {
        const ic = inCluster(fake, 'token-a');
        const client = createApiClient(ic.opts, silentLogger());
        t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        fs.writeFileSync(ic.tokenFile, 'token-b');
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        assert.equal(lastAuth(fake), 'Bearer token-a', 'cached within the minute');
        t.mock.timers.tick(61_000);
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        assert.equal(lastAuth(fake), 'Bearer token-b');
        client.close();
      });
    });

    it('fails clearly without KUBERNETES_SERVICE_HOST/PORT or without a token', () => {
      assert.throws(() => createApiClient({ userAgent: 't', env: {} }, silentLogger()), (err: unknown) => err instanceof ApiError && err.code === 'API_CONFIG');
      assert.throws(() => createApiClient({ userAgent: 't', env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, inClusterRoot: tempDir() }, silentLogger()),
        (err: unknown) => err instanceof ApiError && err.code === 'API_CONFIG' && err.message.includes('token'));
      assert.throws(() => createApiClient({ userAgent: 't', kubeconfigPath: path.join(tmp, 'missing') }, silentLogger()),
        (err: unknown) => err instanceof ApiError && err.code === 'API_CONFIG');
    });
  });

  describe('exec plugin', () => {
    const script = (): string => {
      const file = path.join(tmp, 'exec-plugin.mjs');
      fs.writeFileSync(file, `import fs from 'node:fs';
const file = process.env.COUNTER_FILE;
const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
fs.writeFileSync(file, String(n));
const expirationTimestamp = new Date(Date.now() + Number(process.env.TTL_MS)).toISOString();
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-' + n, expirationTimestamp } }));
`);
      return file;
    };
    const kubeconfigWithExec = (server: string, ttlMs: number): { kubeconfigPath: string; counter: string } => {
      const dir = tempDir();
      const counter = path.join(dir, 'count');
      const exec = {
        apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script()], interactiveMode: 'Never',
        env: [{ name: 'COUNTER_FILE', value: counter }, { name: 'TTL_MS', value: String(ttlMs) }],
      };
      return { kubeconfigPath: writeKubeconfig(dir, { server }, { exec }), counter };
    };

    it('runs the plugin once while its credential is valid and again when it expired', async () => {
      await withServer({}, async (fake) => {
        const valid = kubeconfigWithExec(fake.url, 3_600_000);
        const c1 = createApiClient({ kubeconfigPath: valid.kubeconfigPath, userAgent: 't' }, silentLogger());
        await c1.request('/api/v1/nodes');
        await c1.request('/api/v1/nodes');
        c1.close();
        assert.deepEqual(fake.requests.slice(-2).map((r) => r.headers.authorization), ['Bearer exec-1', 'Bearer exec-1']);

        const expired = kubeconfigWithExec(fake.url, -1000);
        const c2 = createApiClient({ kubeconfigPath: expired.kubeconfigPath, userAgent: 't' }, silentLogger());
        await c2.request('/api/v1/nodes');
        await c2.request('/api/v1/nodes');
        c2.close();
        assert.deepEqual(fake.requests.slice(-2).map((r) => r.headers.authorization), ['Bearer exec-1', 'Bearer exec-2']);
      });
    });

    it('re-runs the plugin on 401', async () => {
      const valid = new Set(['Bearer exec-2']);
      await withServer({ authorize: (req) => valid.has(req.headers.authorization ?? '') }, async (fake) => {
        const { kubeconfigPath, counter } = kubeconfigWithExec(fake.url, 3_600_000);
        const client = createApiClient({ kubeconfigPath, userAgent: 't' }, silentLogger());
        assert.equal((await client.request('/api/v1/nodes')).status, 200);
        client.close();
        assert.deepEqual(fake.requests.map((r) => r.headers.authorization), ['Bearer exec-1', 'Bearer exec-2']);
        assert.equal(fs.readFileSync(counter, 'utf8'), '2');
      });
    });
  });
});

describe('API client: HTTP', () => {
  it('reports a refused connection as API_TRANSPORT', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    assert.ok(addr !== null && typeof addr !== 'string');
    await new Promise((r) => srv.close(r));
    await assert.rejects(get({ master: `http://127.0.0.1:${addr.port}`, userAgent: 't' }),
      (err: unknown) => err instanceof ApiError && err.code === 'API_TRANSPORT');
  });

  it('stream(): 410 is API_EXPIRED, 429 carries Retry-After', async () => {
    await withServer({}, async (fake) => {
      fake.expiredMode = 'http';
      const client = createApiClient({ master: fake.url, userAgent: 't' }, silentLogger());
      const drain = async (p: string): Promise<unknown> => {
        try {
          for await (const _ of client.stream(p, new AbortController().signal)) { /* drain */ }
          return undefined;
        } catch (err) {
          return err;
        }
      };
      const expired = await drain('/api/v1/nodes?watch=true&resourceVersion=1');
      assert.ok(expired instanceof ApiError && expired.code === 'API_EXPIRED' && expired.status === 410, String(expired));
      fake.failNext(1, 429, 7);
      const limited = await drain('/api/v1/nodes?watch=true');
      assert.ok(limited instanceof ApiError && limited.status === 429 && limited.retryAfterMs === 7000, String(limited));
      client.close();
    });
  });

  it('stream(): splits lines across chunks and multi-byte characters; abort ends quietly', async () => {
    const euro = Buffer.from('€');
    const srv = http.createServer((_req, res) => {
      res.writeHead(200);
      res.write('{"a":1}\n{"b":"');
      res.write(euro.subarray(0, 1));
      setTimeout(() => {
        res.write(Buffer.concat([euro.subarray(1), Buffer.from('"}\n\n{"c":3}')]));
        res.end();
      }, 20);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    assert.ok(addr !== null && typeof addr !== 'string');
    const client = createApiClient({ master: `http://127.0.0.1:${addr.port}`, userAgent: 't' }, silentLogger());
    const lines: string[] = [];
    for await (const l of client.stream('/x', new AbortController().signal)) lines.push(l);
    assert.deepEqual(lines, ['{"a":1}', '{"b":"€"}', '', '{"c":3}']);
    const ctrl = new AbortController();
    const got: string[] = [];
    for await (const l of client.stream('/x', ctrl.signal)) {
      got.push(l);
      ctrl.abort();
    }
    assert.deepEqual(got, ['{"a":1}']);
    client.close();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });
});
