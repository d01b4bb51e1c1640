#!/usr/bin/env node
// The kube-proxy-ts command. All wiring is in main.ts; this file only runs it.
//
// V8's code cache on disk (node:module enableCompileCache, in $NODE_COMPILE_CACHE or the temp
// directory) halves module loading on every start after the first: ~0.9 s → ~0.5 s here, which
// is most of a restart's time without a serving proxy. It must be on before main.ts loads.
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
