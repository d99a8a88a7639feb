import { createHash } from 'node:crypto';
import { shanghaiCompact } from '../core/shanghai-time.js';

/**
 * The string the national standard signs: keys sorted, raw (not URL-encoded) values joined as
 * `k=v&…`, then `&appsecret=SECRET`, the whole lower-cased. A `sign` key, if present, is left out.
 */
export function signingString(params: Record<string, string>, appSecret: string): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== 'sign')
    .sort()
    .map((k) => `${k}=${params[k]}`);
  pairs.push(`appsecret=${appSecret}`);
  return pairs.join('&').toLowerCase();
}

/** Hex SHA-256 of the signing string (lower-case hex). */
export function signParams(params: Record<string, string>, appSecret: string): string {
  return createHash('sha256').update(signingString(params, appSecret), 'utf8').digest('hex');
}

/** The `timestamp` parameter: yyyyMMddHHmmss in UTC+8. */
export function timestampOf(ms: number): string {
  return shanghaiCompact(ms);
}
