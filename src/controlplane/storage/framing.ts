// Record framing shared by the write-ahead log and the snapshot: each record is
//   u32 little-endian payload length | u32 little-endian CRC-32 of the payload | payload bytes
// so a reader can tell a complete record from a torn or corrupted one.

import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 8;
/** Largest payload accepted on read: anything bigger is corruption. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  body.copy(out, HEADER_BYTES);
  return out;
}

export interface ReadResult {
  /** Payloads of the complete, checksummed records, in order. */
  readonly payloads: string[];
  /** Offset just past the last good record. */
  readonly goodEnd: number;
  /** True when bytes after goodEnd did not form a valid record (torn tail or corruption). */
  readonly bad: boolean;
}

export function readFrames(buf: Buffer, start: number): ReadResult {
  const payloads: string[] = [];
  let off = start;
  while (off < buf.length) {
    if (buf.length - off < HEADER_BYTES) return { payloads, goodEnd: off, bad: true };
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (len > MAX_RECORD_BYTES || off + HEADER_BYTES + len > buf.length) return { payloads, goodEnd: off, bad: true };
    const body = buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len);
    if (crc32(body) !== sum) return { payloads, goodEnd: off, bad: true };
    payloads.push(body.toString('utf8'));
    off += HEADER_BYTES + len;
  }
  return { payloads, goodEnd: off, bad: false };
}
