import { SitegateError } from '../../core/errors.js';

export type TextEncodingName = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'gbk';

export interface DecodedText {
  text: string;
  encoding: TextEncodingName;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * Decodes an import file. A BOM decides; otherwise strict UTF-8, and GBK (GB18030, which Excel
 * and WPS write for "CSV" on Chinese Windows) when the bytes are not UTF-8. Short GBK texts can
 * happen to be valid UTF-8 (联通), so valid UTF-8 that reads as rare characters while GBK reads
 * as common Chinese is taken as GBK.
 */
export function decodeImportText(bytes: Uint8Array, forced?: 'utf-8' | 'gbk'): DecodedText {
  if (forced === 'gbk') return { text: decodeGbk(bytes), encoding: 'gbk' };
  if (startsWith(bytes, UTF8_BOM)) return { text: decodeUtf8(bytes.subarray(3)), encoding: 'utf-8-bom' };
  if (forced === 'utf-8') return { text: decodeUtf8(bytes), encoding: 'utf-8' };
  if (startsWith(bytes, [0xff, 0xfe])) return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le' };
  if (startsWith(bytes, [0xfe, 0xff])) return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be' };
  let utf8: string | null = null;
  try {
    utf8 = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    utf8 = null;
  }
  if (utf8 !== null) {
    if (!hasHighBytes(bytes)) return { text: utf8, encoding: 'utf-8' };
    const gbk = tryGbk(bytes);
    if (gbk !== null && commonShare(gbk) > commonShare(utf8) + 0.3) return { text: gbk, encoding: 'gbk' };
    return { text: utf8, encoding: 'utf-8' };
  }
  return { text: decodeGbk(bytes), encoding: 'gbk' };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SitegateError('import_encoding', 'the file starts with a UTF-8 BOM but is not valid UTF-8');
  }
}

function decodeGbk(bytes: Uint8Array): string {
  const text = tryGbk(bytes);
  if (text === null) throw new SitegateError('import_encoding', 'the file is neither UTF-8 nor GBK text; save it as "CSV UTF-8" and try again');
  return text;
}

function tryGbk(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('gb18030', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function hasHighBytes(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80) return true;
  return false;
}

/** Share of non-ASCII characters that are common CJK ideographs or CJK / full-width punctuation. */
function commonShare(text: string): number {
  let high = 0;
  let common = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) continue;
    high++;
    if ((c >= 0x4e00 && c <= 0x9fa5) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xffef) || c === 0xb7) common++;
  }
  return high === 0 ? 1 : common / high;
}
