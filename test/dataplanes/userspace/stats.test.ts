// The statistics helpers are themselves tested against published table values.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chiSquareCritical, chiSquareSurvival, erfc, normalCritical } from './stats.ts';

const close = (a: number, b: number, tol: number): void => { assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`); };

describe('statistics helpers', () => {
  it('erfc matches known values', () => {
    close(erfc(0), 1, 1e-7);
    close(erfc(1), 0.157299207, 1e-7);
    close(erfc(3), 2.20904970e-5, 1e-10);
  });
  it('chi-square survival and critical values match tables', () => {
    close(chiSquareSurvival(7.815, 3), 0.05, 1e-4);
    close(chiSquareSurvival(9.488, 4), 0.05, 1e-4);
    close(chiSquareSurvival(16.919, 9), 0.05, 1e-4);
    close(chiSquareCritical(1, 0.01), 6.635, 1e-3);
    close(chiSquareCritical(3, 1e-6), 30.664, 1e-2);
  });
  it('normal critical values match tables', () => {
    close(normalCritical(0.05), 1.95996, 1e-4);
    close(normalCritical(1e-6), 4.89164, 1e-3);
  });
});
