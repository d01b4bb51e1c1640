// EndpointSlice strategy (discovery.k8s.io/v1): defaulting, ValidateEndpointSlice, table.

import { fe, type FieldError } from '../errors.ts';
import type { JsonObject } from '../json.ts';
import { parseIP } from './ip.ts';
import { AGE_COLUMN, NAME_COLUMN, age, metaOf } from './meta.ts';
import { ENDPOINT_SLICES } from './resources.ts';
import type { ObjectMeta, Strategy, TableColumn } from './types.ts';
import { dns1123Label, dns1123Subdomain, invalidAll, PORT_RANGE_MSG, qualifiedName, validateLabels, validateNonSpecialIP, validPort } from './validation.ts';

interface EndpointPort { name?: string; protocol?: string; port?: number; appProtocol?: string }
interface Endpoint {
  addresses?: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  targetRef?: JsonObject;
  deprecatedTopology?: Record<string, string>;
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name?: string }[]; forNodes?: { name?: string }[] };
}
interface EndpointSlice {
  metadata: ObjectMeta;
  addressType?: string;
  endpoints?: Endpoint[];
  ports?: EndpointPort[];
}

function asSlice(o: JsonObject): EndpointSlice {
  return o as unknown as EndpointSlice;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_PORTS = 100;
const MAX_ADDRESSES = 100;
const MAX_HINTS = 8;

function validateAddress(addressType: string, a: string, field: string): FieldError[] {
  switch (addressType) {
    case 'IPv4': {
      const p = parseIP(a);
      if (p?.family !== 'IPv4') return [fe.invalid(field, a, 'must be a valid IPv4 address')];
      return validateNonSpecialIP(a, field);
    }
    case 'IPv6': {
      const p = parseIP(a);
      if (p?.family !== 'IPv6') return [fe.invalid(field, a, 'must be a valid IPv6 address')];
      return validateNonSpecialIP(a, field);
    }
    case 'FQDN':
      return invalidAll(field, a, dns1123Subdomain(a));
    default:
      return [];
  }
}

export function validateEndpointSlice(s: EndpointSlice): FieldError[] {
  const errs: FieldError[] = [];
  const at = s.addressType ?? '';
  if (at === '') errs.push(fe.required('addressType'));
  else if (!ADDRESS_TYPES.includes(at)) errs.push(fe.notSupported('addressType', at, ADDRESS_TYPES));
  const eps = s.endpoints ?? [];
  if (eps.length > MAX_ENDPOINTS) errs.push(fe.tooMany('endpoints', eps.length, MAX_ENDPOINTS));
  eps.forEach((ep, i) => {
    const p = `endpoints[${String(i)}]`;
    const addrs = ep.addresses ?? [];
    if (addrs.length === 0) errs.push(fe.required(`${p}.addresses`, 'must contain at least 1 address'));
    else if (addrs.length > MAX_ADDRESSES) errs.push(fe.tooMany(`${p}.addresses`, addrs.length, MAX_ADDRESSES));
    addrs.forEach((a, j) => { errs.push(...validateAddress(at, a, `${p}.addresses[${String(j)}]`)); });
    if (ep.hostname !== undefined) errs.push(...invalidAll(`${p}.hostname`, ep.hostname, dns1123Label(ep.hostname)));
    if (ep.nodeName !== undefined) errs.push(...invalidAll(`${p}.nodeName`, ep.nodeName, dns1123Subdomain(ep.nodeName)));
    if (ep.deprecatedTopology) errs.push(...validateLabels(ep.deprecatedTopology, `${p}.deprecatedTopology`));
    const zones = ep.hints?.forZones ?? [];
    if (zones.length > MAX_HINTS) errs.push(fe.tooMany(`${p}.hints.forZones`, zones.length, MAX_HINTS));
    const seenZones = new Set<string>();
    zones.forEach((z, j) => {
      const zn = z.name ?? '';
      if (seenZones.has(zn)) errs.push(fe.duplicate(`${p}.hints.forZones[${String(j)}].name`, zn));
      seenZones.add(zn);
    });
    const nodes = ep.hints?.forNodes ?? [];
    if (nodes.length > MAX_HINTS) errs.push(fe.tooMany(`${p}.hints.forNodes`, nodes.length, MAX_HINTS));
    nodes.forEach((n, j) => { errs.push(...invalidAll(`${p}.hints.forNodes[${String(j)}].name`, n.name ?? '', dns1123Subdomain(n.name ?? ''))); });
  });
  const ports = s.ports ?? [];
  if (ports.length > MAX_PORTS) errs.push(fe.tooMany('ports', ports.length, MAX_PORTS));
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const p = `ports[${String(i)}]`;
    const name = port.name ?? '';
    if (name !== '') errs.push(...invalidAll(`${p}.name`, name, dns1123Label(name)));
    if (names.has(name)) errs.push(fe.duplicate(`${p}.name`, name));
    names.add(name);
    const proto = port.protocol ?? '';
    if (proto === '') errs.push(fe.required(`${p}.protocol`));
    else if (!PROTOCOLS.includes(proto)) errs.push(fe.notSupported(`${p}.protocol`, proto, PROTOCOLS));
    if (port.port !== undefined && !validPort(port.port)) errs.push(fe.invalid(`${p}.port`, port.port, PORT_RANGE_MSG));
    if (port.appProtocol !== undefined) errs.push(...invalidAll(`${p}.appProtocol`, port.appProtocol, qualifiedName(port.appProtocol)));
  });
  return errs;
}

const col = (name: string, description: string): TableColumn => ({ name, type: 'string', format: '', description, priority: 0 });
const COLUMNS: readonly TableColumn[] = [
  NAME_COLUMN,
  col('AddressType', 'addressType specifies the type of address carried by this EndpointSlice.'),
  col('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
  col('Endpoints', 'endpoints is a list of unique endpoints in this slice.'),
  AGE_COLUMN,
];

function listWithMore(list: string[], count: number, max: number): string {
  if (count > max) return `${list.join(',')} + ${String(count - max)} more...`;
  return list.length ? list.join(',') : '<unset>';
}

export function endpointSliceStrategy(): Strategy {
  return {
    def: ENDPOINT_SLICES,
    fieldSelectors: {},
    returnDeletedObject: false,
    generationFields: ['addressType', 'endpoints', 'ports'],
    statusSubresource: false,
    nameErrors: dns1123Subdomain,
    setDefaults: (o) => {
      for (const p of asSlice(o).ports ?? []) {
        p.name ??= '';
        p.protocol ??= 'TCP';
        if (p.protocol === '') p.protocol = 'TCP';
      }
    },
    prepareForCreate: () => undefined,
    prepareForUpdate: () => undefined,
    validate: (o) => validateEndpointSlice(asSlice(o)),
    validateUpdate: (o, old) => {
      const a = asSlice(o).addressType;
      const b = asSlice(old).addressType;
      return a !== b ? [fe.invalid('addressType', a ?? '', 'field is immutable')] : [];
    },
    allocate: () => ({ rollback: () => undefined, commit: () => undefined }),
    release: () => undefined,
    restore: () => undefined,
    columns: COLUMNS,
    row: (o, now) => {
      const s = asSlice(o);
      const ports = (s.ports ?? []).map((p) => (p.port !== undefined ? String(p.port) : p.name || '*'));
      const addrs = (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
      return [metaOf(o).name ?? '', s.addressType ?? '', listWithMore(ports.slice(0, 3), ports.length, 3), listWithMore(addrs.slice(0, 3), addrs.length, 3), age(o, now)];
    },
  };
}
