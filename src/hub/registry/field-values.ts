/**
 * Normalisers for the values people type into spreadsheets: dates in several spellings, 长期,
 * sex and role in Chinese or English. Each returns the canonical value, or the input unchanged
 * so the schema reports it as wrong.
 */

const DAY_SPELLINGS = [
  /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/,
  /^(\d{4})年(\d{1,2})月(\d{1,2})日?$/,
  /^(\d{4})(\d{2})(\d{2})$/,
];

/** yyyy-MM-dd from 2026-1-5, 2026/01/05, 2026.01.05, 2026年1月5日, 20260105. */
export function normalizeDay(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  for (const re of DAY_SPELLINGS) {
    const m = re.exec(s);
    if (m) return `${m[1]}-${m[2].padStart(2, '0')}-${m[3].padStart(2, '0')}`;
  }
  return s;
}

export function isCalendarDay(day: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1900 && y <= 2199 && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** A validity end: a day, or null for 长期 (long-term, no end). */
export function normalizeValidTo(v: unknown): unknown {
  if (typeof v === 'string' && /^\s*(长期|长期有效|long-?term)\s*$/i.test(v)) return null;
  return normalizeDay(v);
}

/** "2016.01.01-2036.01.01" or "2020.05.01-长期" as GA 467 and ID card scans print them. */
export function splitValidityPeriod(v: string): { from: string; to: string } | null {
  const m = /^\s*(\d{4}[-/.]?\d{2}[-/.]?\d{2})\s*[-~至—–]\s*(\d{4}[-/.]?\d{2}[-/.]?\d{2}|长期|长期有效)\s*$/.exec(v);
  return m ? { from: m[1], to: m[2] } : null;
}

export function normalizeSex(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['男', 'm', 'male', '1'].includes(s)) return 'male';
  if (['女', 'f', 'female', '2'].includes(s)) return 'female';
  return s;
}

/** National standard 证件类型 codes; 01 is the resident ID card (the only one with a check digit). */
export const ID_TYPES = {
  '01': '居民身份证',
  '02': '军官证',
  '03': '武警警官证',
  '04': '士兵证',
  '05': '护照',
  '06': '港澳居民来往内地通行证',
  '07': '台湾居民来往大陆通行证',
  '08': '港澳台居民居住证',
  '09': '外国人永久居留身份证',
} as const;

export type IdType = keyof typeof ID_TYPES;

export function normalizeIdType(v: unknown): unknown {
  if (typeof v === 'number') return String(v).padStart(2, '0');
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (/^\d$/.test(s)) return `0${s}`;
  for (const [code, name] of Object.entries(ID_TYPES)) if (s === name) return code;
  if (s === '身份证') return '01';
  return s;
}

export const ROLES = ['worker', 'team_leader', 'manager'] as const;
export type Role = (typeof ROLES)[number];

export function normalizeRole(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (['建筑工人', '工人', '作业人员', 'worker'].includes(s)) return 'worker';
  if (['班组长', 'team_leader', 'team leader'].includes(s)) return 'team_leader';
  if (['管理人员', 'manager'].includes(s)) return 'manager';
  return s;
}

/** Empty cells and nulls mean "not given" for optional fields. */
export function blankToUndefined(v: unknown): unknown {
  return v === null || (typeof v === 'string' && v.trim() === '') ? undefined : v;
}
