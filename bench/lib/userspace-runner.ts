// The userspace dataplane without the daemon around it: UserspaceDataplane with nftables
// redirect and Prometheus metrics (as the daemon wires it), one Service from a synthetic
// snapshot. The bench's `--kube-proxy dataplane` runs this in the proxy-node namespace, e.g. to
// try options the daemon has no flag for yet (threads). Argument: one JSON object (RunnerArgs).
// Prints "ready" once the redirects are in place; SIGTERM closes the dataplane and exits 0
// (so --cpu-prof profiles get written).

import { Registry } from 'prom-client';
import { SpawnNftRunner } from '../../src/dataplanes/nftables/runner.ts';
import { UserspaceDataplane } from '../../src/dataplanes/userspace/userspace-dataplane.ts';
import { createUserspaceMetrics } from '../../src/server/userspace-metrics.ts';
import { createLogger } from '../../src/util/logger.ts';
import { makeEndpoint, makePort, makeSnapshot } from '../../test/dataplanes/nftables/fixtures.ts';

export interface RunnerArgs {
  readonly nodeIP: string;
  readonly clusterIP: string;
  readonly endpointIP: string;
  readonly ports: readonly { readonly name: string; readonly port: number; readonly targetPort: number }[];
  readonly threads: number;
}

function isRunnerArgs(v: unknown): v is RunnerArgs {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['nodeIP'] === 'string' && typeof o['clusterIP'] === 'string' && typeof o['endpointIP'] === 'string'
    && Array.isArray(o['ports']) && typeof o['threads'] === 'number';
}

const parsed: unknown = JSON.parse(process.argv[2] ?? '{}');
if (!isRunnerArgs(parsed)) throw new Error(`bad runner arguments: ${process.argv[2] ?? ''}`);
const args = parsed;
const logger = createLogger({ format: 'json' });
const dp = new UserspaceDataplane({
  logger,
  redirect: { runner: new SpawnNftRunner() },
  nodeIPs: [args.nodeIP],
  metrics: createUserspaceMetrics(new Registry()),
  threads: args.threads,
});
const ports = args.ports.map((p) => [
  makePort('default', 'bench', p.name, (s) => { s.clusterIP = args.clusterIP; s.port = p.port; }),
  [makeEndpoint(args.endpointIP, p.targetPort)],
] as const);
await dp.sync({ full: true, families: [makeSnapshot({ ports })] });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void dp.cleanup().finally(() => dp.close()).finally(() => { process.exit(0); });
});
