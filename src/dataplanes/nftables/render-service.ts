// Rules for one service port of one family (upstream syncProxyRules' per-service loop).
//
//   service-ips[clusterIP . proto . port]  -> goto service-HASH-…   (cluster policy chain)
//                                          or goto local-HASH-…     (internalTrafficPolicy Local)
//   service-ips[externalIP|lbIP . …]       -> goto external-HASH-…
//   service-nodeports[proto . nodePort]    -> goto external-HASH-…
//   external-…  masquerade (policy Cluster) or short-circuit pods/node (policy Local), then
//               goto the policy chain
//   service-… / local-…  masquerade off-cluster sources, affinity lookups, then
//               numgen random mod N vmap { i : goto endpoint-… }
//   endpoint-…  hairpin masquerade, affinity update, dnat
//   firewall-ips[lbIP . proto . port]      -> goto firewall-… (drop sources outside the ranges)
//   no-endpoint-services / -nodeports      -> goto reject-chain (no endpoints) or drop
//                                             (Local policy without local endpoints)

import type { Endpoint, ServicePort } from '../../model/types.ts';
import { externallyAccessible, usesClusterEndpoints, usesLocalEndpoints } from '../../model/types.ts';
import type { CategorizedEndpoints } from './categorize.ts';
import * as N from './names.ts';
import type { FamilyContext } from './options.ts';
import type { NftChain, NftElement, NftSetDecl, ServiceFragment } from './ruleset.ts';
import { cidrContains, nftProtocol, quoted, safeCIDR, safeIP, safePort, safeTimeout } from './safety.ts';

interface EndpointNames { readonly ep: Endpoint; readonly chain: string; readonly affinitySet: string }

/**
 * Render one service port. Throws NftUnsafeValueError if any value is outside the safe
 * charset; the caller skips the service. Pure.
 */
