// ClusterIP, NodePort and HealthCheckNodePort allocation for Services, including the IP family
// fields (ipFamilies / ipFamilyPolicy) that decide how many ClusterIPs a Service gets.

import { fe, internalError, invalid, type FieldError } from '../../errors.ts';
import { IPAllocator, PortAllocator, type PortRange } from '../allocator.ts';
import { parseIP, type Family } from '../ip.ts';
import { SERVICES } from '../resources.ts';
import type { AllocationTx } from '../types.ts';
import { isHeadless, needsClusterIP, needsHCNodePort, needsNodePort, specOf, type Service } from './types.ts';

export interface ServiceNetwork {
  /** One or two CIDRs (one per family); the first is the primary family. */
  readonly serviceCIDRs: readonly string[];
  readonly nodePortRange: PortRange;
}

function clusterIPsOf(svc: Service): string[] {
  const spec = svc.spec ?? {};
  if (spec.clusterIPs?.length) return spec.clusterIPs;
  return spec.clusterIP ? [spec.clusterIP] : [];
}

function nodePortsOf(svc: Service): number[] {
  if (!svc.spec) return [];
  const out = new Set<number>();
  for (const p of svc.spec.ports ?? []) if (p.nodePort) out.add(p.nodePort);
  return [...out];
}

export class ServiceAllocators {
  private readonly ips: IPAllocator[];
  readonly nodePorts: PortAllocator;

  constructor(net: ServiceNetwork) {
    this.ips = net.serviceCIDRs.map((c) => new IPAllocator(c));
    const fams = new Set(this.ips.map((a) => a.family));
    if (this.ips.length === 0 || this.ips.length > 2 || fams.size !== this.ips.length) {
      throw new Error('service CIDRs must be one CIDR, or two of different IP families');
    }
    this.nodePorts = new PortAllocator(net.nodePortRange);
  }

  get primaryFamily(): Family {
    return this.ips[0]?.family ?? 'IPv4';
  }

  get dualStack(): boolean {
    return this.ips.length === 2;
  }

  ipAllocator(f: Family): IPAllocator | undefined {
    return this.ips.find((a) => a.family === f);
  }

