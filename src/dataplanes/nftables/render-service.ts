// Rules for one service port of one family (upstream syncProxyRules' per-service loop).
//
//   service-ips[clusterIP . proto . port]  -> goto lb-N             (ClusterIP only, no affinity:
//                                                                     shared chain, see below)
//                                          or goto service-HASH-…   (cluster policy chain)
//                                          or goto local-HASH-…     (internalTrafficPolicy Local)
//   service-ips[externalIP|lbIP . …]       -> goto external-HASH-…
//   service-nodeports[proto . nodePort]    -> goto external-HASH-…
//   external-…  masquerade (policy Cluster) or short-circuit pods/node (policy Local), then
//               goto the policy chain
//   service-… / local-…  masquerade off-cluster sources, affinity lookups, then a probability
//               cascade that DNATs inline: rule i of N matches with probability 1/(N-i)
//               ("numgen random mod (N-i) 0"), the last one always, so each endpoint gets
//               exactly 1/N (as upstream's iptables mode); affinity updates sit in the rule
//   firewall-ips[lbIP . proto . port]      -> goto firewall-… (drop sources outside the ranges)
//   no-endpoint-services / -nodeports      -> goto reject-chain (no endpoints) or drop
//                                             (Local policy without local endpoints)
//
//   lb-N        (shared by every port that is reachable only through its ClusterIP, has no
//               affinity and N endpoints) masquerade off-cluster sources, then
//               "dnat to daddr . dport . numgen random mod N map @lb-backends-PROTO": an
//               O(1) lookup with exactly 1/N per endpoint, and the port is pure data: adding,
//               changing or removing it writes elements, never rules
//
// Upstream instead jumps through an anonymous `numgen … vmap` to one chain per endpoint. The
// kernel names every anonymous set by scanning the table's sets, which made a 10k-service
// ruleset take ~100 s to load; the cascade needs one chain per service port and no anonymous
// sets. Hairpin masquerade, done by upstream's endpoint chains, is one lookup in postrouting
// (render-base.ts) over the hairpin set this renderer feeds with the local endpoints (and
// those whose node is unknown): only they can be a client reaching itself through this node.

import type { Endpoint, ServicePort } from '../../model/types.ts';
import { externallyAccessible, usesClusterEndpoints, usesLocalEndpoints } from '../../model/types.ts';
import type { CategorizedEndpoints } from './categorize.ts';
import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import type { NftChain, NftElement, NftSetDecl, ServiceFragment } from './ruleset.ts';
import { cidrContains, nftProtocol, quoted, safeCIDR, safeIP, safePort, safeTimeout } from './safety.ts';

/** Names derived from a service port, hashed once and reused across syncs (render.ts). */
export interface PortNames {
  /** "HASH-ns/svc/proto/port" (hashAndTruncate of the port). */
  readonly base: string;
  /** upstream ServicePortName.String(), checked for use in a comment. */
  readonly comment: string;
}

export function portNames(sp: ServicePort): PortNames {
  return { base: N.servicePortChainNameBase(sp.name), comment: quoted('service port name', N.servicePortNameString(sp.name)).slice(1, -1) };
}

/**
 * Render one service port into `table` (its service chains and dispatch elements; firewall
 * and no-endpoint parts always go to TABLE). Throws NftUnsafeValueError if any value is
 * outside the safe charset; the caller skips the service. Pure.
 */
