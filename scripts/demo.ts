// `npm run demo` (as root): a small cluster in network namespaces — two nodes running
// kube-proxy-ts against one control plane, the pods examples/my-service.yaml points at, and a
// client outside the nodes — then `kubectl apply -f examples/` and 100 requests to the
// ClusterIP, counted per pod. Runs until Ctrl-C, then removes everything it created.
// `--once` prints the summary and exits (0 when every request succeeded and every pod served).
//
// Nothing outside the demo's own namespaces is changed: see test/lab/ (the same lab the
// end-to-end tests use).

import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Hit } from '../test/lab/agent-protocol.ts';
import { Lab } from '../test/lab/lab.ts';
import { leaveSignalsToCaller } from '../test/lab/netns.ts';
import type { KubeObject, Service } from '../test/lab/objects.ts';

const run = promisify(execFile);
const EXAMPLES = join(import.meta.dirname, '../examples');
const REQUESTS = 100;
// The pods my-service.yaml's EndpointSlice lists: 10.244.1.5 on node-1, 10.244.2.7 on node-2.
const PODS = [{ node: 1, host: 5, name: 'my-app-1' }, { node: 2, host: 7, name: 'my-app-2' }];
const PORT = 9376;

const once = process.argv.includes('--once');
const color = process.stdout.isTTY;
const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (color ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = ''): void => { process.stdout.write(`${s}\n`); };

function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/** `kubectl apply -f examples/` as a user would; through the API client if kubectl is missing. */
async function applyExamples(lab: Lab): Promise<void> {
  const kubeconfig = lab.cp.plane.kubeconfigPath;
  if (hasKubectl()) {
    say(bold(`$ kubectl --kubeconfig ${kubeconfig} apply -f examples/`));
    // Asynchronously: the control plane runs in this process and must keep serving.
    const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(lab.dir, 'kube-cache'), 'apply', '-f', EXAMPLES]);
    say(stdout.trimEnd());
    return;
  }
  say(dim('(kubectl not found: applying examples/ through the API directly)'));
  for (const file of readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8'))) {
      const obj = doc.toJS() as KubeObject | null;
      if (obj === null) continue;
      obj.metadata.namespace ??= 'default';
      await lab.api.apply(obj);
      say(`${obj.kind.toLowerCase()}/${obj.metadata.name} applied`);
    }
  }
}

function table(hits: readonly Hit[], lab: Lab): { text: string; ok: boolean } {
  const counts = new Map<string, number>();
  let failed = 0;
  for (const h of hits) {
    if (h.ok) counts.set(h.pod, (counts.get(h.pod) ?? 0) + 1);
    else failed++;
  }
  const rows = lab.pods.map((p) => {
    const n = counts.get(p.name) ?? 0;
    return `  ${p.name.padEnd(10)} ${p.ip().padEnd(12)} ${p.nodeName.padEnd(8)} ${String(n).padStart(4)}  ${'#'.repeat(Math.round(n / 2))}`;
  });
  const header = `  ${'pod'.padEnd(10)} ${'IP'.padEnd(12)} ${'node'.padEnd(8)} ${'reqs'.padStart(4)}`;
  if (failed > 0) rows.push(`  ${'failed'.padEnd(32)} ${String(failed).padStart(4)}`);
  const ok = failed === 0 && lab.pods.every((p) => (counts.get(p.name) ?? 0) > 0);
  return { text: [header, ...rows].join('\n'), ok };
}

async function main(): Promise<number> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('The demo builds network namespaces: run it as root (sudo npm run demo).\n');
    return 1;
  }
  leaveSignalsToCaller();
  say(bold('kube-proxy-ts demo') + dim(' — building the lab (namespaces, control plane, kube-proxy-ts on each node)…'));
  const started = Date.now();
  const lab = await Lab.create({ nodes: 2, pods: PODS, tcpPorts: [PORT], udpPorts: [], extraClientAddresses: 0 });
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    say(dim('\ncleaning up: stopping kube-proxy-ts, the pods and the control plane, deleting the namespaces…'));
    await lab.destroy();
    say('done: nothing left behind.');
  })());
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', () => { resolve(); });
    process.once('SIGTERM', () => { resolve(); });
  });
  try {
    say(`lab ${lab.id} up in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
    for (const n of lab.nodes) say(`  ${n.name}  ${n.ip()}  ${n.zone}  kube-proxy-ts pid ${String(n.proxy.pid)}  (netns ${n.ns.name})`);
    for (const p of lab.pods) say(`  pod ${p.name}  ${p.ip()} on ${p.nodeName}, serving TCP ${PORT}`);
    say(`  client     ${lab.clientIP()}  (netns ${lab.network.client.name}, outside the nodes)`);
    say(`  control plane ${lab.cp.url}  kubeconfig ${lab.cp.plane.kubeconfigPath}`);
    say();
    await applyExamples(lab);
    await lab.settle();
    const svc: Service = await lab.api.get('Service', 'default', 'my-service');
    const ip = svc.spec.clusterIP ?? '';
    const port = svc.spec.ports?.[0]?.port ?? 80;
    say();
    say(`my-service has ClusterIP ${bold(ip)}; kube-proxy-ts programmed it on every node, e.g. node-1's nftables:`);
    for (const n of lab.nodes) {
      const map = await lab.nft(n.index, ['list', 'map', 'ip', 'kube-proxy', 'service-ips']);
      const element = new RegExp(`${ip.replaceAll('.', '\\.')} \\. tcp \\. \\d+ : goto [^,}\\s]+`).exec(map)?.[0] ?? '(not found)';
      say(dim(`  ${n.name}: service-ips  ${element}`));
    }
    say();
    say(bold(`$ ip netns exec ${lab.network.client.name} curl http://${ip}:${port}/`));
    const curl = await lab.network.client.exec('curl', ['-s', '-m', '3', `http://${ip}:${port}/`]);
    say(curl.stdout.trim());
    say(dim('  (the pod that answered, the source address it saw — the node\'s: traffic from outside the cluster'));
    say(dim('   to a ClusterIP is masqueraded — and the pod port that served it)'));
    say();
    say(`${REQUESTS} requests from the client to ${ip}:${port}, each a new connection:`);
    const hits = await lab.client.batch('tcp', ip, port, REQUESTS, { concurrency: 4 });
    const t = table(hits, lab);
    say(t.text);
    say();
    if (once) return t.ok ? 0 : 1;
    say(`Try it yourself: ${bold(`sudo ip netns exec ${lab.network.client.name} curl http://${ip}:${port}/`)}`);
    say(`            or: ${bold(`kubectl --kubeconfig ${lab.cp.plane.kubeconfigPath} get svc,endpointslices`)}`);
    say(`Logs of kube-proxy-ts: ${lab.dir}/node-1.log, node-2.log. ${bold('Ctrl-C')} stops everything and cleans up.`);
    await stop;
    return 0;
  } finally {
    await cleanup();
  }
}

main().then((code) => { process.exit(code); }, (err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
