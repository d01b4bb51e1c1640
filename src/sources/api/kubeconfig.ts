// Where the API server is and how to authenticate: a client-node KubeConfig built the way
// upstream kube-proxy builds its rest.Config (cmd/kube-proxy/app/server.go createClient):
//   - neither --kubeconfig nor --master: in-cluster config (rest.InClusterConfig);
//   - otherwise the kubeconfig file (if any) with the server URL replaced by --master
//     (clientcmd ConfigOverrides{ClusterInfo{Server: master}}, as BuildConfigFromFlags does).
// Auth itself (token, token file, client certificates, exec plugins) is client-node's.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
// The module itself, not the package index: the index also loads the generated API client and
// its ≈ 1,000 modules, which kube-proxy-ts does not use (see src/cli/lean-modules.ts).
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Cluster, User } from '@kubernetes/client-node/dist/config_types.js';
import { parse as parseYaml } from 'yaml';
import { ApiError } from './errors.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigSource {
  /** --kubeconfig */
  readonly kubeconfigPath?: string | undefined;
  /** --master: overrides the server URL of the kubeconfig's current cluster. */
  readonly master?: string | undefined;
  /** Environment for in-cluster detection (KUBERNETES_SERVICE_HOST/PORT). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Prefix for the service account directory (tests point it at a temp dir). Default "". */
  readonly inClusterRoot?: string | undefined;
}

export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  readonly cluster: Cluster;
  /** Human-readable origin: "in-cluster", "kubeconfig /path", "master URL". */
  readonly origin: string;
}

/**
 * Builds a fresh KubeConfig. Called again on 401: a new KubeConfig has fresh client-node
 * authenticators, so the token file is re-read and exec plugins re-run (client-node itself
 * re-reads token files only every 60 s and re-runs exec plugins only on expiry).
 */
