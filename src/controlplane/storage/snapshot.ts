// Snapshot: the full state at a resourceVersion, written as `snapshot` in the store directory
// via temp file + fsync + rename + directory fsync, so it is either the old or the new one.
// Layout: 8-byte magic, then framed records: a header {format, rv, walSeq, count}, one record
// {r, ns, n, o} per object, and a trailer {end: true, count}.

import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { isObject, type JsonObject } from '../json.ts';
import { frame, readFrames } from './framing.ts';
import { fsyncDir } from './fsutil.ts';
import { StoreCorruptError } from './wal.ts';

export const SNAPSHOT_MAGIC = Buffer.from('KPTSSNP1', 'ascii');
export const SNAPSHOT_FORMAT = 'kube-proxy-ts/snapshot/v1';
export const SNAPSHOT_FILE = 'snapshot';

export interface SnapshotEntry {
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  /** The object's JSON text. */
  readonly json: string;
}

export interface SnapshotData {
  readonly rv: number;
  /** WAL segments with seq <= walSeq are contained in the snapshot. */
  readonly walSeq: number;
  readonly entries: { resource: string; namespace: string; name: string; obj: JsonObject }[];
}

export async function writeSnapshot(dir: string, rv: number, walSeq: number, entries: readonly SnapshotEntry[], sync: boolean): Promise<void> {
  const tmp = join(dir, `${SNAPSHOT_FILE}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    const chunks: Buffer[] = [SNAPSHOT_MAGIC, frame(JSON.stringify({ format: SNAPSHOT_FORMAT, rv, walSeq, count: entries.length }))];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (chunks.length) await fh.write(Buffer.concat(chunks));
      chunks.length = 0;
      size = 0;
    };
    for (const e of entries) {
      const rec = frame(`{"r":${JSON.stringify(e.resource)},"ns":${JSON.stringify(e.namespace)},"n":${JSON.stringify(e.name)},"o":${e.json}}`);
      chunks.push(rec);
      size += rec.length;
      if (size > 1 << 20) await flush();
    }
    chunks.push(frame(JSON.stringify({ end: true, count: entries.length })));
    await flush();
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, SNAPSHOT_FILE));
  if (sync) await fsyncDir(dir);
}

export async function readSnapshot(dir: string): Promise<SnapshotData | undefined> {
  const path = join(dir, SNAPSHOT_FILE);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!buf.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) throw new StoreCorruptError(`${path}: not a snapshot`);
  const r = readFrames(buf, SNAPSHOT_MAGIC.length);
  if (r.bad) throw new StoreCorruptError(`${path}: corrupt record at offset ${String(r.goodEnd)}`);
  const [headText, ...rest] = r.payloads;
  const trailerText = rest.pop();
  const head: unknown = headText === undefined ? undefined : JSON.parse(headText);
  const trailer: unknown = trailerText === undefined ? undefined : JSON.parse(trailerText);
  if (!isObject(head) || head['format'] !== SNAPSHOT_FORMAT || typeof head['rv'] !== 'number' || typeof head['walSeq'] !== 'number') {
    throw new StoreCorruptError(`${path}: bad header`);
  }
  if (!isObject(trailer) || trailer['end'] !== true || trailer['count'] !== rest.length || head['count'] !== rest.length) {
    throw new StoreCorruptError(`${path}: truncated (trailer missing or count mismatch)`);
  }
  const entries = rest.map((text) => {
    const rec: unknown = JSON.parse(text);
    if (!isObject(rec) || typeof rec['r'] !== 'string' || typeof rec['ns'] !== 'string' || typeof rec['n'] !== 'string' || !isObject(rec['o'])) {
      throw new StoreCorruptError(`${path}: bad object record`);
    }
    return { resource: rec['r'], namespace: rec['ns'], name: rec['n'], obj: rec['o'] };
  });
  return { rv: head['rv'], walSeq: head['walSeq'], entries };
}
