// A packet tracer over the structured ruleset (after upstream's helpers_test.go): walks a new
// connection through our chains, following map lookups, numgen vmaps (all branches), jumps,
// masquerade marks, DNAT, drop and reject. It understands exactly the rule shapes the
// renderer writes and fails on anything else.

import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import type { FamilyRuleset, NftChain, NftElement } from '../../../src/dataplanes/nftables/ruleset.ts';

export interface TraceResult {
  /** "10.180.0.1:80, 10.180.2.1:80", "DROP", "REJECT", or "" when nothing matched. */
  readonly output: string;
  readonly masq: boolean;
  readonly matches: readonly string[];
}

function addrMatches(ip: string, spec: string): boolean {
  return spec.replaceAll(' ', '').split(',').filter((s) => s !== '').some((s) => {
    if (s.includes('/')) {
      const [range, bits] = ipaddr.parseCIDR(s);
      const a = ipaddr.parse(ip);
      return a.kind() === range.kind() && a.match([range, bits]);
    }
    return ipaddr.parse(ip).toString() === ipaddr.parse(s).toString();
  });
}

const RE = {
  destIPOnlyLookup: /^ip6? daddr @(\S+)/,
  destDispatch: /^ip6? daddr \. meta l4proto \. th dport vmap @(\S+)$/,
  destPortDispatch: /^meta l4proto \. th dport vmap @(\S+)$/,
  destAddrSet: /^ip6? daddr (!= )?\{([^}]*)\}/,
  destAddr: /^ip6? daddr (!= )?(\S+)/,
  destLocal: /^fib daddr type local/,
  srcAddrLookup: /^ip6? saddr @(\S+)/,
  srcAddrSet: /^ip6? saddr (!= )?\{([^}]*)\}/,
  srcAddr: /^ip6? saddr (!= )?(\S+)/,
  srcLocal: /^fib saddr type local/,
  iifname: /^iifname (!= )?"([^"]*)"/,
  masq: /^jump mark-for-masquerade$/,
  jump: /^(jump|goto) (\S+)$/,
  verdict: /^(drop|reject)$/,
  update: /^update @\S+ \{ ip6? saddr \}/,
  dnat: /^meta l4proto (tcp|udp|sctp) dnat to (\S+)$/,
  numgen: /^numgen random mod \d+ vmap \{(.*)\}$/,
  ignored: / *comment "[^"]*"$|^ct state new/g,
};

export class Tracer {
  readonly #chains = new Map<string, NftChain>();
  readonly #elements = new Map<string, NftElement[]>();
  readonly #nodeIPs: ReadonlySet<string>;
  matches: string[] = [];
  outputs: string[] = [];
  masq = false;
  iifname = 'eth0';

  constructor(rs: FamilyRuleset, nodeIPs: readonly string[]) {
    this.#nodeIPs = new Set(nodeIPs);
    const addEl = (e: NftElement): void => {
      const list = this.#elements.get(e.set) ?? [];
      list.push(e);
      this.#elements.set(e.set, list);
    };
    for (const c of rs.base.chains) this.#chains.set(c.name, c);
    for (const e of rs.base.elements) addEl(e);
    for (const frag of rs.services.values()) {
      for (const c of frag.chains) this.#chains.set(c.name, c);
      for (const e of frag.elements) addEl(e);
    }
  }

  #lookup(set: string, key: readonly string[]): NftElement | undefined {
    return (this.#elements.get(set) ?? []).find((e) => e.key.length === key.length && e.key.every((k, i) => k === key[i]));
  }

