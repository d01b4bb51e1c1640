// The kubeconfig clients use to reach the control plane: server URL, the CA inline
// (certificate-authority-data) and the bearer token. Written atomically, mode 0600.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { atomicWrite } from './storage/fsutil.ts';

export const CONTEXT_NAME = 'kube-proxy-ts';

export function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT_NAME, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME, namespace: 'default' } }],
    'current-context': CONTEXT_NAME,
    users: [{ name: CONTEXT_NAME, user: { token } }],
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, server: string, caPem: string, token: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await atomicWrite(path, kubeconfigYaml(server, caPem, token), 0o600);
}
