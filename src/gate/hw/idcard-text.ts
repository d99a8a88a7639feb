import { isValidLookingIdNumber } from '../../core/id-number.js';
import { nationName } from './idcard-nations.js';

/** The text block of a resident ID card: 256 bytes of UCS-2LE, fixed-width fields padded with spaces. */
export const TEXT_BYTES = 256;

/** Field widths in bytes, in order. */
export const TEXT_LAYOUT = [
  ['name', 30],
  ['sex', 2],
  ['nation', 4],
  ['birth', 16],
  ['address', 70],
  ['idNumber', 36],
  ['authority', 30],
  ['validFrom', 16],
  ['validTo', 16],
  ['reserved', 36],
] as const;

export type TextField = (typeof TEXT_LAYOUT)[number][0];

/** GB/T 2261.1 sex codes. */
export const SEXES = { '0': 'unknown', '1': 'male', '2': 'female', '9': 'unspecified' } as const;
export type Sex = (typeof SEXES)[keyof typeof SEXES];

/** The printed validity end of a card that never expires. */
export const LONG_TERM = '长期';

/** What a resident ID card says, decoded. Dates are yyyy-MM-dd. */
export interface IdCardText {
  name: string;
  sex: Sex;
  /** GB 3304 code, e.g. '01'. */
  nationCode: string;
  /** e.g. 汉 */
  nation: string;
  birthDate: string;
  address: string;
  idNumber: string;
  /** 签发机关 */
  authority: string;
  validFrom: string;
  /** null for 长期 (the card never expires). */
  validTo: string | null;
}

export type IdTextErrorCode =
  | 'bad_size'
  | 'bad_name'
  | 'bad_sex'
  | 'bad_nation'
  | 'bad_date'
  | 'bad_id_number'
  | 'birth_mismatch';

export type IdTextResult =
  | { ok: true; card: IdCardText }
  | { ok: false; code: IdTextErrorCode; message: string };

/** The raw strings of each field, padding removed. */
export function splitIdText(block: Uint8Array): Record<TextField, string> {
  const buf = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  const fields = {} as Record<TextField, string>;
  let at = 0;
  for (const [name, width] of TEXT_LAYOUT) {
    fields[name] = buf.toString('utf16le', at, at + width).replace(/[ \u0000]+$/u, '');
    at += width;
  }
  return fields;
}

/**
 * Decodes and checks the text block. Messages never contain the ID number: they may be logged.
 */
export function decodeIdText(block: Uint8Array): IdTextResult {
  if (block.length !== TEXT_BYTES) return fail('bad_size', `text block is ${block.length} bytes, not ${TEXT_BYTES}`);
  const f = splitIdText(block);
  if (f.name.trim() === '') return fail('bad_name', 'name is empty');
  const sex = Object.hasOwn(SEXES, f.sex) ? SEXES[f.sex as keyof typeof SEXES] : null;
  if (!sex) return fail('bad_sex', `sex code ${JSON.stringify(f.sex)} is not a GB/T 2261.1 code`);
  const nation = nationName(f.nation);
  if (!nation) return fail('bad_nation', `nation code ${JSON.stringify(f.nation)} is not in GB 3304`);
  const birthDate = cardDate(f.birth);
  if (!birthDate) return fail('bad_date', `birth date ${JSON.stringify(f.birth)} is not a date`);
  if (!/^\d{17}[\dX]$/.test(f.idNumber)) return fail('bad_id_number', 'ID number is not 17 digits and a check character');
  if (!isValidLookingIdNumber(f.idNumber)) return fail('bad_id_number', 'ID number check character or birth date is wrong');
  if (f.idNumber.slice(6, 14) !== f.birth) return fail('birth_mismatch', 'birth date differs from the one in the ID number');
  const validFrom = cardDate(f.validFrom);
  if (!validFrom) return fail('bad_date', `valid-from ${JSON.stringify(f.validFrom)} is not a date`);
  let validTo: string | null = null;
  if (f.validTo !== LONG_TERM) {
    validTo = cardDate(f.validTo);
    if (!validTo) return fail('bad_date', `valid-to ${JSON.stringify(f.validTo)} is neither a date nor ${LONG_TERM}`);
  }
  return {
    ok: true,
    card: {
      name: f.name,
      sex,
      nationCode: f.nation,
      nation,
      birthDate,
      address: f.address,
      idNumber: f.idNumber,
      authority: f.authority,
      validFrom,
      validTo,
    },
  };
}

/** yyyyMMdd → yyyy-MM-dd when it is a real calendar day. */
function cardDate(s: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

function fail(code: IdTextErrorCode, message: string): IdTextResult {
  return { ok: false, code, message };
}
