// Reading HTTP response bodies: whole (lists) or line by line (watches).

import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { ApiError } from './errors.ts';

/** Reads the whole body as UTF-8. Over `limit` bytes: truncates, or fails with API_DECODE. */
export async function readBody(res: IncomingMessage, limit: number, truncate: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<unknown>) {
    const buf = toBuffer(chunk);
    if (size + buf.length > limit) {
      if (truncate) {
        chunks.push(buf.subarray(0, limit - size));
        res.destroy();
        break;
      }
      res.destroy();
      throw new ApiError('API_DECODE', `response body larger than ${limit} bytes`);
    }
    chunks.push(buf);
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Yields the body's lines (without the newline); a line longer than `maxLine` is an error. */
export async function* splitLines(res: IncomingMessage, maxLine: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of res as AsyncIterable<unknown>) {
    pending += decoder.write(toBuffer(chunk));
    let start = 0;
    for (let nl = pending.indexOf('\n', start); nl >= 0; nl = pending.indexOf('\n', start)) {
      yield pending.slice(start, nl);
      start = nl + 1;
    }
    pending = pending.slice(start);
    if (pending.length > maxLine) throw new ApiError('API_DECODE', `watch line longer than ${maxLine} characters`);
  }
  pending += decoder.end();
  if (pending !== '') yield pending;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  throw new TypeError('unexpected chunk type from http response');
}
