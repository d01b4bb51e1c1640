// The embedded default: with no cluster, kube-proxy-ts starts its own Kubernetes-compatible
// control plane and then consumes it over HTTPS through the same API source as a real cluster.
// With no kubelet here, we also register our own Node (as a kubelet would), so that health
// checks see an eligible node and NodePorts know the node's addresses.

import https from 'node:https';
import type { ControlPlane } from '../controlplane/index.ts';
import type { Logger } from '../util/logger.ts';

/** The plane is on this host: an answer takes milliseconds. No answer (loopback down): give up. */
const SEND_TIMEOUT_MS = 10_000;

function send(cp: ControlPlane, method: string, path: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const url = new URL(path, cp.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      ca: cp.caPem,
      headers: { Authorization: `Bearer ${cp.token}`, 'Content-Type': contentType, Accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(SEND_TIMEOUT_MS, () => {
      const err: NodeJS.ErrnoException = new Error(`${method} ${url.href}: no answer within ${String(SEND_TIMEOUT_MS)} ms`);
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    });
    req.end(payload);
  });
}

/** Create our Node, or refresh its addresses if it exists (like a kubelet's registration). */
export async function registerNode(cp: ControlPlane, nodeName: string, addresses: readonly string[], logger: Logger): Promise<void> {
  const status = { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) };
  const created = await send(cp, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName }, status });
  if (created.status === 201 || created.status === 200) {
    logger.info({ node: nodeName, addresses }, 'registered our Node in the embedded control plane');
    return;
  }
  if (created.status !== 409) throw new Error(`registering Node ${nodeName} failed: HTTP ${created.status}: ${created.text}`);
  const patched = await send(cp, 'PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}/status`, { status }, 'application/merge-patch+json');
  if (patched.status === 404 || patched.status === 405) {
    // No status subresource: patch the object itself.
    const again = await send(cp, 'PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}`, { status }, 'application/merge-patch+json');
    if (again.status !== 200) throw new Error(`updating Node ${nodeName} failed: HTTP ${again.status}: ${again.text}`);
  } else if (patched.status !== 200) {
    throw new Error(`updating Node ${nodeName} failed: HTTP ${patched.status}: ${patched.text}`);
  }
}