  /** Returns true when the packet reached a terminal verdict. */
  runChain(name: string, src: string, proto: string, dst: string, dport: string): boolean {
    const chain = this.#chains.get(name);
    assert.ok(chain, `unknown chain ${name}`);
    for (const full of chain.rules) {
      let rule = full.replace(RE.ignored, '');
      while (rule !== '') {
        rule = rule.trimStart();
        let m: RegExpExecArray | null;
        if ((m = RE.destDispatch.exec(rule))) {
          const el = this.#lookup(m[1] ?? '', [dst, proto, dport]);
          rule = el?.value ?? '';
        } else if ((m = RE.destPortDispatch.exec(rule))) {
          const el = this.#lookup(m[1] ?? '', [proto, dport]);
          rule = el?.value ?? '';
        } else if ((m = RE.destIPOnlyLookup.exec(rule))) {
          rule = this.#lookup(m[1] ?? '', [dst]) ? rule.slice(m[0].length) : '';
        } else if ((m = RE.destAddrSet.exec(rule)) ?? (m = RE.destAddr.exec(rule))) {
          rule = addrMatches(dst, m[2] ?? '') === (m[1] === undefined) ? rule.slice(m[0].length) : '';
        } else if ((m = RE.destLocal.exec(rule))) {
          rule = this.#nodeIPs.has(dst) ? rule.slice(m[0].length) : '';
        } else if (RE.srcAddrLookup.test(rule)) {
          rule = ''; // affinity sets start empty
        } else if ((m = RE.srcAddrSet.exec(rule)) ?? (m = RE.srcAddr.exec(rule))) {
          rule = addrMatches(src, m[2] ?? '') === (m[1] === undefined) ? rule.slice(m[0].length) : '';
        } else if ((m = RE.srcLocal.exec(rule))) {
          rule = this.#nodeIPs.has(src) ? rule.slice(m[0].length) : '';
        } else if ((m = RE.iifname.exec(rule))) {
          const pat = m[2] ?? '';
          const hit = pat.endsWith('*') ? this.iifname.startsWith(pat.slice(0, -1)) : this.iifname === pat;
          rule = hit === (m[1] === undefined) ? rule.slice(m[0].length) : '';
        } else if (RE.masq.test(rule)) {
          this.matches.push(full);
          this.masq = true;
          rule = '';
        } else if ((m = RE.jump.exec(rule))) {
          this.matches.push(full);
          const terminated = this.runChain(m[2] ?? '', src, proto, dst, dport);
          if (terminated) return true;
          if (m[1] === 'goto') return false;
          rule = '';
        } else if ((m = RE.verdict.exec(rule))) {
          this.matches.push(full);
          this.outputs.push((m[1] ?? '').toUpperCase());
          return true;
        } else if ((m = RE.update.exec(rule))) {
          rule = rule.slice(m[0].length);
        } else if ((m = RE.dnat.exec(rule))) {
          this.matches.push(full);
          this.outputs.push(m[2] ?? '');
          return true;
        } else if ((m = RE.numgen.exec(rule))) {
          for (const e of (m[1] ?? '').matchAll(/\d+ : goto (\S+)/g)) {
            this.matches.push(full);
            this.runChain(e[1] ?? '', src, proto, dst, dport);
          }
          return true;
        } else {
          assert.fail(`tracer: unmatched rule "${full}" at "${rule}"`);
        }
      }
    }
    return false;
  }
}

function hostOf(endpoint: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(endpoint) ?? /^(.*):\d+$/.exec(endpoint);
  return m?.[1] ?? endpoint;
}

/** Trace a new connection from src to dst:dport (protocol lowercase) through the ruleset. */
export function tracePacket(rs: FamilyRuleset, nodeIPs: readonly string[], src: string, proto: string, dst: string, dport: number, iifname = 'eth0'): TraceResult {
  const t = new Tracer(rs, nodeIPs);
  t.iifname = iifname;
  const port = String(dport);
  const done = (): TraceResult => ({ output: t.outputs.join(', '), masq: t.masq, matches: t.matches });
  if (t.runChain('filter-prerouting-pre-dnat', src, proto, dst, port)) return done();
  t.runChain('nat-prerouting', src, proto, dst, port);
  const [first] = t.outputs;
  const afterDnat = first !== undefined ? hostOf(first) : dst;
  if (t.runChain('filter-forward', src, proto, afterDnat, port)) return done();
  t.runChain('filter-input', src, proto, afterDnat, port);
  return done();
}

export interface FlowTest {
  readonly name: string;
  readonly src: string;
  readonly dst: string;
  readonly port: number;
  readonly proto?: 'tcp' | 'udp' | 'sctp';
  readonly output: string;
  readonly masq?: boolean;
  readonly iifname?: string;
}

export function assertFlows(rs: FamilyRuleset, nodeIPs: readonly string[], flows: readonly FlowTest[]): void {
  for (const f of flows) {
    const r = tracePacket(rs, nodeIPs, f.src, f.proto ?? 'tcp', f.dst, f.port, f.iifname);
    const why = `${f.name}: ${f.src} -> ${f.dst}:${String(f.port)}\nmatched:\n  ${r.matches.join('\n  ')}`;
    assert.equal(r.output, f.output, `wrong output; ${why}`);
    if (f.output !== 'DROP' && f.output !== 'REJECT' && f.output !== '') assert.equal(r.masq, f.masq ?? false, `wrong masq; ${why}`);
  }
}
