#!/usr/bin/env node
// The kube-proxy-ts command. All wiring is in main.ts; this file only runs it.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2), process.env);
