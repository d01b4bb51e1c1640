// kube-proxy-ts at and beyond upstream's scalability limits, through the real path: objects
// created in the control plane (its own process) over HTTPS with parallel clients, consumed by
// the API source of the real daemon running in a lab node namespace, programmed into that
// namespace's kernel; every edit timed from the API write to `nft monitor` seeing it.
//
//   npm run bench:scale                           every shape (as root)
//   npm run bench:scale -- --shape 10000x10       one shape (repeat --shape for more)
//
// Shapes default to 1000x10, 10000x10 (upstream's official limit), 5000x50 (250k endpoints)
// and 30000x2. Each shape ends with one line
//   shape 10000x10: full_sync_s=<n> add_service_ms=<n> endpoint_change_ms=<n> churn_p99_ms=<n> rss_mib=<n>
// and its JSON goes to bench/results/scale-<shape>-<label>-<time>.json
// (`npx node bench/scale/chart.ts` draws docs/performance-scale.svg from them). See
// docs/performance.md for what each figure means.

import { parseArgs } from 'node:util';
import { liveLabNamespaces } from '../test/lab/netns.ts';
import { parseShape, type Shape } from './scale/objects.ts';
import { machine, shapeLine, writeRecord } from './scale/report.ts';
import { runShape, type RunOptions } from './scale/run-shape.ts';

const USAGE = `usage: npm run bench:scale -- [options]   (as root)
  --shape SxE          a shape, e.g. 10000x10; repeatable (default: 1000x10 10000x10 5000x50 30000x2)
  --label NAME         tag for the result files (default: run)
  --concurrency N      parallel API clients for bulk creation (default 32)
  --edits N            added services / endpoint changes per minSyncPeriod (default 5; medians)
  --full-repeats N     cold full syncs per shape (default 2; median)
  --churn-rate R       endpoint changes per second during churn (default 20)
  --churn-seconds S    length of the churn (default 60)
  --rounds N           dataplane rounds, paths interleaved (default 3)
  --connects N         TCP handshakes per dataplane path and round, the paths taking turns
                       one handshake at a time (default 2000)
  --bulk-seconds S     length of each throughput transfer (default 3)
  --skip LIST          churn,dataplane
`;

const DEFAULT_SHAPES = ['1000x10', '10000x10', '5000x50', '30000x2'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', multiple: true },
      label: { type: 'string', default: 'run' },
      concurrency: { type: 'string', default: '32' },
      edits: { type: 'string', default: '5' },
      'full-repeats': { type: 'string', default: '2' },
      'churn-rate': { type: 'string', default: '20' },
      'churn-seconds': { type: 'string', default: '60' },
      rounds: { type: 'string', default: '3' },
      connects: { type: 'string', default: '2000' },
      'bulk-seconds': { type: 'string', default: '3' },
      skip: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`the scale benchmark needs root (network namespaces, nft)\n${USAGE}`);
    return 2;
  }
  const shapes: Shape[] = (values.shape ?? DEFAULT_SHAPES).flatMap((s) => s.split(',')).map(parseShape);
  const label = values.label.replace(/[^a-zA-Z0-9_-]/g, '_');
  const opts: RunOptions = {
    concurrency: Number(values.concurrency),
    edits: Number(values.edits),
    fullRepeats: Number(values['full-repeats']),
    churnRate: Number(values['churn-rate']),
    churnSeconds: Number(values['churn-seconds']),
    rounds: Number(values.rounds),
    connects: Number(values.connects),
    bulkSeconds: Number(values['bulk-seconds']),
    skip: new Set(values.skip.split(',').filter((s) => s !== '')),
    log: (line) => { process.stderr.write(`[${new Date().toISOString()}] ${line}\n`); },
  };
  const lines: string[] = [];
  for (const shape of shapes) {
    const startedAt = new Date().toISOString();
    const result = await runShape(shape, opts);
    const path = writeRecord({
      kind: 'kube-proxy-ts/bench-scale/v1', label, startedAt, machine: machine(),
      options: { ...opts, skip: [...opts.skip], log: undefined }, shape: result,
    });
    opts.log(`${shape.name}: results in ${path}`);
    const line = shapeLine(result);
    lines.push(line);
    process.stdout.write(`${line}\n`);
  }
  if (liveLabNamespaces().length > 0) throw new Error(`namespaces left behind: ${liveLabNamespaces().join(', ')}`);
  return 0;
}

process.exitCode = await main();
