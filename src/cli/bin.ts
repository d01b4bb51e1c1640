#!/usr/bin/env node
// The kube-proxy-ts command. All wiring is in main.ts; this file only runs it.
//
// Two start-up settings that must be in place before main.ts loads:
// - V8's young generation is capped (--max-semi-space-size=8, MiB per semi-space). Node sizes it
//   for throughput, up to 64 MiB semi-spaces on a big machine, and keeps that committed after the
//   bursts of an initial list or a full sync: ~110 MiB of resident memory a node agent does not
//   need (10k Services × 10 endpoints: 440 → 320 MiB here), for no measurable cost in sync time.
//   If this process was not started with the flag it replaces itself (process.execve: same pid,
//   ~50 ms) with one that was; KPT_NO_REEXEC=1, or passing any --max-semi-space-size, avoids it.
// - V8's code cache on disk (node:module enableCompileCache, in $NODE_COMPILE_CACHE or the temp
//   directory) halves module loading on every start after the first: ~0.9 s → ~0.5 s here, which
//   is most of a restart's time without a serving proxy.
// - client-node's generated API is kept out (lean-modules.ts): ≈ 46 MiB less resident memory.
import { enableCompileCache } from 'node:module';
import { registerLeanModuleHooks } from './lean-modules.ts';

const SEMI_SPACE_FLAG = '--max-semi-space-size=8';
const flagged = process.execArgv.some((a) => a.startsWith('--max-semi-space-size')) || (process.env['NODE_OPTIONS'] ?? '').includes('--max-semi-space-size');
const script = process.argv[1];
if (!flagged && process.env['KPT_NO_REEXEC'] !== '1' && script !== undefined && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, SEMI_SPACE_FLAG, ...process.execArgv, script, ...process.argv.slice(2)], process.env);
}

enableCompileCache();
registerLeanModuleHooks();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
