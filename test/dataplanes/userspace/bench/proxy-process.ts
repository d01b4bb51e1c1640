// Benchmark helper: runs the userspace dataplane (direct listener on 127.0.0.1:LISTEN) in its
// own process, forwarding to 127.0.0.1:BACKEND. Args: BACKEND LISTEN [ALGORITHM]. Prints
// "ready" and serves until stdin closes.

import { UserspaceDataplane } from '../../../../src/dataplanes/userspace/userspace-dataplane.ts';
import { LOAD_BALANCING_ALGORITHMS, type LoadBalancingAlgorithm } from '../../../../src/model/types.ts';
import { silentLogger } from '../../../../src/util/logger.ts';
import { makeEndpoint, makePort, makeSnapshot } from '../../nftables/fixtures.ts';

const backend = Number(process.argv[2]);
const listen = Number(process.argv[3]);
const algo = process.argv[4] ?? 'round-robin';
const algorithm = LOAD_BALANCING_ALGORITHMS.find((a) => a === algo) satisfies LoadBalancingAlgorithm | undefined;
const dp = new UserspaceDataplane({ logger: silentLogger(), localAddresses: ['127.0.0.1'], algorithm: algorithm ?? 'round-robin', maxConnections: 100_000 });
const sp = makePort('bench', 'svc', 'p', (s) => { s.clusterIP = '127.0.0.1'; s.port = listen; });
await dp.sync({ full: true, families: [makeSnapshot({ ports: [[sp, [makeEndpoint('127.0.0.1', backend)]]] })] });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => { void dp.close().then(() => process.exit(0)); });
