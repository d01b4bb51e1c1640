import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { levelForVerbosity, memoryLogger } from '../../src/util/logger.ts';

describe('logger', () => {
  it('maps klog verbosity to levels', () => {
    assert.equal(levelForVerbosity(0), 'info');
    assert.equal(levelForVerbosity(2), 'debug');
    assert.equal(levelForVerbosity(5), 'trace');
  });
  it('records structured fields', () => {
    const { logger, records } = memoryLogger(0);
    logger.info({ service: 'ns/a' }, 'hello');
    logger.debug('hidden at v0');
    assert.equal(records.length, 1);
    const [record] = records;
    assert.ok(record);
    assert.equal(record['service'], 'ns/a');
    assert.equal(record['msg'], 'hello');
  });
});