export function renderServicePort(ctx: FamilyContext, sp: ServicePort, cat: CategorizedEndpoints, table: string = N.TABLE, names: PortNames = portNames(sp)): ServiceFragment {
  const { ipX } = ctx;
  const spn = sp.name;
  const proto = nftProtocol(sp.protocol);
  const port = String(safePort('port', sp.port));
  const clusterIP = safeIP('clusterIP', ctx.family, sp.clusterIP);
  const externalIPs = sp.externalIPs.map((ip) => safeIP('externalIP', ctx.family, ip));
  const lbIPs = sp.loadBalancerVIPs.map((ip) => safeIP('loadBalancer IP', ctx.family, ip));
  const nodePort = sp.nodePort === 0 ? 0 : safePort('nodePort', sp.nodePort);
  const affinity = sp.sessionAffinity.type === 'ClientIP' ? safeTimeout('sessionAffinity timeout', sp.sessionAffinity.timeoutSeconds) : 0;

  const { base, comment } = names;
  const clusterPolicyChain = N.CLUSTER_CHAIN_PREFIX + base;
  const localPolicyChain = N.LOCAL_CHAIN_PREFIX + base;
  const externalChain = N.EXTERNAL_CHAIN_PREFIX + base;
  const firewallChain = N.FIREWALL_CHAIN_PREFIX + base;

  // Every endpoint a chain can reach: its DNAT target text, its affinity set when affinity is on.
  const dests = new Map<string, string>();
  const affinitySets = new Map<string, string>();
  for (const ep of cat.allReachableEndpoints) {
    if (dests.has(ep.key)) continue;
    safeIP('endpoint IP', ctx.family, ep.ip);
    const epPort = safePort('endpoint port', ep.port);
    dests.set(ep.key, ctx.family === 'IPv4' ? `${ep.ip}:${String(epPort)}` : `[${ep.ip}]:${String(epPort)}`);
    if (affinity > 0) affinitySets.set(ep.key, N.AFFINITY_SET_PREFIX + N.endpointChainNameBase(spn, ep));
  }

  const clusterEndpoints = cat.clusterEndpoints ?? [];
  const localEndpoints = cat.localEndpoints ?? [];
  const hasEndpoints = cat.hasAnyEndpoints;
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(sp);
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(sp);

  let internalTrafficChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (sp.internalPolicyLocal) {
    internalTrafficChain = localPolicyChain;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (sp.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  // Needed even without externally usable endpoints: the short-circuit rules for local traffic.
  const usesExternalChain = hasEndpoints && externallyAccessible(sp);
  // Reached only through its ClusterIP and without affinity: the port needs no chain of its
  // own. Its service-ips element goes to the shared chain for its endpoint count, which DNATs
  // through the backends map (elements "clusterIP . port . i : ip . port", one map per protocol).
  const internalEndpoints = sp.internalPolicyLocal ? localEndpoints : clusterEndpoints;
  const lb = !externallyAccessible(sp) && affinity === 0 && hasInternalEndpoints && internalEndpoints.length > 0 ? internalEndpoints.length : undefined;

  let internalVerdict = '';
  let externalVerdict = '';
  let noLocalInternal = false;
  let noLocalExternal = false;
  if (!hasEndpoints) {
    internalVerdict = `goto ${N.REJECT_CHAIN}`;
    externalVerdict = `goto ${N.REJECT_CHAIN}`;
  } else {
    if (!hasInternalEndpoints) { internalVerdict = 'drop'; noLocalInternal = true; }
    if (!hasExternalEndpoints) { externalVerdict = 'drop'; noLocalExternal = true; }
  }

  const elements: NftElement[] = [];
  const triple = (ip: string): string[] => [ip, proto, port];
  elements.push({ set: N.CLUSTER_IPS_SET, key: [clusterIP] });
  if (lb !== undefined) {
    elements.push({ table, set: N.SERVICE_IPS_MAP, key: triple(clusterIP), value: `goto ${N.lbChain(lb)}` });
    internalEndpoints.forEach((ep, i) => {
      elements.push({ table, set: N.BACKENDS_MAPS[proto], key: [clusterIP, port, String(i)], value: `${ep.ip} . ${String(ep.port)}` });
    });
  } else if (hasInternalEndpoints) {
    elements.push({ table, set: N.SERVICE_IPS_MAP, key: triple(clusterIP), value: `goto ${internalTrafficChain}` });
  } else {
    elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(clusterIP), value: internalVerdict, comment });
  }
  for (const ip of externalIPs) {
    if (hasEndpoints) elements.push({ table, set: N.SERVICE_IPS_MAP, key: triple(ip), value: `goto ${externalChain}` });
    if (!hasExternalEndpoints) elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(ip), value: externalVerdict, comment });
  }
  const sourceRanges = sp.loadBalancerSourceRanges.map((c) => safeCIDR('loadBalancerSourceRange', ctx.family, c));
  const usesFirewallChain = lbIPs.length > 0 && sourceRanges.length > 0;
  for (const ip of lbIPs) {
    if (hasEndpoints) elements.push({ table, set: N.SERVICE_IPS_MAP, key: triple(ip), value: `goto ${externalChain}` });
    if (usesFirewallChain) elements.push({ set: N.FIREWALL_IPS_MAP, key: triple(ip), value: `goto ${firewallChain}` });
  }
  if (!hasExternalEndpoints) {
    for (const ip of lbIPs) elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(ip), value: externalVerdict, comment });
  }
  if (nodePort !== 0) {
    // NodePorts are not subject to loadBalancerSourceRanges (as upstream).
    if (hasEndpoints) elements.push({ table, set: N.SERVICE_NODEPORTS_MAP, key: [proto, String(nodePort)], value: `goto ${externalChain}` });
    if (!hasExternalEndpoints) elements.push({ set: N.NO_ENDPOINT_NODEPORTS_MAP, key: [proto, String(nodePort)], value: externalVerdict, comment });
  }

  const chains = new Map<string, string[]>();
  const chain = (name: string): string[] => {
    let rules = chains.get(name);
    if (!rules) chains.set(name, (rules = []));
    return rules;
  };
  if (usesClusterPolicyChain && lb === undefined) chain(clusterPolicyChain);
  if (usesLocalPolicyChain && lb === undefined) chain(localPolicyChain);
  if (usesExternalChain) chain(externalChain);

  if (hasInternalEndpoints && lb === undefined) {
    if (ctx.masqueradeAll) {
      chain(internalTrafficChain).push(`${ipX} daddr ${clusterIP} jump ${N.MARK_MASQ_CHAIN}`);
    } else if (ctx.ifNotLocal !== undefined) {
      // Off-cluster traffic to a ClusterIP (a static route to the service range via any
      // node) may bounce to another node: masquerade it.
      chain(internalTrafficChain).push(`${ipX} daddr ${clusterIP} ${ctx.ifNotLocal} jump ${N.MARK_MASQ_CHAIN}`);
    }
  }

  if (usesExternalChain) {
    const ext = chain(externalChain);
    if (!sp.externalPolicyLocal) {
      ext.push(`jump ${N.MARK_MASQ_CHAIN}`);
    } else {
      if (ctx.ifLocal !== undefined) {
        // Pod traffic to an external destination is subject to neither policy: as if it went
        // out to the load balancer and came back.
        ext.push(`${ctx.ifLocal} goto ${clusterPolicyChain} comment "short-circuit pod traffic"`);
      }
      ext.push(`fib saddr type local jump ${N.MARK_MASQ_CHAIN} comment "masquerade local traffic"`);
      ext.push(`fib saddr type local goto ${clusterPolicyChain} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) ext.push(`goto ${externalPolicyChain}`);
  }

  const firewall: NftChain[] = [];
  if (usesFirewallChain) {
    const sources = [...sourceRanges];
    if (ctx.primaryNodeIP !== undefined && sourceRanges.some((c) => cidrContains(c, ctx.primaryNodeIP ?? ''))) {
      // A node reaching a VIP-style LB IP that is also a local address loops back with the VIP
      // as source: allow that too.
      sources.push(...lbIPs);
    }
    firewall.push({ table: N.TABLE, name: firewallChain, rules: [`${ipX} saddr != { ${sources.join(' , ')} } drop`] });
  }

  const sets: NftSetDecl[] = [];
  for (const set of affinitySets.values()) {
    sets.push({ table, kind: 'set', name: set, type: ctx.addrType, flags: ['dynamic', 'timeout'], timeoutSeconds: affinity });
  }

  const dnat = (ep: Endpoint): string => {
    const set = affinitySets.get(ep.key);
    const update = set === undefined ? '' : `update @${set} { ${ipX} saddr } `;
    return `${update}meta l4proto ${proto} dnat to ${dests.get(ep.key) ?? ''}`;
  };
  const writeDispatch = (svcChain: string, eps: readonly Endpoint[]): void => {
    const rules = chain(svcChain);
    for (const ep of eps) {
      const set = affinitySets.get(ep.key);
      if (set !== undefined) rules.push(`${ipX} saddr @${set} ${dnat(ep)}`);
    }
    const n = eps.length;
    eps.forEach((ep, i) => { rules.push(i < n - 1 ? `numgen random mod ${String(n - i)} 0 ${dnat(ep)}` : dnat(ep)); });
  };
  if (usesClusterPolicyChain && lb === undefined) writeDispatch(clusterPolicyChain, clusterEndpoints);
  if (usesLocalPolicyChain && lb === undefined) writeDispatch(localPolicyChain, localEndpoints);

  const chainList: NftChain[] = [];
  for (const [name, rules] of chains) chainList.push({ table, name, rules });
  chainList.push(...firewall);
  // Only a pod on this node can reach itself through a service: its packet is DNATed here, so
  // the endpoint it hairpins to is local. Endpoints whose slice names no node may be anywhere.
  const hairpin = new Set<string>();
  for (const ep of cat.allReachableEndpoints) if (ep.isLocal || ep.nodeName === undefined) hairpin.add(ep.ip);
  return { portKey: spn.key, serviceKey: spn.service, table, chains: chainList, sets, elements, hairpin: [...hairpin], lb, noLocalInternal, noLocalExternal };
}
