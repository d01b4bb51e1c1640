// Stands in for @kubernetes/client-node's generated API (dist/gen/index.js) when config.js
// imports it; see lean-modules.ts. config.js binds exactly these two names, for
// KubeConfig.makeApiClient, which kube-proxy-ts never calls.

const NOT_LOADED = 'kube-proxy-ts does not load client-node\'s generated API (src/cli/lean-modules.ts)';

export function createConfiguration(): never {
  throw new Error(NOT_LOADED);
}

export function ServerConfiguration(): never {
  throw new Error(NOT_LOADED);
}
