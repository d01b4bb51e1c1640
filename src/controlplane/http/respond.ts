// Writing responses and reading request bodies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseAllDocuments } from 'yaml';
import { ApiError, badRequest } from '../errors.ts';
import { parseJson, type Json } from '../json.ts';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  const headers: Record<string, string> = {};
  const retry = err.details?.retryAfterSeconds;
  if (retry !== undefined && (err.httpStatus === 429 || err.httpStatus >= 500)) headers['Retry-After'] = String(retry);
  sendJson(res, err.httpStatus, JSON.stringify(err.toStatus()), headers);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Warning headers (RFC 7234 code 299), as kube-apiserver sends for unknown fields. */
export function warningHeaders(warnings: readonly string[]): Record<string, string[]> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Parses a JSON (or YAML) request body. */
export function parseBody(buf: Buffer, contentType: string | undefined): Json {
  const type = mediaType(contentType);
  const text = buf.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    const docs = parseAllDocuments(text);
    const first = docs[0];
    if (!first || Array.isArray(first) || first.errors.length) throw badRequest('error decoding YAML request body');
    return first.toJSON() as Json;
  }
  try {
    return parseJson(text);
  } catch (err) {
    throw badRequest(`couldn't decode the request body as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
