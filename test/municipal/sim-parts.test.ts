import { describe, expect, it } from 'vitest';
import { idNumberFrom, isValidLookingIdNumber } from '../../src/core/id-number.js';
import { SlidingWindow } from '../../src/municipal/sim/rate-window.js';

describe('resident ID number check', () => {
  it('computes the check character of the known example', () => {
    expect(idNumberFrom('11010519491231002')).toBe('11010519491231002X');
  });

  it('accepts a well-formed number and refuses a wrong check character, a bad birth date or a wrong length', () => {
    expect(isValidLookingIdNumber('11010519491231002X')).toBe(true);
    expect(isValidLookingIdNumber('110105194912310021')).toBe(false);
    expect(isValidLookingIdNumber('110105194912310021', false)).toBe(true);
    expect(isValidLookingIdNumber(idNumberFrom('11010519490231002'))).toBe(false); // 31 February
    expect(isValidLookingIdNumber('11010519491231002')).toBe(false);
  });
});

describe('sliding rate window', () => {
  it('admits N per window, per key, and tells when the next one gets in', () => {
    const w = new SlidingWindow(2, 1000);
    expect(w.admit('a', 0)).toEqual({ admitted: true });
    expect(w.admit('a', 400)).toEqual({ admitted: true });
    expect(w.admit('a', 900)).toEqual({ admitted: false, retryAfterMs: 100 });
    expect(w.admit('b', 900)).toEqual({ admitted: true });
    expect(w.admit('a', 1000)).toEqual({ admitted: true });
    expect(w.admit('a', 1200)).toEqual({ admitted: false, retryAfterMs: 200 });
  });

  it('refuses a limit below one or a window of zero', () => {
    expect(() => new SlidingWindow(0, 1000)).toThrow(TypeError);
    expect(() => new SlidingWindow(1, 0)).toThrow(TypeError);
  });
});
