import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsEncoding, formatGoTime, parseBindAddress, splitTarget, toRequestListener, listenHttp } from '../../src/server/http.ts';
import { memoryLogger } from '../../src/util/logger.ts';
import { get } from './helpers.ts';

describe('parseBindAddress', () => {
  const good: [string, string | undefined, number][] = [
    ['0.0.0.0:10256', '0.0.0.0', 10256],
    ['127.0.0.1:10249', '127.0.0.1', 10249],
    ['[::]:10256', '::', 10256],
    ['[::1]:0', '::1', 0],
    [':10256', undefined, 10256],
    ['localhost:80', 'localhost', 80],
  ];
  for (const [input, host, port] of good) {
    it(`parses ${input}`, () => {
      assert.deepEqual(parseBindAddress(input), { host, port });
    });
  }
  for (const bad of ['10256', '::1:80', '[::1]80', '[10.0.0.1]:80', '1.2.3.4:', '1.2.3.4:65536', '1.2.3.4:-1', '1.2.3.4:http']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseBindAddress(bad), { code: 'SERVER_BAD_ADDRESS' });
    });
  }
});

describe('formatGoTime', () => {
  const cases: [number | undefined, string][] = [
    [undefined, '0001-01-01T00:00:00Z'],
    [Date.UTC(2024, 0, 1), '2024-01-01T00:00:00Z'],
    [Date.UTC(2024, 0, 1, 12, 30, 5, 120), '2024-01-01T12:30:05.12Z'],
    [Date.UTC(2024, 0, 1, 12, 30, 5, 7), '2024-01-01T12:30:05.007Z'],
  ];
  for (const [ms, want] of cases) {
    it(`formats ${String(ms)} as ${want}`, () => {
      assert.equal(formatGoTime(ms), want);
    });
  }
});

describe('request helpers', () => {
  it('splits path and query without normalising', () => {
    const { path, query } = splitTarget('/healthz?verbose&exclude=ping');
    assert.equal(path, '/healthz');
    assert.equal(query.has('verbose'), true);
    assert.equal(query.get('exclude'), 'ping');
    assert.equal(splitTarget('/a//b').path, '/a//b');
  });

  it('reads Accept-Encoding with q-values', () => {
    const req = (v: string | undefined) => ({ method: 'GET', url: '/', headers: { 'accept-encoding': v } });
    assert.equal(acceptsEncoding(req('gzip, deflate, br'), 'gzip'), true);
    assert.equal(acceptsEncoding(req('GZIP;q=0.5'), 'gzip'), true);
    assert.equal(acceptsEncoding(req('gzip;q=0'), 'gzip'), false);
    assert.equal(acceptsEncoding(req('identity'), 'gzip'), false);
    assert.equal(acceptsEncoding(req(undefined), 'gzip'), false);
  });

  it('turns a throwing handler into a logged 500', async () => {
    const { logger, records } = memoryLogger(0);
    const controller = new AbortController();
    const listening = await listenHttp(
      toRequestListener(() => {
        throw new Error('handler bug');
      }, logger),
      '127.0.0.1:0',
      controller.signal,
    );
    try {
      const res = await get(`${listening.url}/x`);
      assert.equal(res.status, 500);
      assert.equal(res.text, 'Internal Server Error\n');
      assert.ok(records.some((r) => r['msg'] === 'HTTP handler failed'));
    } finally {
      controller.abort();
      await listening.closed;
    }
  });

  it('refuses to listen with an aborted signal', async () => {
    await assert.rejects(listenHttp(() => undefined, '127.0.0.1:0', AbortSignal.abort()), { code: 'SERVER_ABORTED' });
  });
});
