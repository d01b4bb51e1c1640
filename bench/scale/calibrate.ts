// The connect probe's noise floor: an A/A run of the dataplane measurement. Both node
// namespaces get the same 10-service reference ruleset (no daemon, no control-plane objects),
// so every ratio it prints would be 1 with a perfect probe; how far it strays is how much of a
// shape's ratio is the probe rather than the rules.
//
//   npx node bench/scale/calibrate.ts [runs=3] [rounds=6] [connects=1000]    (root)

import { measureDataplane } from './dataplane.ts';
import { ScaleEnv } from './env.ts';
import { programReference, REFERENCE_CLUSTER_IP } from './reference.ts';

const [runs = 3, rounds = 6, connects = 1000] = process.argv.slice(2).map(Number);
const env = await ScaleEnv.create(4);
try {
  await programReference(env.small.node);
  await programReference(env.big.node);
  for (let k = 0; k < runs; k++) {
    const r = await measureDataplane({
      referenceNode: env.small.node, referenceClusterIP: REFERENCE_CLUSTER_IP, shapeNode: env.big.node, shapeClusterIP: REFERENCE_CLUSTER_IP,
      shapeServices: 10, rounds, connects, bulkSeconds: 1,
    });
    const c = r.connect;
    process.stdout.write(`A/A run ${String(k + 1)}: paired p50 ratio ${String(c.pairedP50Ratio)}, p50 ratio ${String(c.p50Ratio)} (rounds ${c.roundRatios?.p50.join(' ') ?? ''}), p99 ratio ${String(c.p99Ratio)}, pooled p50 / p99 ratio ${String(c.pooled?.p50Ratio)} / ${String(c.pooled?.p99Ratio)}; p50 µs ${String(c.p50us.reference)} / ${String(c.p50us.shape)}\n`);
  }
} finally {
  await env.destroy();
}
