import { decryptIdNumber } from '../national-crypto.js';
import { MAX_IMAGE_BYTES, MAX_ROWS_PER_REQUEST } from '../national-wire.js';
import { isValidLookingIdNumber } from '../../core/id-number.js';

export interface CheckedRow {
  idCardType: string;
  /** decrypted */
  idNumber: string;
  date: string;
  direction: '01' | '02';
  image?: string;
  channel?: string;
  attendType?: string;
  lng?: number;
  lat?: number;
}

export interface CheckedUpload {
  projectCode: string;
  teamSysNo: number;
  rows: CheckedRow[];
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** A field that breaks the standard: the message names it, e.g. `dataList[3].direction`. */
class FieldError extends Error {}

function fail(field: string, why: string): never {
  throw new FieldError(`${field}: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requiredString(obj: Record<string, unknown>, key: string, field: string): string {
  const v = obj[key];
  if (v === undefined || v === null || v === '') fail(field, 'is required');
  if (typeof v !== 'string') fail(field, 'must be a string');
  return v;
}

function optionalString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(field, 'must be a string');
  return v;
}

function optionalCoordinate(obj: Record<string, unknown>, key: string, field: string, limit: number): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || Math.abs(n) > limit) fail(field, `must be a number within ±${limit}`);
  return n;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === se;
}

function checkImage(image: string, field: string): void {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(image) || image.length % 4 !== 0) fail(field, 'must be base64');
  const bytes = Buffer.from(image, 'base64');
  if (bytes.length > MAX_IMAGE_BYTES) fail(field, `is ${bytes.length} bytes, the limit is ${MAX_IMAGE_BYTES}`);
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) fail(field, 'must be a JPEG');
}

function checkRow(raw: unknown, i: number, appSecret: string, checkIdChecksum: boolean): CheckedRow {
  const at = `dataList[${i}]`;
  if (!isRecord(raw)) fail(at, 'must be an object');
  const idCardType = requiredString(raw, 'idCardType', `${at}.idCardType`);
  const encrypted = requiredString(raw, 'idCardNumber', `${at}.idCardNumber`);
  let idNumber: string;
  try {
    idNumber = decryptIdNumber(encrypted, appSecret);
  } catch {
    fail(`${at}.idCardNumber`, 'does not decrypt with the app secret');
  }
  if (idCardType === '01' && !isValidLookingIdNumber(idNumber, checkIdChecksum)) {
    fail(`${at}.idCardNumber`, 'is not a valid resident ID number');
  }
  const date = requiredString(raw, 'date', `${at}.date`);
  if (!isDateTime(date)) fail(`${at}.date`, 'must be "yyyy-MM-dd HH:mm:ss"');
  const direction = requiredString(raw, 'direction', `${at}.direction`);
  if (direction !== '01' && direction !== '02') fail(`${at}.direction`, 'must be "01" (in) or "02" (out)');
  const row: CheckedRow = { idCardType, idNumber, date, direction };
  const image = optionalString(raw, 'image', `${at}.image`);
  if (image !== undefined) {
    checkImage(image, `${at}.image`);
    row.image = image;
  }
  const channel = optionalString(raw, 'channel', `${at}.channel`);
  if (channel !== undefined) row.channel = channel;
  const attendType = optionalString(raw, 'attendType', `${at}.attendType`);
  if (attendType !== undefined) row.attendType = attendType;
  const lng = optionalCoordinate(raw, 'lng', `${at}.lng`, 180);
  if (lng !== undefined) row.lng = lng;
  const lat = optionalCoordinate(raw, 'lat', `${at}.lat`, 90);
  if (lat !== undefined) row.lat = lat;
  return row;
}

/** Checks WorkerAttendance.Add `data` as the standard requires and decrypts its ID numbers. */
export function checkAttendanceData(data: unknown, appSecret: string, checkIdChecksum: boolean): Checked<CheckedUpload> {
  try {
    if (!isRecord(data)) fail('data', 'must be a JSON object');
    const projectCode = requiredString(data, 'projectCode', 'projectCode');
    const teamSysNo = data.teamSysNo;
    if (teamSysNo === undefined || teamSysNo === null) fail('teamSysNo', 'is required');
    if (typeof teamSysNo !== 'number' || !Number.isSafeInteger(teamSysNo)) fail('teamSysNo', 'must be an integer');
    const list = data.dataList;
    if (!Array.isArray(list)) fail('dataList', 'must be an array');
    if (list.length === 0) fail('dataList', 'is empty');
    if (list.length > MAX_ROWS_PER_REQUEST) fail('dataList', `has ${list.length} rows, at most ${MAX_ROWS_PER_REQUEST} are allowed`);
    const rows = list.map((raw, i) => checkRow(raw, i, appSecret, checkIdChecksum));
    return { ok: true, value: { projectCode, teamSysNo, rows } };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, message: err.message };
    throw err;
  }
}
