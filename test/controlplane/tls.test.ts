import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startControlPlane } from '../../src/controlplane/index.ts';
import { parseListen } from '../../src/controlplane/controlplane.ts';
import { generateCA, generateServingCert } from '../../src/controlplane/tls/certs.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { removeDir, tempDir } from './helpers.ts';

describe('TLS, token and kubeconfig', () => {
  it('generates a CA and a serving certificate that verify', () => {
    const ca = generateCA();
    const caCert = new X509Certificate(ca.certPem);
    assert.equal(caCert.ca, true);
    assert.ok(caCert.verify(createPublicKey(ca.certPem)), 'self-signed');
    const s = generateServingCert(ca, ['127.0.0.1', '::1', 'localhost']);
    const cert = new X509Certificate(s.certPem);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(createPublicKey(ca.certPem)));
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('10.1.2.3'), undefined);
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:6443'), { host: '127.0.0.1', port: 6443 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen(':6443'), { host: '127.0.0.1', port: 6443 });
    assert.throws(() => parseListen('6443'));
  });

  it('persists the CA and token, writes a private kubeconfig, and reuses them after a restart', async () => {
    const dir = await tempDir('tls');
    const dataDir = join(dir, 'data');
    const kubeconfigOut = join(dir, 'out', 'kubeconfig');
    try {
      const cp1 = await startControlPlane({ dataDir, listen: '127.0.0.1:0', kubeconfigOut, logger: silentLogger() });
      assert.match(cp1.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      assert.equal((await stat(kubeconfigOut)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dataDir, 'token'))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dataDir, 'pki', 'ca.key'))).mode & 0o777, 0o600);
      const kc = parse(await readFile(kubeconfigOut, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
      const cluster = kc.clusters[0]?.cluster ?? {};
      assert.equal(cluster['server'], cp1.url);
      assert.equal(Buffer.from(cluster['certificate-authority-data'] ?? '', 'base64').toString(), cp1.caPem);
      assert.equal(kc.users[0]?.user['token'], cp1.token);
      // The CA verifies the server (OpenSSL's own chain verification via node:https).
      const status = await new Promise<number>((resolve, reject) => {
        const r = request(`${cp1.url}/version`, { ca: cp1.caPem, headers: { Authorization: `Bearer ${cp1.token}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        r.on('error', reject);
        r.end();
      });
      assert.equal(status, 200);
      const port = cp1.port;
      await cp1.close();
      const cp2 = await startControlPlane({ dataDir, listen: `127.0.0.1:${String(port)}`, kubeconfigOut, logger: silentLogger() });
      assert.equal(cp2.caPem, cp1.caPem, 'CA reused');
      assert.equal(cp2.token, cp1.token, 'token reused');
      await cp2.close();
    } finally {
      await removeDir(dir);
    }
  });

  it('refuses plain HTTP and untrusted clients cannot verify it', async () => {
    const dir = await tempDir('tls2');
    try {
      const cp = await startControlPlane({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: silentLogger() });
      const err = await new Promise<Error>((resolve) => {
        const r = request(`${cp.url}/version`, { headers: { Authorization: `Bearer ${cp.token}` } }, () => { resolve(new Error('connected')); });
        r.on('error', resolve);
        r.end();
      });
      assert.match(err.message, /self[- ]signed|unable to (get|verify)/i);
      await cp.close();
    } finally {
      await removeDir(dir);
    }
  });
});
