// ValidateService / ValidateServiceUpdate, with upstream's field paths and messages.

import { fe, type FieldError } from '../../errors.ts';
import { parseCIDR, parseIP } from '../ip.ts';
import { dns1123Label, dns1123Subdomain, invalidAll, portName, PORT_RANGE_MSG, qualifiedName, validateLabels, validateNonSpecialIP, validPort, IP_MSG } from '../validation.ts';
import { isHeadless, needsClusterIP, PROTOCOLS, SERVICE_TYPES, externallyAccessible, type Service, type ServicePort } from './types.ts';

const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const TRAFFIC_DISTRIBUTIONS = ['PreferClose', 'PreferSameNode', 'PreferSameZone'];

function validatePort(sp: ServicePort, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = sp.name ?? '';
  if (requireName && name === '') {
    errs.push(fe.required(`${path}.name`));
  } else if (name !== '') {
    errs.push(...invalidAll(`${path}.name`, name, dns1123Label(name)));
    if (names.has(name)) errs.push(fe.duplicate(`${path}.name`, name));
    else names.add(name);
  }
  const port = sp.port ?? 0;
  if (!validPort(port)) errs.push(fe.invalid(`${path}.port`, port, PORT_RANGE_MSG));
  const proto = sp.protocol ?? '';
  if (proto === '') errs.push(fe.required(`${path}.protocol`));
  else if (!(PROTOCOLS as readonly string[]).includes(proto)) errs.push(fe.notSupported(`${path}.protocol`, proto, PROTOCOLS));
  const tp = sp.targetPort ?? 0;
  if (typeof tp === 'number') {
    if (!validPort(tp)) errs.push(fe.invalid(`${path}.targetPort`, tp, PORT_RANGE_MSG));
  } else {
    errs.push(...invalidAll(`${path}.targetPort`, tp, portName(tp)));
  }
  if (sp.appProtocol !== undefined) errs.push(...invalidAll(`${path}.appProtocol`, sp.appProtocol, qualifiedName(sp.appProtocol)));
  if (sp.nodePort !== undefined && (sp.nodePort < 0 || sp.nodePort > 65535)) errs.push(fe.invalid(`${path}.nodePort`, sp.nodePort, PORT_RANGE_MSG));
  return errs;
}

