// The API source: Services, EndpointSlices and our own Node from a Kubernetes API server, each
// through its own reflector (./reflector.ts), all three running until the signal aborts.

import type { ProxyHandlers, Source } from '../handlers.ts';
import type { Logger } from '../../util/logger.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import type { ApiClient } from './client.ts';
import { createReachabilityProbe, type ReachabilityProbe } from './backoff.ts';
import { Reflector, type ReflectorObserver, type ReflectorSink, type ReflectorTuning } from './reflector.ts';
import { endpointSlicesResource, nodeResource, serviceCIDRsResource, servicesResource, type ServiceSelectorOptions } from './resources.ts';

export interface ApiSourceOptions {
  readonly client: ApiClient;
  /** Our node's name: its Node object is watched (labels for topology, deletion/taints for health). */
  readonly nodeName: string;
  readonly logger: Logger;
  readonly clock?: Clock | undefined;
  readonly random?: (() => number) | undefined;
  /** Counters for metrics (lists, watch restarts, errors, invalid objects). */
  readonly observer?: ReflectorObserver | undefined;
  readonly tuning?: Partial<ReflectorTuning> | undefined;
  readonly services?: ServiceSelectorOptions | undefined;
  /**
   * Probe used to end backoff waits early when the server returns. Default: GET /readyz through
   * `client`; `false` disables early wake (pure client-go backoff).
   */
  readonly probe?: ReachabilityProbe | false | undefined;
  /**
   * Also watch ServiceCIDRs (the cluster's Service ranges), when the handlers take them; an API
   * server that does not serve them is not asked again. Default false.
   */
  readonly serviceCIDRs?: boolean | undefined;
}

export interface ResourceStatus {
  readonly synced: boolean;
  readonly resourceVersion: string;
  readonly objects: number;
}

export class ApiSource implements Source {
  private readonly opts: ApiSourceOptions;
  private reflectors: { readonly name: string; readonly reflector: Reflector }[] = [];

  constructor(opts: ApiSourceOptions) {
    if (opts.nodeName === '') throw new RangeError('ApiSource: nodeName must not be empty');
    this.opts = opts;
  }

  async run(handlers: ProxyHandlers, signal: AbortSignal): Promise<void> {
    const o = this.opts;
    const clock = o.clock ?? systemClock;
    const probe = o.probe === false ? undefined : (o.probe ?? createReachabilityProbe(o.client, { clock }));
    const sinks: [ReturnType<typeof servicesResource>, ReflectorSink][] = [
      [servicesResource(o.services), {
        add: (x) => { handlers.onServiceAdd(x); },
        update: (a, b) => { handlers.onServiceUpdate(a, b); },
        delete: (x) => { handlers.onServiceDelete(x); },
        synced: () => { handlers.onServicesSynced(); },
      }],
      [endpointSlicesResource(), {
        add: (x) => { handlers.onEndpointSliceAdd(x); },
        update: (a, b) => { handlers.onEndpointSliceUpdate(a, b); },
        delete: (x) => { handlers.onEndpointSliceDelete(x); },
        synced: () => { handlers.onEndpointSlicesSynced(); },
      }],
      [nodeResource(o.nodeName), {
        add: (x) => { handlers.onNodeAdd(x); },
        update: (a, b) => { handlers.onNodeUpdate(a, b); },
        delete: (x) => { handlers.onNodeDelete(x); },
        synced: () => { handlers.onNodesSynced(); },
      }],
    ];
    const cidrs = o.serviceCIDRs === true ? serviceCIDRSink(handlers) : undefined;
    if (cidrs !== undefined) sinks.push([serviceCIDRsResource(), cidrs]);
    this.reflectors = sinks.map(([resource, sink]) => ({
      name: resource.name,
      reflector: new Reflector({
        client: o.client,
        resource,
        sink,
        logger: o.logger,
        clock,
        random: o.random,
        probe,
        observer: o.observer,
        tuning: o.tuning,
        optional: resource.name === 'servicecidrs',
      }),
    }));
    o.logger.info({ server: o.client.describe(), node: o.nodeName }, `watching Services, EndpointSlices and our Node${cidrs === undefined ? '' : ', and ServiceCIDRs if served'}`);
    await Promise.all(this.reflectors.map(({ reflector }) => reflector.run(signal)));
    o.logger.info('API source stopped');
  }

  /** Per resource ("services", "endpointslices", "nodes", "servicecidrs"): for debugging and health. */
  status(): Record<string, ResourceStatus> {
    const out: Record<string, ResourceStatus> = {};
    for (const { name, reflector } of this.reflectors) {
      out[name] = { synced: reflector.synced, resourceVersion: reflector.resourceVersion, objects: reflector.objects().length };
    }
    return out;
  }
}

/** The handlers' ServiceCIDR methods as a reflector sink, when they have them all. */
function serviceCIDRSink(h: ProxyHandlers): ReflectorSink | undefined {
  const { onServiceCIDRAdd: add, onServiceCIDRUpdate: update, onServiceCIDRDelete: del, onServiceCIDRsSynced: synced } = h;
  if (add === undefined || update === undefined || del === undefined || synced === undefined) return undefined;
  return {
    add: (x) => { add.call(h, x); },
    update: (a, b) => { update.call(h, a, b); },
    delete: (x) => { del.call(h, x); },
    synced: () => { synced.call(h); },
  };
}
