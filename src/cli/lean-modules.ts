// Keeps @kubernetes/client-node's generated API out of the process.
//
// We use client-node for one thing: KubeConfig (kubeconfig and in-cluster loading, and auth:
// tokens, token files, client certificates, exec plugins, OIDC). Its config.js imports
// `./gen/index.js` for `makeApiClient` only, and that index loads the whole generated OpenAPI
// client: ≈ 1,000 modules, ≈ 46 MiB of resident memory in every kube-proxy-ts process
// (test/cli/lean-modules.test.ts measures it). A resolve hook sends that one import to a stub
// that exports the two names config.js binds, and throws if they are ever called (nothing here
// calls makeApiClient). If client-node moves things around, the hook simply does not match and
// the full module loads: more memory, same behaviour.
//
// config.js also imports undici (for the same fetch-based API client): its two classes are
// replaced by constructors that load undici when first used (undici-lazy.ts), ≈ 60 ms less
// start-up, which is part of every restart's time.

import { registerHooks } from 'node:module';

const STUB = new URL('./client-node-gen-stub.ts', import.meta.url).href;
const UNDICI_LAZY = new URL('./undici-lazy.ts', import.meta.url).href;
const CONFIG_MODULE = '/node_modules/@kubernetes/client-node/dist/config.js';

let registered = false;

/** Registers the hook once; call before anything imports client-node. */
export function registerLeanModuleHooks(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (context.parentURL?.endsWith(CONFIG_MODULE) === true) {
        if (specifier === './gen/index.js') return { url: STUB, shortCircuit: true };
        if (specifier === 'undici') return { url: UNDICI_LAZY, shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
  });
}
