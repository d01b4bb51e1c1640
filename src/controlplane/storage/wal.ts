// Write-ahead log segments: files wal-<seq>.log in the store directory, each starting with
// an 8-byte magic followed by framed records (see framing.ts). Appends are written and
// fdatasync'ed before the writes they carry are acknowledged.

import { open, readdir, readFile, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readFrames } from './framing.ts';
import { fsyncDir } from './fsutil.ts';

export const WAL_MAGIC = Buffer.from('KPTSWAL1', 'ascii');

export interface WalSegment {
  readonly seq: number;
  readonly path: string;
}

export function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(12, '0')}.log`;
}

export async function listSegments(dir: string): Promise<WalSegment[]> {
  const names = await readdir(dir);
  return names
    .map((n) => /^wal-(\d{12})\.log$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
}

export class StoreCorruptError extends Error {
  readonly code = 'StoreCorrupt';
}

export interface SegmentContents {
  readonly payloads: string[];
  /** Bytes of torn tail dropped from the segment (0 when clean). */
  readonly droppedBytes: number;
}

/**
 * Reads a segment. A bad record in the last segment is a torn tail from a crash mid-append:
 * the file is truncated to the last good record. Anywhere else it is corruption.
 */
export async function readSegment(seg: WalSegment, isLast: boolean): Promise<SegmentContents> {
  const buf = await readFile(seg.path);
  if (buf.length < WAL_MAGIC.length || !buf.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) {
    if (isLast && WAL_MAGIC.subarray(0, buf.length).equals(buf.subarray(0, WAL_MAGIC.length))) {
      // Crashed while creating the segment: nothing in it was ever acknowledged.
      await truncate(seg.path, 0);
      return { payloads: [], droppedBytes: buf.length };
    }
    throw new StoreCorruptError(`${seg.path}: not a write-ahead log segment`);
  }
  const r = readFrames(buf, WAL_MAGIC.length);
  if (r.bad) {
    if (!isLast) throw new StoreCorruptError(`${seg.path}: corrupt record at offset ${String(r.goodEnd)}`);
    await truncate(seg.path, r.goodEnd);
    return { payloads: r.payloads, droppedBytes: buf.length - r.goodEnd };
  }
  return { payloads: r.payloads, droppedBytes: 0 };
}

export async function removeSegments(dir: string, segs: readonly WalSegment[]): Promise<void> {
  for (const s of segs) await unlink(s.path).catch(() => undefined);
  await fsyncDir(dir);
}

/** The segment being appended to. */
export class WalWriter {
  readonly seq: number;
  private readonly fh: FileHandle;
  private readonly sync: boolean;
  bytes = 0;

  private constructor(seq: number, fh: FileHandle, sync: boolean) {
    this.seq = seq;
    this.fh = fh;
    this.sync = sync;
  }

  static async create(dir: string, seq: number, sync: boolean): Promise<WalWriter> {
    const path = join(dir, segmentName(seq));
    const fh = await open(path, 'w', 0o600);
    await fh.write(WAL_MAGIC);
    if (sync) {
      await fh.sync();
      await fsyncDir(dir);
    }
    return new WalWriter(seq, fh, sync);
  }

  async append(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    if (this.sync) await this.fh.datasync();
    this.bytes += buf.length;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
