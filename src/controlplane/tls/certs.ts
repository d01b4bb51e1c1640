// The control plane's PKI: a self-signed CA (ECDSA P-256), generated on first start and kept in
// the data dir, and a serving certificate signed by it for the addresses clients use. Both are
// X.509 v3, DER-encoded here and signed with node:crypto (no openssl, no dependency).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseIP } from '../registry/ip.ts';
import { atomicWrite, ensureDir } from '../storage/fsutil.ts';
import { bits, bool, explicit, implicit, octets, oid, seq, set, smallInt, time, uint, utf8 } from './der.ts';

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const DAY = 24 * 3600 * 1000;

export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${b64.join('\n')}\n-----END ${label}-----\n`;
}

function name(cn: string, org?: string): Buffer {
  const rdns = [set(seq(oid(OID.commonName), utf8(cn)))];
  if (org) rdns.unshift(set(seq(oid(OID.organization), utf8(org))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function ipBytes(ip: string): Buffer {
  const p = parseIP(ip);
  if (!p) throw new Error(`invalid IP ${ip}`);
  const len = p.family === 'IPv4' ? 4 : 16;
  const out = Buffer.alloc(len);
  let v = p.value;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

interface CertRequest {
  readonly subject: Buffer;
  readonly issuer: Buffer;
  readonly publicKey: KeyObject;
  readonly signer: KeyObject;
  readonly validDays: number;
  readonly isCA: boolean;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly authorityKeyId: Buffer | undefined;
}

function keyId(pub: KeyObject): Buffer {
  return createHash('sha1').update(pub.export({ type: 'spki', format: 'der' })).digest();
}

function buildCert(r: CertRequest): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f || 0x01;
  const now = Date.now();
  const sigAlg = seq(oid(OID.ecdsaWithSHA256));
  const exts: Buffer[] = [
    extension(OID.keyUsage, true, r.isCA ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0x80]), 7)),
    extension(OID.basicConstraints, true, r.isCA ? seq(bool(true)) : seq()),
    extension(OID.subjectKeyIdentifier, false, octets(keyId(r.publicKey))),
  ];
  if (!r.isCA) exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))));
  if (r.authorityKeyId) exts.push(extension(OID.authorityKeyIdentifier, false, seq(implicit(0, r.authorityKeyId))));
  if (r.dnsNames.length || r.ips.length) {
    const names = [...r.dnsNames.map((d) => implicit(2, Buffer.from(d, 'ascii'))), ...r.ips.map((ip) => implicit(7, ipBytes(ip)))];
    exts.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  const tbs = seq(
    explicit(0, smallInt(2)),
    uint(serial),
    sigAlg,
    r.issuer,
    seq(time(new Date(now - 3600 * 1000)), time(new Date(now + r.validDays * DAY))),
    r.subject,
    r.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, r.signer);
  return seq(tbs, sigAlg, bits(signature));
}

function newKey(): { priv: KeyObject; pub: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { priv: privateKey, pub: publicKey };
}

function keyPem(k: KeyObject): string {
  return k.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function generateCA(commonName = 'kube-proxy-ts-ca'): KeyPair {
  const { priv, pub } = newKey();
  const subject = name(commonName, 'kube-proxy-ts');
  const der = buildCert({ subject, issuer: subject, publicKey: pub, signer: priv, validDays: 3650, isCA: true, dnsNames: [], ips: [], authorityKeyId: undefined });
  return { certPem: pem('CERTIFICATE', der), keyPem: keyPem(priv) };
}

export function generateServingCert(ca: KeyPair, hosts: readonly string[]): KeyPair {
  const { priv, pub } = newKey();
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  const issuer = Buffer.from(caCert.raw);
  const ips = [...new Set(hosts.filter((h) => isIP(h) !== 0))];
  const dns = [...new Set(hosts.filter((h) => isIP(h) === 0))];
  const der = buildCert({
    subject: name('kube-apiserver'),
    issuer: issuerName(issuer),
    publicKey: pub,
    signer: caKey,
    validDays: 730,
    isCA: false,
    dnsNames: dns,
    ips,
    authorityKeyId: keyId(createPublicKey(ca.certPem)),
  });
  return { certPem: pem('CERTIFICATE', der), keyPem: keyPem(priv) };
}

/** Extracts the subject Name (DER) of a certificate: TBSCertificate's 6th element. */
function issuerName(certDer: Buffer): Buffer {
  const readTLV = (buf: Buffer, off: number): { start: number; end: number; hdr: number } => {
    const first = buf[off + 1] ?? 0;
    let len = first;
    let hdr = 2;
    if (first & 0x80) {
      const n = first & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[off + 2 + i] ?? 0);
      hdr = 2 + n;
    }
    return { start: off, end: off + hdr + len, hdr };
  };
  const cert = readTLV(certDer, 0);
  const tbs = readTLV(certDer, cert.hdr);
  let off = tbs.start + tbs.hdr;
  const elems: { start: number; end: number }[] = [];
  while (off < tbs.end && elems.length < 6) {
    const e = readTLV(certDer, off);
    elems.push(e);
    off = e.end;
  }
  // [0] version, serial, signature, issuer, validity, subject
  const subject = elems[5];
  if (!subject) throw new Error('malformed CA certificate');
  return certDer.subarray(subject.start, subject.end);
}

export interface PKI {
  readonly ca: KeyPair;
  readonly serving: KeyPair;
}

function servingCertOK(serving: KeyPair, ca: KeyPair, hosts: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(serving.certPem);
    if (!cert.verify(createPublicKey(ca.certPem))) return false;
    if (Date.parse(cert.validTo) - Date.now() < 30 * DAY) return false;
    for (const h of hosts) {
      if (isIP(h) ? cert.checkIP(h) === undefined : cert.checkHost(h) === undefined) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function readPair(dir: string, base: string): Promise<KeyPair | undefined> {
  try {
    return { certPem: await readFile(join(dir, `${base}.crt`), 'utf8'), keyPem: await readFile(join(dir, `${base}.key`), 'utf8') };
  } catch {
    return undefined;
  }
}

async function writePair(dir: string, base: string, kp: KeyPair): Promise<void> {
  await atomicWrite(join(dir, `${base}.key`), kp.keyPem, 0o600);
  await atomicWrite(join(dir, `${base}.crt`), kp.certPem, 0o644);
}

/** Loads the PKI from `<dataDir>/pki`, creating the CA once and the serving cert when needed. */
export async function loadOrCreatePKI(dataDir: string, hosts: readonly string[]): Promise<PKI & { createdCA: boolean; createdServing: boolean }> {
  const dir = join(dataDir, 'pki');
  await ensureDir(dir, 0o700);
  let ca = await readPair(dir, 'ca');
  let createdCA = false;
  if (!ca) {
    ca = generateCA();
    await writePair(dir, 'ca', ca);
    createdCA = true;
  }
  let serving = await readPair(dir, 'apiserver');
  let createdServing = false;
  if (!serving || !servingCertOK(serving, ca, hosts)) {
    serving = generateServingCert(ca, hosts);
    await writePair(dir, 'apiserver', serving);
    createdServing = true;
  }
  return { ca, serving, createdCA, createdServing };
}