function validateClusterIPs(svc: Service): FieldError[] {
  const errs: FieldError[] = [];
  const spec = svc.spec ?? {};
  const ips = spec.clusterIPs ?? [];
  if (spec.clusterIP && ips.length > 0 && ips[0] !== spec.clusterIP) {
    errs.push(fe.invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  }
  if (ips.length > 2) errs.push(fe.invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  const families = new Set<string>();
  ips.forEach((ip, i) => {
    const path = `spec.clusterIPs[${String(i)}]`;
    if (ip === 'None') {
      if (i !== 0) errs.push(fe.invalid(path, ip, "may not be 'None' for a secondary clusterIP"));
      return;
    }
    if (i > 0 && ips[0] === 'None') {
      errs.push(fe.invalid('spec.clusterIPs', ips, "must not have more than one value if the first is 'None'"));
      return;
    }
    const p = parseIP(ip);
    if (!p) {
      errs.push(fe.invalid(path, ip, IP_MSG));
      return;
    }
    if (families.has(p.family)) errs.push(fe.invalid('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
    families.add(p.family);
    const want = spec.ipFamilies?.[i];
    if (want && want !== p.family) errs.push(fe.invalid(path, ip, `expected an ${want} value as indicated by \`ipFamilies[${String(i)}]\``));
  });
  const fams = spec.ipFamilies ?? [];
  const seen = new Set<string>();
  fams.forEach((f, i) => {
    const path = `spec.ipFamilies[${String(i)}]`;
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(fe.notSupported(path, f, ['IPv4', 'IPv6']));
    else if (seen.has(f)) errs.push(fe.duplicate(path, f));
    seen.add(f);
  });
  if (fams.length > 2) errs.push(fe.invalid('spec.ipFamilies', fams, 'may specify no more than one IP for each IP family'));
  if (spec.ipFamilyPolicy !== undefined && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) {
    errs.push(fe.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, IP_FAMILY_POLICIES));
  }
  if (spec.ipFamilyPolicy === 'SingleStack' && (fams.length > 1 || ips.length > 1)) {
    errs.push(fe.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'must be RequireDualStack or PreferDualStack when multiple IP families are specified'));
  }
  return errs;
}

export function validateService(svc: Service): FieldError[] {
  const errs: FieldError[] = [];
  const spec = svc.spec ?? {};
  const type = spec.type ?? '';
  const ports = spec.ports ?? [];
  const headless = isHeadless(svc);
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(fe.required('spec.ports'));
  if (type === 'LoadBalancer' || type === 'NodePort') {
    if (headless) errs.push(fe.invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  }
  if (type === 'ExternalName') {
    if (spec.clusterIP || (spec.clusterIPs ?? []).length > 0) errs.push(fe.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if ((spec.ipFamilies ?? []).length > 0) errs.push(fe.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec.ipFamilyPolicy !== undefined) errs.push(fe.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const name = (spec.externalName ?? '').replace(/\.$/, '');
    if (name === '') errs.push(fe.required('spec.externalName'));
    else errs.push(...invalidAll('spec.externalName', spec.externalName, dns1123Subdomain(name)));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => { errs.push(...validatePort(p, ports.length > 1, names, `spec.ports[${String(i)}]`)); });
  if (spec.selector) errs.push(...validateLabels(spec.selector, 'spec.selector'));
  const affinity = spec.sessionAffinity ?? '';
  if (affinity === '') errs.push(fe.required('spec.sessionAffinity'));
  else if (affinity !== 'ClientIP' && affinity !== 'None') errs.push(fe.notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  if (affinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (!spec.sessionAffinityConfig) errs.push(fe.required('spec.sessionAffinityConfig'));
    else if (!spec.sessionAffinityConfig.clientIP) errs.push(fe.required('spec.sessionAffinityConfig.clientIP'));
    else if (t === undefined) errs.push(fe.required('spec.sessionAffinityConfig.clientIP.timeoutSeconds'));
    else if (t <= 0 || t > 86400) errs.push(fe.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, 'must be greater than 0 and less than 86400'));
  } else if (spec.sessionAffinityConfig) {
    errs.push(fe.invalid('spec.sessionAffinityConfig', spec.sessionAffinityConfig, `must not be set when session affinity is ${affinity}`));
  }
  (spec.externalIPs ?? []).forEach((ip, i) => { errs.push(...validateNonSpecialIP(ip, `spec.externalIPs[${String(i)}]`)); });
  if (type === '') errs.push(fe.required('spec.type'));
  else if (!(SERVICE_TYPES as readonly string[]).includes(type)) errs.push(fe.notSupported('spec.type', type, SERVICE_TYPES));
  if (type === 'ClusterIP' || type === 'ExternalName') {
    ports.forEach((p, i) => {
      if (p.nodePort) errs.push(fe.forbidden(`spec.ports[${String(i)}].nodePort`, `may not be used when \`type\` is '${type}'`));
    });
  }
  const seenNodePorts = new Set<string>();
  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    const proto = p.protocol ?? 'TCP';
    if (p.nodePort) {
      const k = `${proto}/${String(p.nodePort)}`;
      if (seenNodePorts.has(k)) errs.push(fe.duplicate(`spec.ports[${String(i)}].nodePort`, p.nodePort));
      seenNodePorts.add(k);
    }
    const pk = `${proto}/${String(p.port ?? 0)}`;
    if (seenPorts.has(pk)) errs.push(fe.duplicate(`spec.ports[${String(i)}]`, { port: p.port ?? 0, protocol: proto }));
    seenPorts.add(pk);
  });
  if ((spec.loadBalancerSourceRanges ?? []).length > 0) {
    if (type !== 'LoadBalancer') errs.push(fe.forbidden('spec.loadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    (spec.loadBalancerSourceRanges ?? []).forEach((c, i) => {
      if (!parseCIDR(c.trim())) errs.push(fe.invalid(`spec.loadBalancerSourceRanges[${String(i)}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
    });
  }
  if (spec.loadBalancerIP && type === 'LoadBalancer' && !parseIP(spec.loadBalancerIP)) {
    errs.push(fe.invalid('spec.loadBalancerIP', spec.loadBalancerIP, IP_MSG));
  }
  if (type !== 'LoadBalancer') {
    if (spec.loadBalancerClass !== undefined) errs.push(fe.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
    if (spec.allocateLoadBalancerNodePorts !== undefined) errs.push(fe.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  } else if (spec.loadBalancerClass !== undefined) {
    errs.push(...invalidAll('spec.loadBalancerClass', spec.loadBalancerClass, qualifiedName(spec.loadBalancerClass)));
  }
  // Traffic policies.
  const etp = spec.externalTrafficPolicy;
  if (!externallyAccessible(svc)) {
    if (etp) errs.push(fe.invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (!etp) {
    errs.push(fe.required('spec.externalTrafficPolicy'));
  } else if (etp !== 'Cluster' && etp !== 'Local') {
    errs.push(fe.notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  }
  const hc = spec.healthCheckNodePort ?? 0;
  if (hc !== 0) {
    if (!(type === 'LoadBalancer' && etp === 'Local')) {
      errs.push(fe.invalid('spec.healthCheckNodePort', hc, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\''));
    } else if (!validPort(hc)) {
      errs.push(fe.invalid('spec.healthCheckNodePort', hc, PORT_RANGE_MSG));
    }
  }
  const itp = spec.internalTrafficPolicy;
  if (itp === undefined) {
    if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') errs.push(fe.required('spec.internalTrafficPolicy'));
  } else if (itp !== 'Cluster' && itp !== 'Local') {
    errs.push(fe.notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  }
  if (spec.trafficDistribution !== undefined && !TRAFFIC_DISTRIBUTIONS.includes(spec.trafficDistribution)) {
    errs.push(fe.notSupported('spec.trafficDistribution', spec.trafficDistribution, TRAFFIC_DISTRIBUTIONS));
  }
  if (needsClusterIP(svc)) errs.push(...validateClusterIPs(svc));
  return errs;
}

export function validateServiceUpdate(svc: Service, old: Service): FieldError[] {
  const errs: FieldError[] = [];
  if (!needsClusterIP(old) || !needsClusterIP(svc)) return errs;
  const oldIPs = old.spec?.clusterIPs ?? [];
  const newIPs = svc.spec?.clusterIPs ?? [];
  // The primary can never change; a secondary may be added or removed (dual-stack up/downgrade).
  const n = Math.min(oldIPs.length, newIPs.length);
  for (let i = 0; i < n; i++) {
    if (oldIPs[i] !== newIPs[i]) errs.push(fe.invalid(`spec.clusterIPs[${String(i)}]`, newIPs, 'may not change once set'));
  }
  if (oldIPs.length > 0 && newIPs.length === 0 && svc.spec?.clusterIP !== old.spec?.clusterIP) {
    errs.push(fe.invalid('spec.clusterIPs[0]', newIPs, 'may not change once set'));
  }
  const oldFams = old.spec?.ipFamilies ?? [];
  const newFams = svc.spec?.ipFamilies ?? [];
  if (oldFams.length > 0 && newFams.length > 0 && oldFams[0] !== newFams[0]) {
    errs.push(fe.invalid('spec.ipFamilies[0]', newFams[0], 'may not change once set'));
  }
  return errs;
}
