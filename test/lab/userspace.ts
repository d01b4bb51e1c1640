// Helpers for running the lab with kube-proxy-ts in userspace mode (--proxy-mode=userspace):
// Services with a balancing algorithm annotation, the source address the userspace proxy
// connects to a pod from, and its per-endpoint metrics.

import type { LoadBalancingAlgorithm } from '../../src/model/types.ts';
import { ANNOTATION_LOAD_BALANCING_ALGORITHM } from '../../src/model/decode/service.ts';
import type { Lab, LabNode } from './lab.ts';
import { service, type ServiceSpec } from './objects.ts';
import { DeployedService, writeEndpoints, type EndpointInput } from './workloads.ts';

/** kube-proxy-ts flags for userspace mode (as root the lab's proxies redirect with nftables). */
export const USERSPACE_ARGS = ['--proxy-mode', 'userspace'] as const;

/** A Service with `algorithm` in its annotation (none: the --userspace-algorithm default), its slices, settled. */
export async function deployWithAlgorithm(lab: Lab, namespace: string, name: string, algorithm: LoadBalancingAlgorithm | undefined,
  spec: ServiceSpec, endpoints: readonly EndpointInput[]): Promise<DeployedService> {
  const obj = service(namespace, name, spec);
  if (algorithm !== undefined) obj.metadata.annotations = { [ANNOTATION_LOAD_BALANCING_ALGORITHM]: algorithm };
  const svc = new DeployedService(await lab.api.create(obj));
  await writeEndpoints(lab.api, svc, endpoints);
  await lab.settle();
  return svc;
}

/** Sets (or, with null, removes) a Service's algorithm annotation and settles. */
export async function setAlgorithm(lab: Lab, svc: DeployedService, algorithm: LoadBalancingAlgorithm | null): Promise<void> {
  await lab.api.patch('Service', svc.namespace, svc.name, { metadata: { annotations: { [ANNOTATION_LOAD_BALANCING_ALGORITHM]: algorithm } } });
  await lab.settle();
}

/**
 * The address node `node` sends from towards `ip` (`ip route get`): what a pod sees as the
 * client of a connection the node's userspace proxy opened to it.
 */
export async function sourceTowards(node: LabNode, ip: string): Promise<string> {
  const out = await node.ns.run('ip', ['route', 'get', ip]);
  const src = /\bsrc (\S+)/.exec(out)?.[1];
  if (src === undefined) throw new Error(`${node.name}: no source address in "ip route get ${ip}": ${out}`);
  return src;
}

/** kubeproxy_userspace_connect_failures_total of one endpoint ("ip:port") of a service port ("ns/name:port/TCP"), on one node. */
export async function connectFailures(node: LabNode, servicePort: string, endpoint: string): Promise<number> {
  const m = await node.proxy.metrics();
  return m.get(`kubeproxy_userspace_connect_failures_total{service="${servicePort}",endpoint="${endpoint}"}`) ?? 0;
}