  /** Defaults ipFamilies / ipFamilyPolicy (initIPFamilyFields); returns field errors. */
  private initFamilies(svc: Service, old: Service | undefined): FieldError[] {
    const spec = specOf(svc);
    const errs: FieldError[] = [];
    if (old && needsClusterIP(old)) {
      const oldSpec = old.spec ?? {};
      if (!spec.ipFamilies?.length && oldSpec.ipFamilies?.length && clusterIPsOf(svc)[0] === clusterIPsOf(old)[0]) spec.ipFamilies = [...oldSpec.ipFamilies];
      if (spec.ipFamilyPolicy === undefined && oldSpec.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = oldSpec.ipFamilyPolicy;
    }
    if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
    const ips = spec.clusterIPs ?? [];
    const families: string[] = [...(spec.ipFamilies ?? [])];
    ips.forEach((ip, i) => {
      const p = parseIP(ip);
      if (p && families[i] === undefined) families[i] = p.family;
    });
    const headless = isHeadless(svc);
    if (spec.ipFamilyPolicy === undefined) {
      if (families.length === 2 || ips.length === 2) spec.ipFamilyPolicy = 'RequireDualStack';
      else if (headless && !Object.keys(spec.selector ?? {}).length && this.dualStack) spec.ipFamilyPolicy = 'RequireDualStack';
      else spec.ipFamilyPolicy = 'SingleStack';
    }
    const policy = spec.ipFamilyPolicy;
    if (policy === 'RequireDualStack' && !this.dualStack) {
      errs.push(fe.invalid('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'));
      return errs;
    }
    if (families.length === 0) families.push(this.primaryFamily);
    if (policy !== 'SingleStack' && families.length < 2 && this.dualStack) {
      families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    }
    families.forEach((f, i) => {
      if (!this.ipAllocator(f as Family)) errs.push(fe.invalid(`spec.ipFamilies[${String(i)}]`, f, 'not configured on this cluster'));
    });
    spec.ipFamilies = families;
    return errs;
  }

  /** Allocates everything `svc` needs that `old` (if any) does not already hold. */
  allocate(svc: Service, old: Service | undefined): AllocationTx {
    const name = svc.metadata.name ?? '';
    const takenIPs: { f: Family; ip: string }[] = [];
    const takenPorts: number[] = [];
    const rollback = (): void => {
      for (const t of takenIPs) this.ipAllocator(t.f)?.release(t.ip);
      for (const p of takenPorts) this.nodePorts.release(p);
    };
    try {
      const errs: FieldError[] = [];
      const spec = specOf(svc);
      const oldIPs = new Set(old ? clusterIPsOf(old) : []);
      if (needsClusterIP(svc)) {
        errs.push(...this.initFamilies(svc, old));
        if (errs.length) throw invalid(SERVICES, name, errs);
        if (isHeadless(svc)) {
          spec.clusterIPs = ['None'];
        } else {
          const fams = spec.ipFamilies ?? [];
          const result: string[] = [];
          fams.forEach((f, i) => {
            const alloc = this.ipAllocator(f as Family);
            if (!alloc) return;
            const want = spec.clusterIPs?.[i];
            if (want) {
              if (!oldIPs.has(want)) {
                const r = alloc.allocate(want);
                if (!r.ok) {
                  const why = r.reason === 'out-of-range'
                    ? `the provided IP (${want}) is not in the valid range. The range of valid IPs is ${alloc.cidr.text}`
                    : 'provided IP is already allocated';
                  errs.push(fe.invalid('spec.clusterIPs', spec.clusterIPs ?? [], `failed to allocate IP ${want}: ${why}`));
                  return;
                }
                takenIPs.push({ f: alloc.family, ip: want });
              }
              result.push(want);
            } else {
              const r = alloc.allocateNext();
              if (!r.ok) throw internalError(`failed to allocate a serviceIP: range is full (${alloc.cidr.text})`);
              takenIPs.push({ f: alloc.family, ip: r.value });
              result.push(r.value);
            }
          });
          if (errs.length) throw invalid(SERVICES, name, errs);
          spec.clusterIPs = result;
        }
        spec.clusterIP = spec.clusterIPs[0] ?? '';
      }
      // NodePorts: one per distinct port number (TCP and UDP on the same port share it).
      const oldPorts = new Set(old && needsNodePort(old) ? nodePortsOf(old) : []);
      const keep = new Set<number>();
      const holdPort = (p: number, field: string): boolean => {
        if (keep.has(p)) return true;
        if (oldPorts.has(p)) { keep.add(p); return true; }
        const r = this.nodePorts.allocate(p);
        if (r !== 'ok') {
          const why = r === 'out-of-range'
            ? `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.describe()}`
            : 'provided port is already allocated';
          errs.push(fe.invalid(field, p, why));
          return false;
        }
        takenPorts.push(p);
        keep.add(p);
        return true;
      };
      const nextPort = (): number => {
        const p = this.nodePorts.allocateNext();
        if (p === undefined) throw internalError(`failed to allocate a nodePort: range is full (${this.nodePorts.describe()})`);
        takenPorts.push(p);
        keep.add(p);
        return p;
      };
      const ports = spec.ports ?? [];
      if (needsNodePort(svc) || ports.some((p) => p.nodePort)) {
        const byServicePort = new Map<number, number>();
        ports.forEach((sp, i) => {
          const field = `spec.ports[${String(i)}].nodePort`;
          if (sp.nodePort) {
            if (holdPort(sp.nodePort, field)) byServicePort.set(sp.port ?? 0, sp.nodePort);
            return;
          }
          if (!needsNodePort(svc)) return;
          const shared = byServicePort.get(sp.port ?? 0) ?? ports.find((q) => q.port === sp.port && q.nodePort)?.nodePort;
          if (shared !== undefined) {
            if (holdPort(shared, field)) sp.nodePort = shared;
            return;
          }
          sp.nodePort = nextPort();
          byServicePort.set(sp.port ?? 0, sp.nodePort);
        });
      }
      if (needsHCNodePort(svc)) {
        const oldHC = old && needsHCNodePort(old) ? old.spec?.healthCheckNodePort ?? 0 : 0;
        const hc = spec.healthCheckNodePort ?? 0;
        if (hc === 0) {
          spec.healthCheckNodePort = nextPort();
        } else if (hc !== oldHC) {
          const r = this.nodePorts.allocate(hc);
          if (r !== 'ok') {
            const why = r === 'out-of-range' ? `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.describe()}` : 'provided port is already allocated';
            errs.push(fe.invalid('spec.healthCheckNodePort', hc, `failed to allocate requested HealthCheck NodePort ${String(hc)}: ${why}`));
          } else {
            takenPorts.push(hc);
          }
        }
      }
      if (errs.length) throw invalid(SERVICES, name, errs);
    } catch (err) {
      rollback();
      throw err;
    }
    return {
      rollback,
      commit: () => {
        if (!old) return;
        const nowIPs = new Set(needsClusterIP(svc) ? clusterIPsOf(svc) : []);
        for (const ip of clusterIPsOf(old)) {
          if (nowIPs.has(ip) || ip === 'None') continue;
          const p = parseIP(ip);
          if (p) this.ipAllocator(p.family)?.release(ip);
        }
        const nowPorts = new Set(nodePortsOf(svc));
        if (needsHCNodePort(svc) && svc.spec?.healthCheckNodePort) nowPorts.add(svc.spec.healthCheckNodePort);
        const oldAll = nodePortsOf(old);
        if (old.spec?.healthCheckNodePort) oldAll.push(old.spec.healthCheckNodePort);
        for (const p of oldAll) if (!nowPorts.has(p)) this.nodePorts.release(p);
      },
    };
  }

  release(svc: Service): void {
    for (const ip of clusterIPsOf(svc)) {
      const p = parseIP(ip);
      if (p) this.ipAllocator(p.family)?.release(ip);
    }
    for (const p of nodePortsOf(svc)) this.nodePorts.release(p);
    if (svc.spec?.healthCheckNodePort) this.nodePorts.release(svc.spec.healthCheckNodePort);
  }

  /** Marks what a stored Service holds (startup). Returns what could not be marked. */
  restore(svc: Service): string[] {
    const problems: string[] = [];
    for (const ip of clusterIPsOf(svc)) {
      const p = parseIP(ip);
      if (!p) continue;
      const r = this.ipAllocator(p.family)?.allocate(ip);
      if (r && !r.ok) problems.push(`clusterIP ${ip}: ${r.reason}`);
    }
    const ports = nodePortsOf(svc);
    if (svc.spec?.healthCheckNodePort) ports.push(svc.spec.healthCheckNodePort);
    for (const p of ports) {
      const r = this.nodePorts.allocate(p);
      if (r !== 'ok') problems.push(`nodePort ${String(p)}: ${r}`);
    }
    return problems;
  }
}
