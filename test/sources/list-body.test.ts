// Lists read item by item as they stream in (src/sources/api/http-body.ts ListScanner, the
// client's onListItem): same items and envelope as JSON.parse of the whole body, for every way
// the body can be cut into chunks; and items reach the handlers before the body has ended.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ListScanner } from '../../src/sources/api/http-body.ts';
import { createApiClient } from '../../src/sources/api/client.ts';
import { ApiError } from '../../src/sources/api/errors.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { prng } from '../helpers/prng.ts';

// Strings with every structural character, escapes (\" \\ \u), multi-byte UTF-8, an "items" key
// nested inside an item, and top-level keys before and after items.
const ITEMS = [
  { metadata: { name: 'a', annotations: { note: 'braces } { ] [ , : and "quotes" and \\ and \\" end' } }, spec: { items: [1, [2, { x: '€' }]] } },
  { metadata: { name: 'b\u00e9\u4e2d\ud83d\ude00', labels: { items: 'items' } }, endpoints: [] },
  { metadata: { name: 'c' }, tail: '\\', more: '\\\\"' },
];
const DOC = { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'x"y' }, items: ITEMS, after: { items: ['not', 'these'] } };
const BODY = Buffer.from(JSON.stringify(DOC, null, 1));

function scan(chunks: readonly Buffer[]): { items: unknown[]; envelope: unknown } {
  const items: unknown[] = [];
  const s = new ListScanner((json) => { items.push(JSON.parse(json)); });
  for (const c of chunks) s.write(c);
  return { items, envelope: JSON.parse(s.end()) };
}

const EXPECTED_ENVELOPE = { ...DOC, items: [] };

describe('list bodies read item by item', () => {
  it('gives every item and the envelope, whatever the chunking', () => {
    assert.deepEqual(scan([BODY]), { items: ITEMS, envelope: EXPECTED_ENVELOPE });
    // Every split point into two chunks, then one byte per chunk, then random chunkings.
    for (let cut = 0; cut <= BODY.length; cut++) {
      assert.deepEqual(scan([BODY.subarray(0, cut), BODY.subarray(cut)]), { items: ITEMS, envelope: EXPECTED_ENVELOPE }, `cut at ${String(cut)}`);
    }
    assert.deepEqual(scan([...BODY].map((b) => Buffer.from([b]))), { items: ITEMS, envelope: EXPECTED_ENVELOPE });
    const random = prng(7);
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < BODY.length;) {
        const len = 1 + Math.floor(random() * 40);
        chunks.push(BODY.subarray(at, at + len));
        at += len;
      }
      assert.deepEqual(scan(chunks), { items: ITEMS, envelope: EXPECTED_ENVELOPE });
    }
  });

  it('handles empty, null and missing items, and rejects truncated bodies and non-object items', () => {
    assert.deepEqual(scan([Buffer.from('{"metadata":{"resourceVersion":"1"},"items":[]}')]).envelope, { metadata: { resourceVersion: '1' }, items: [] });
    assert.deepEqual(scan([Buffer.from('{"items":null,"metadata":{}}')]), { items: [], envelope: { items: null, metadata: {} } });
    assert.deepEqual(scan([Buffer.from('{"metadata":{}}')]), { items: [], envelope: { metadata: {} } });
    assert.throws(() => scan([BODY.subarray(0, BODY.length - 3)]), (e: unknown) => e instanceof ApiError && e.code === 'API_DECODE');
    assert.throws(() => scan([Buffer.from('{"items":[{"a":1},2]}')]), /list items must be objects/);
    assert.throws(() => scan([Buffer.from('{"items":[[1]]}')]), /list items must be objects/);
  });

  it('hands items over while the body is still arriving', { timeout: 10_000 }, async () => {
    let release = (): void => undefined;
    const released = new Promise<void>((r) => { release = r; });
    const srv = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"kind":"ServiceList","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"first"}},');
      void released.then(() => { res.end('{"metadata":{"name":"second"}}]}'); });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = srv.address();
    assert.ok(addr !== null && typeof addr !== 'string');
    const client = createApiClient({ master: `http://127.0.0.1:${String(addr.port)}`, userAgent: 't' }, silentLogger());
    try {
      const seen: string[] = [];
      const done = client.request('/api/v1/services', {
        onListItem: (json) => {
          seen.push((JSON.parse(json) as { metadata: { name: string } }).metadata.name);
          if (seen.length === 1) release();
        },
      });
      const res = await done;
      assert.equal(res.status, 200);
      assert.deepEqual(seen, ['first', 'second']);
      assert.deepEqual(JSON.parse(res.body), { kind: 'ServiceList', metadata: { resourceVersion: '9' }, items: [] });
    } finally {
      client.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });
});