export function loadKubeConfig(src: KubeConfigSource): LoadedKubeConfig {
  const kubeconfigPath = nonEmpty(src.kubeconfigPath);
  const master = nonEmpty(src.master);
  let kc: KubeConfig;
  let origin: string;
  if (kubeconfigPath === undefined && master === undefined) {
    kc = inClusterConfig(src.env ?? process.env, src.inClusterRoot ?? '');
    origin = 'in-cluster';
  } else if (kubeconfigPath !== undefined) {
    kc = new KubeConfig();
    try {
      kc.loadFromFile(kubeconfigPath);
    } catch (err) {
      throw new ApiError('API_CONFIG', `cannot load kubeconfig ${kubeconfigPath}: ${String(err)}`, { cause: err });
    }
    adoptTokenFiles(kc, kubeconfigPath);
    origin = `kubeconfig ${kubeconfigPath}`;
    if (master !== undefined) {
      overrideServer(kc, master);
      origin += ` (server overridden by --master ${master})`;
    }
  } else {
    kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'master', server: master ?? '', skipTLSVerify: false }, { name: 'default' });
    origin = `master ${master ?? ''}`;
  }
  allowPlainHttp(kc);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new ApiError('API_CONFIG', `${origin}: no current context or its cluster is missing`);
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch (err) {
    throw new ApiError('API_CONFIG', `${origin}: invalid server URL ${JSON.stringify(cluster.server)}`, { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ApiError('API_CONFIG', `${origin}: server URL must be http(s), got ${cluster.server}`);
  }
  if (kc.getCurrentUser() === null) throw new ApiError('API_CONFIG', `${origin}: the current context names no known user`);
  return { kc, cluster, origin };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

/**
 * rest.InClusterConfig: host/port from the environment, CA and a bearer token from the service
 * account directory. The token goes through client-node's token-file authenticator (re-read every
 * 60 s; we also rebuild on 401), like client-go's cached file token source.
 */
function inClusterConfig(env: Readonly<Record<string, string | undefined>>, root: string): KubeConfig {
  const host = nonEmpty(env['KUBERNETES_SERVICE_HOST']);
  const port = nonEmpty(env['KUBERNETES_SERVICE_PORT']);
  if (host === undefined || port === undefined) {
    throw new ApiError('API_CONFIG',
      'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (or pass --kubeconfig / --master)');
  }
  const dir = root === '' ? SERVICE_ACCOUNT_DIR : path.join(root, SERVICE_ACCOUNT_DIR);
  const tokenFile = path.join(dir, 'token');
  const caFile = path.join(dir, 'ca.crt');
  try {
    fs.accessSync(tokenFile, fs.constants.R_OK);
  } catch (err) {
    throw new ApiError('API_CONFIG', `in-cluster: cannot read service account token ${tokenFile}`, { cause: err });
  }
  const hostPart = net.isIPv6(host) ? `[${host}]` : host;
  const cluster: Cluster = { name: 'inCluster', server: `https://${hostPart}:${port}`, skipTLSVerify: false, ...(fs.existsSync(caFile) ? { caFile } : {}) };
  const user: User = { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } };
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(cluster, user);
  return kc;
}

/** Replaces the current cluster's server URL (keeping its CA, TLS server name, proxy). */
function overrideServer(kc: KubeConfig, master: string): void {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (ctx === null) {
    // A kubeconfig without a usable context: clientcmd would still honour the override.
    kc.loadFromClusterAndUser({ name: 'master', server: master, skipTLSVerify: false }, { name: 'default' });
    return;
  }
  const clusters = kc.getClusters().map((c) => (c.name === ctx.cluster ? { ...c, server: master } : c));
  if (!clusters.some((c) => c.name === ctx.cluster)) clusters.push({ name: ctx.cluster, server: master, skipTLSVerify: false });
  kc.loadFromOptions({ clusters, contexts: kc.getContexts(), users: kc.getUsers(), currentContext: kc.getCurrentContext() });
}

/**
 * client-node refuses http:// servers unless skipTLSVerify is set (there is no TLS to verify).
 * client-go allows plain HTTP (e.g. `--master http://127.0.0.1:8080`), so mark such clusters.
 */
function allowPlainHttp(kc: KubeConfig): void {
  const clusters = kc.getClusters();
  if (!clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) return;
  const fixed = clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c));
  kc.loadFromOptions({ clusters: fixed, contexts: kc.getContexts(), users: kc.getUsers(), currentContext: kc.getCurrentContext() });
}

/**
 * kubeconfig `users[].user.tokenFile` (client-go's key) is ignored by client-node's parser;
 * turn it into client-node's token-file auth provider so it is read, and re-read, like in-cluster.
 */
function adoptTokenFiles(kc: KubeConfig, kubeconfigPath: string): void {
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(kubeconfigPath, 'utf8'));
  } catch {
    return; // client-node already parsed it; nothing more to learn.
  }
  const tokenFiles = new Map<string, string>();
  if (typeof raw === 'object' && raw !== null && 'users' in raw && Array.isArray(raw.users)) {
    for (const entry of raw.users as unknown[]) {
      if (typeof entry !== 'object' || entry === null || !('name' in entry) || typeof entry.name !== 'string') continue;
      if (!('user' in entry) || typeof entry.user !== 'object' || entry.user === null) continue;
      const u = entry.user;
      if ('tokenFile' in u && typeof u.tokenFile === 'string' && u.tokenFile !== '') {
        tokenFiles.set(entry.name, path.resolve(path.dirname(kubeconfigPath), u.tokenFile));
      }
    }
  }
  if (tokenFiles.size === 0) return;
  const users = kc.getUsers().map((u): User => {
    const file = tokenFiles.get(u.name);
    const hasToken = u.token !== undefined && u.token !== '';
    const hasExec = u.exec !== undefined && u.exec !== null;
    if (file === undefined || hasToken || hasExec) return u;
    return { ...u, authProvider: { name: 'tokenFile', config: { tokenFile: file } } };
  });
  kc.loadFromOptions({ clusters: kc.getClusters(), contexts: kc.getContexts(), users, currentContext: kc.getCurrentContext() });
}