export function renderServicePort(ctx: FamilyContext, sp: ServicePort, cat: CategorizedEndpoints): ServiceFragment {
  const { ipX } = ctx;
  const spn = sp.name;
  const proto = nftProtocol(sp.protocol);
  const port = String(safePort('port', sp.port));
  const clusterIP = safeIP('clusterIP', ctx.family, sp.clusterIP);
  const externalIPs = sp.externalIPs.map((ip) => safeIP('externalIP', ctx.family, ip));
  const lbIPs = sp.loadBalancerVIPs.map((ip) => safeIP('loadBalancer IP', ctx.family, ip));
  const nodePort = sp.nodePort === 0 ? 0 : safePort('nodePort', sp.nodePort);
  const affinity = sp.sessionAffinity.type === 'ClientIP' ? safeTimeout('sessionAffinity timeout', sp.sessionAffinity.timeoutSeconds) : 0;

  const base = N.servicePortChainNameBase(spn);
  const comment = quoted('service port name', N.servicePortNameString(spn)).slice(1, -1);
  const clusterPolicyChain = N.CLUSTER_CHAIN_PREFIX + base;
  const localPolicyChain = N.LOCAL_CHAIN_PREFIX + base;
  const externalChain = N.EXTERNAL_CHAIN_PREFIX + base;
  const firewallChain = N.FIREWALL_CHAIN_PREFIX + base;

  // Every endpoint a chain can reach gets an endpoint chain (and an affinity set).
  const names = new Map<string, EndpointNames>();
  const nameOf = (ep: Endpoint): EndpointNames => {
    let n = names.get(ep.key);
    if (!n) {
      safeIP('endpoint IP', ctx.family, ep.ip);
      const epBase = N.endpointChainNameBase(spn, ep);
      n = { ep, chain: N.ENDPOINT_CHAIN_PREFIX + epBase, affinitySet: N.AFFINITY_SET_PREFIX + epBase };
      names.set(ep.key, n);
    }
    return n;
  };
  for (const ep of cat.allReachableEndpoints) nameOf(ep);
  const namesOf = (eps: readonly Endpoint[]): EndpointNames[] => eps.map(nameOf);

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
  if (hasInternalEndpoints) {
    elements.push({ set: N.SERVICE_IPS_MAP, key: triple(clusterIP), value: `goto ${internalTrafficChain}` });
  } else {
    elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(clusterIP), value: internalVerdict, comment });
  }
  for (const ip of externalIPs) {
    if (hasEndpoints) elements.push({ set: N.SERVICE_IPS_MAP, key: triple(ip), value: `goto ${externalChain}` });
    if (!hasExternalEndpoints) elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(ip), value: externalVerdict, comment });
  }
  const sourceRanges = sp.loadBalancerSourceRanges.map((c) => safeCIDR('loadBalancerSourceRange', ctx.family, c));
  const usesFirewallChain = lbIPs.length > 0 && sourceRanges.length > 0;
  for (const ip of lbIPs) {
    if (hasEndpoints) elements.push({ set: N.SERVICE_IPS_MAP, key: triple(ip), value: `goto ${externalChain}` });
    if (usesFirewallChain) elements.push({ set: N.FIREWALL_IPS_MAP, key: triple(ip), value: `goto ${firewallChain}` });
  }
  if (!hasExternalEndpoints) {
    for (const ip of lbIPs) elements.push({ set: N.NO_ENDPOINT_SERVICES_MAP, key: triple(ip), value: externalVerdict, comment });
  }
  if (nodePort !== 0) {
    // NodePorts are not subject to loadBalancerSourceRanges (as upstream).
    if (hasEndpoints) elements.push({ set: N.SERVICE_NODEPORTS_MAP, key: [proto, String(nodePort)], value: `goto ${externalChain}` });
    if (!hasExternalEndpoints) elements.push({ set: N.NO_ENDPOINT_NODEPORTS_MAP, key: [proto, String(nodePort)], value: externalVerdict, comment });
  }

  const chains = new Map<string, string[]>();
  const chain = (name: string): string[] => {
    let rules = chains.get(name);
    if (!rules) chains.set(name, (rules = []));
    return rules;
  };
  if (usesClusterPolicyChain) chain(clusterPolicyChain);
  if (usesLocalPolicyChain) chain(localPolicyChain);
  if (usesExternalChain) chain(externalChain);

  if (hasInternalEndpoints) {
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

  if (usesFirewallChain) {
    const sources = [...sourceRanges];
    if (ctx.primaryNodeIP !== undefined && sourceRanges.some((c) => cidrContains(c, ctx.primaryNodeIP ?? ''))) {
      // A node reaching a VIP-style LB IP that is also a local address loops back with the VIP
      // as source: allow that too.
      sources.push(...lbIPs);
    }
    chain(firewallChain).push(`${ipX} saddr != { ${sources.join(' , ')} } drop`);
  }

  const sets: NftSetDecl[] = [];
  if (affinity > 0) {
    for (const n of names.values()) {
      sets.push({ kind: 'set', name: n.affinitySet, type: ctx.addrType, flags: ['dynamic', 'timeout'], timeoutSeconds: affinity });
    }
  }

  const writeDispatch = (svcChain: string, eps: readonly Endpoint[]): void => {
    const rules = chain(svcChain);
    const epNames = namesOf(eps);
    if (affinity > 0) {
      for (const n of epNames) rules.push(`${ipX} saddr @${n.affinitySet} goto ${n.chain}`);
    }
    const entries = epNames.map((n, i) => `${i} : goto ${n.chain}`);
    rules.push(`numgen random mod ${epNames.length} vmap { ${entries.join(' , ')} }`);
  };
  if (usesClusterPolicyChain) writeDispatch(clusterPolicyChain, clusterEndpoints);
  if (usesLocalPolicyChain) writeDispatch(localPolicyChain, localEndpoints);

  for (const n of names.values()) {
    const rules = chain(n.chain);
    rules.push(`${ipX} saddr ${n.ep.ip} jump ${N.MARK_MASQ_CHAIN}`);
    if (affinity > 0) rules.push(`update @${n.affinitySet} { ${ipX} saddr }`);
    const dest = ctx.family === 'IPv4' ? `${n.ep.ip}:${n.ep.port}` : `[${n.ep.ip}]:${n.ep.port}`;
    rules.push(`meta l4proto ${proto} dnat to ${dest}`);
  }

  const chainList: NftChain[] = [];
  for (const [name, rules] of chains) chainList.push({ name, rules });
  return { portKey: spn.key, serviceKey: spn.service, chains: chainList, sets, elements, noLocalInternal, noLocalExternal };
}
