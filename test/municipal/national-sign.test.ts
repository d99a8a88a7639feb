import { describe, expect, it } from 'vitest';
import { signingString, signParams, timestampOf } from '../../src/municipal/national-sign.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const VECTOR = {
  version: '1.0',
  timestamp: '20240101080000',
  nonce: 'abc123',
  method: 'WorkerAttendance.Add',
  format: 'json',
  data: '{"projectCode":"P1","teamSysNo":1,"dataList":[]}',
  appid: 'testappid',
};

describe('national request signature', () => {
  it('matches the DESIGN.md test vector', () => {
    expect(signParams(VECTOR, SECRET)).toBe('f90e912f641aa803709c19b6de3cfee2aa61654eab65a086e0c1d4173b82f670');
  });

  it('signs keys in sorted order with raw values, the secret appended, all lower-cased', () => {
    expect(signingString({ b: 'X Y', a: '{"P":1}' }, 'SeCrEt')).toBe('a={"p":1}&b=x y&appsecret=secret');
  });

  it('leaves an existing sign parameter out of the signature', () => {
    expect(signParams({ ...VECTOR, sign: 'whatever' }, SECRET)).toBe(signParams(VECTOR, SECRET));
  });

  it('changes when any value changes, including the JSON in data', () => {
    const other = { ...VECTOR, data: '{"projectCode":"P2","teamSysNo":1,"dataList":[]}' };
    expect(signParams(other, SECRET)).not.toBe(signParams(VECTOR, SECRET));
  });

  it('formats the timestamp as yyyyMMddHHmmss in UTC+8', () => {
    expect(timestampOf(Date.UTC(2024, 0, 1, 0, 0, 0))).toBe('20240101080000');
    expect(timestampOf(Date.UTC(2024, 11, 31, 16, 30, 5))).toBe('20250101003005');
  });
});
