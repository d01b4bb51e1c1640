// Reading HTTP response bodies: whole, item by item (lists) or line by line (watches).

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

/**
 * Reads a Kubernetes list body (`{"kind":…,"metadata":{…},"items":[{…},…]}`) as it streams in,
 * handing each element of the top-level `items` array to `onItem` as its own JSON text, and
 * returns the rest of the document with `"items":[]`. The whole body never exists as one string
 * or one object graph: at 10k EndpointSlices that graph is ≈ 150 MiB, against ≈ 1 MiB for one
 * slice at a time (each decoded into the model and dropped). Over `limit` bytes: API_DECODE.
 */
export async function readListBody(res: IncomingMessage, limit: number, onItem: (json: string) => void): Promise<string> {
  const scanner = new ListScanner(onItem);
  let size = 0;
  for await (const chunk of res as AsyncIterable<unknown>) {
    const buf = toBuffer(chunk);
    size += buf.length;
    if (size > limit) {
      res.destroy();
      throw new ApiError('API_DECODE', `response body larger than ${limit} bytes`);
    }
    scanner.write(buf);
  }
  return scanner.end();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * The structure of a JSON text, byte by byte: depth, strings and their escapes. Structural
 * characters are ASCII and UTF-8 never uses ASCII bytes inside a multi-byte character, so bytes
 * are enough. Syntax is left to JSON.parse, which sees every item and the envelope.
 */
export class ListScanner {
  readonly #onItem: (json: string) => void;
  #depth = 0;
  #inString = false;
  #escape = false;
  /** A string at depth 1 (a top-level key or scalar value) being read, and the last one read. */
  #topString: string | undefined;
  #lastTopString = '';
  #key = '';
  /** Inside the top-level `items` array. */
  #inItems = false;
  /** Pieces of the item being read (it may span chunks), undefined between items. */
  #item: Buffer[] | undefined;
  readonly #envelope: Buffer[] = [];

  constructor(onItem: (json: string) => void) {
    this.#onItem = onItem;
  }

  write(buf: Buffer): void {
    let itemStart = 0;
    let envStart = this.#inItems ? -1 : 0;
    const n = buf.length;
    for (let i = 0; i < n; i++) {
      if (this.#item !== undefined) {
        // Most of the body: inside an item, scanned by a tight loop to the byte closing it.
        const end = this.#skipItem(buf, i);
        if (end === n) break;
        this.#item.push(buf.subarray(itemStart, end + 1));
        const pieces = this.#item;
        this.#item = undefined;
        this.#onItem(pieces.length === 1 ? (pieces[0] ?? Buffer.alloc(0)).toString('utf8') : Buffer.concat(pieces).toString('utf8'));
        i = end;
        continue;
      }
      // Outside items (the envelope: a few hundred bytes) byte by byte, remembering the
      // strings at depth 1 (to know which key an array belongs to).
      if (this.#inString) {
        const c = buf[i] ?? 0;
        if (this.#escape) this.#escape = false;
        else if (c === BACKSLASH) this.#escape = true;
        else if (c === QUOTE) {
          this.#inString = false;
          if (this.#topString !== undefined) this.#lastTopString = this.#topString;
          this.#topString = undefined;
        } else if (this.#topString !== undefined) this.#topString += String.fromCharCode(c);
        continue;
      }
      const c = buf[i] ?? 0;
      switch (c) {
        case QUOTE:
          this.#inString = true;
          if (this.#depth === 1) this.#topString = '';
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          this.#depth++;
          if (this.#depth === 2 && c === OPEN_BRACKET && this.#key === 'items') {
            this.#inItems = true;
            this.#envelope.push(buf.subarray(envStart, i + 1));
            envStart = -1;
          } else if (this.#depth === 3 && this.#inItems) {
            if (c !== OPEN_BRACE) throw new ApiError('API_DECODE', 'list items must be objects');
            this.#item = [];
            itemStart = i;
          }
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          this.#depth--;
          if (this.#depth === 1 && this.#inItems) {
            this.#inItems = false;
            envStart = i;
          }
          break;
        case COLON:
          if (this.#depth === 1) this.#key = this.#lastTopString;
          break;
        case COMMA:
          if (this.#depth === 1) this.#key = '';
          break;
        default:
          if (this.#depth === 2 && this.#inItems && c > 0x20) throw new ApiError('API_DECODE', 'list items must be objects');
      }
    }
    if (this.#item !== undefined) this.#item.push(buf.subarray(itemStart));
    if (envStart >= 0) this.#envelope.push(buf.subarray(envStart));
  }

  /**
   * From `from` inside an item (depth ≥ 3): the index of the byte that closes it (depth back to
   * 2), or the chunk's length if the item goes on in the next chunk. State kept in locals: this
   * loop sees almost every byte of a list.
   */
  #skipItem(buf: Buffer, from: number): number {
    let depth = this.#depth;
    let inString = this.#inString;
    let escape = this.#escape;
    const n = buf.length;
    let i = from;
    for (; i < n; i++) {
      const c = buf[i];
      if (inString) {
        if (escape) escape = false;
        else if (c === BACKSLASH) escape = true;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 2) break;
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escape = escape;
    return i;
  }

  /** The document without its items; an unfinished document is an API_DECODE error. */
  end(): string {
    if (this.#depth !== 0 || this.#inString) throw new ApiError('API_DECODE', 'list body ended early');
    return Buffer.concat(this.#envelope).toString('utf8');
  }
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
