// `kube-proxy-ts control-plane`: runs the embedded API server on its own until SIGINT/SIGTERM.

import { parseArgs } from 'node:util';
import type { Logger } from '../util/logger.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './controlplane.ts';

export const CONTROL_PLANE_USAGE = `Usage: kube-proxy-ts control-plane --data-dir DIR [options]

Runs an embedded Kubernetes-compatible API server (Services, EndpointSlices, Nodes, Namespaces)
over HTTPS with a self-signed CA and a bearer token, and writes a kubeconfig for it.

Options:
  --listen HOST:PORT        address to serve on (default 127.0.0.1:6443)
  --data-dir DIR            where state, certificates and the token live (required)
  --kubeconfig-out FILE     kubeconfig to write (default DIR/kubeconfig)
  --manifests DIR           keep the YAML manifests in DIR applied
  --service-cidr CIDRS      service CIDR(s), comma-separated, one per family (default 10.96.0.0/12)
  --node-port-range RANGE   NodePort range (default 30000-32767)
`;

export function parseControlPlaneArgs(argv: readonly string[], logger: Logger): ControlPlaneOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      'kubeconfig-out': { type: 'string' },
      manifests: { type: 'string' },
      'service-cidr': { type: 'string' },
      'node-port-range': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const dataDir = values['data-dir'];
  if (!dataDir) throw Object.assign(new Error('--data-dir is required'), { code: 'Usage' });
  return {
    dataDir,
    logger,
    listen: values.listen ?? '127.0.0.1:6443',
    ...(values['kubeconfig-out'] ? { kubeconfigOut: values['kubeconfig-out'] } : {}),
    ...(values.manifests ? { manifestsDir: values.manifests } : {}),
    ...(values['service-cidr'] ? { serviceCIDRs: values['service-cidr'].split(',').map((s) => s.trim()).filter((s) => s !== '') } : {}),
    ...(values['node-port-range'] ? { nodePortRange: values['node-port-range'] } : {}),
  };
}

export interface CommandIO {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
}

/** Runs until SIGINT/SIGTERM (or `signal` aborts); returns the process exit code. */
export async function runControlPlaneCommand(argv: readonly string[], logger: Logger, signal?: AbortSignal, io: CommandIO = { out: process.stdout, err: process.stderr }): Promise<number> {
  let opts: ControlPlaneOptions | 'help';
  try {
    opts = parseControlPlaneArgs(argv, logger);
  } catch (err) {
    io.err.write(`error: ${err instanceof Error ? err.message : String(err)}\n\n${CONTROL_PLANE_USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    io.out.write(CONTROL_PLANE_USAGE);
    return 0;
  }
  let cp: ControlPlane;
  try {
    cp = await startControlPlane(opts);
  } catch (err) {
    logger.error({ err }, 'control plane: failed to start');
    return 1;
  }
  io.out.write(`control plane serving at ${cp.url}\nkubeconfig: ${cp.kubeconfigPath}\n  kubectl --kubeconfig ${cp.kubeconfigPath} get services -A\n`);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (signal?.aborted) done();
    signal?.addEventListener('abort', done, { once: true });
  });
  logger.info('control plane: shutting down');
  await cp.close();
  return 0;
}
