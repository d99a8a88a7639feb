/** Resident ID number (GB 11643): 17 digits and an ISO 7064 MOD 11-2 check character. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

export function idCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/** Completes 17 digits into an ID number with a correct check character (tests, demo rosters). */
export function idNumberFrom(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new TypeError('an ID number starts with exactly 17 digits');
  return first17 + idCheckChar(first17);
}

/** 18 characters, a plausible birth date, and (unless told otherwise) a correct check character. */
export function isValidLookingIdNumber(id: string, checkChecksum = true): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) return false;
  return !checkChecksum || idCheckChar(id) === id[17];
}
