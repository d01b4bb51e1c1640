import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DurationError, formatDuration, formatDurationNs, parseDuration, parseDurationNs } from '../../../src/cli/config/duration.ts';

describe('Go duration parsing', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['30s', 30_000],
    ['1m0s', 60_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['24h0m0s', 86_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['.5s', 500],
    ['5.s', 5000],
    ['1h2m3.5s', 3_723_500],
    ['2h22m', 8_520_000],
    ['-1s', -1000],
    ['+2s', 2000],
    ['1000us', 1],
    ['1000\u00b5s', 1],
    ['1000\u03bcs', 1],
    ['500us', 0.5],
    ['1000000ns', 1],
    ['1m30s', 90_000],
    ['3m30s15s', 225_000],
  ];
  for (const [text, ms] of valid) {
    it(`parses ${JSON.stringify(text)} as ${ms}ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  const invalid: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['abc', 'time: invalid duration "abc"'],
    ['1', 'time: missing unit in duration "1"'],
    ['30', 'time: missing unit in duration "30"'],
    ['1x', 'time: unknown unit "x" in duration "1x"'],
    ['1sec', 'time: unknown unit "sec" in duration "1sec"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-', 'time: invalid duration "-"'],
    ['1s ', 'time: unknown unit "s " in duration "1s "'],
    [' 1s', 'time: invalid duration " 1s"'],
    ['9223372036855ms', 'time: invalid duration "9223372036855ms"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
  ];
  for (const [text, message] of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseDuration(text), (e: unknown) => e instanceof DurationError && e.message === message);
    });
  }

  it('accepts the largest duration and the most negative one', () => {
    assert.equal(parseDurationNs('9223372036854775807ns'), 2n ** 63n - 1n);
    assert.equal(parseDurationNs('-9223372036854775808ns'), -(2n ** 63n));
  });
});

describe('Go duration formatting', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [30_000, '30s'],
    [60_000, '1m0s'],
    [900_000, '15m0s'],
    [3_600_000, '1h0m0s'],
    [86_400_000, '24h0m0s'],
    [1500, '1.5s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.5, '500\u00b5s'],
    [0.000_001, '1ns'],
    [3_723_500, '1h2m3.5s'],
    [-1000, '-1s'],
    [-90_000, '-1m30s'],
  ];
  for (const [ms, text] of cases) {
    it(`formats ${ms}ms as ${text}`, () => {
      assert.equal(formatDuration(ms), text);
    });
  }

  it('round-trips through parse and format', () => {
    for (const text of ['1h2m3.5s', '500ms', '1.001s', '2562047h47m16.854775807s', '-3m0s', '1ns', '1.5\u00b5s']) {
      assert.equal(formatDurationNs(parseDurationNs(text)), text);
    }
  });
});
