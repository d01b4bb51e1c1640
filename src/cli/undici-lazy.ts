// Stands in for the `undici` package when client-node's config.js imports it; see
// lean-modules.ts. config.js binds Agent and ProxyAgent for createDispatcher (the fetch-based
// transport of its generated API). kube-proxy-ts's transport is node:https with
// applyToHTTPSOptions, so nothing here normally runs; if something does construct one, the
// real undici loads then and builds it. Loading undici eagerly was ≈ 60 ms of every start.

import { createRequire } from 'node:module';

type Ctor = new (...args: unknown[]) => object;

let real: { readonly Agent: Ctor; readonly ProxyAgent: Ctor } | undefined;

function undici(): { readonly Agent: Ctor; readonly ProxyAgent: Ctor } {
  real ??= createRequire(import.meta.url)('undici') as { readonly Agent: Ctor; readonly ProxyAgent: Ctor };
  return real;
}

/** `new Agent(opts)`: the real undici Agent. */
export function Agent(...args: unknown[]): object {
  return new (undici().Agent)(...args);
}

/** `new ProxyAgent(opts)`: the real undici ProxyAgent. */
export function ProxyAgent(...args: unknown[]): object {
  return new (undici().ProxyAgent)(...args);
}
