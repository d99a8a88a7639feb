import { z } from 'zod';
import { idCheckChar, isValidLookingIdNumber } from '../../core/id-number.js';
import type { SiteStatus } from '../../core/worker.js';
import {
  blankToUndefined, ID_TYPES, isCalendarDay, normalizeDay, normalizeIdType, normalizeRole, normalizeSex, normalizeValidTo, ROLES,
  type IdType, type Role,
} from './field-values.js';

/**
 * A worker as the hub's registry holds it, after the practitioner-information system (从业人员
 * 信息): identity, employer and team, trade and role, certificates, optional history; plus the
 * site status and the credentials bound on this site.
 */

const day = z.string().refine(isCalendarDay, 'must be a date (yyyy-MM-dd, yyyy/MM/dd, yyyy.MM.dd or yyyyMMdd)');
const dayIn = z.preprocess(normalizeDay, day);
const optDay = z.preprocess((v) => normalizeDay(blankToUndefined(v)), day.optional());
const validTo = z.preprocess(
  (v) => normalizeValidTo(v === '' ? undefined : v),
  day.nullable().refine((v) => v !== undefined, 'required: a date or 长期'),
);
const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);
const optText = (max: number) => z.preprocess(blankToUndefined, text(max).optional());

const identityInput = z.strictObject({
  name: text(64),
  sex: z.preprocess((v) => normalizeSex(blankToUndefined(v)), z.enum(['male', 'female'], 'must be 男/女 (male/female)').optional()),
  /** 民族, as printed on the card (汉) */
  nation: optText(16),
  birthDate: optDay,
  idType: z.preprocess((v) => normalizeIdType(blankToUndefined(v)), z.enum(Object.keys(ID_TYPES) as [IdType, ...IdType[]], `must be an ID type code ${Object.keys(ID_TYPES).join('/')} or its name`).default('01')),
  idNumber: z.preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase() : v), z.string().min(1, 'must not be empty').max(32)),
  issuingAuthority: optText(64),
  idValidFrom: optDay,
  /** last valid day; null: 长期 */
  idValidTo: validTo,
  address: optText(128),
  /** the ID card or registration photo, relative to the hub's state directory */
  photoRef: optText(256),
});

const certificateInput = z.strictObject({
  name: text(64),
  /** 工种 this certificate licenses; the special-trade rule matches it against the worker's trade */
  trade: text(32),
  level: optText(32),
  number: text(64),
  issueDate: optDay,
  validTo,
  issuingAuthority: optText(64),
});

const historyInput = z.strictObject({
  titles: z.array(z.strictObject({ name: text(64), level: optText(32), number: optText(64), issueDate: optDay })).default([]),
  education: z.array(z.strictObject({ level: text(32), school: optText(64), major: optText(64), graduatedOn: optDay })).default([]),
  registrations: z.array(z.strictObject({ name: text(64), number: text(64), validTo: z.preprocess((v) => normalizeValidTo(blankToUndefined(v)), day.nullable().optional()) })).default([]),
});

const employmentInput = z.strictObject({
  /** 所属单位 (participating company) */
  employer: text(128),
  /** 统一社会信用代码 */
  employerCode: z.preprocess(blankToUndefined, z.string().trim().toUpperCase().regex(/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/, 'must be an 18-character unified social credit code').optional()),
  /** 班组 name */
  team: text(64),
  /** the platform's team number (rows are uploaded per team) */
  teamSysNo: z.preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number('must be a number').int('must be a whole number').positive('must be positive')),
  projectCode: text(64),
  /** 工种 */
  trade: text(32),
  role: z.preprocess((v) => normalizeRole(blankToUndefined(v)), z.enum(ROLES, 'must be worker/team_leader/manager (建筑工人/班组长/管理人员)').default('worker')),
  phone: z.preprocess(blankToUndefined, z.string().trim().regex(/^(?:\+?86)?1\d{10}$|^0\d{2,3}-?\d{7,8}$/, 'must be a mobile (11 digits) or landline number').optional()),
});

/** One worker as an import file gives it (JSON form; CSV rows are mapped onto it). */
export const workerInputSchema = z.strictObject({
  workerId: z.preprocess(blankToUndefined, z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -').optional()),
  identity: identityInput,
  employment: employmentInput,
  certificates: z.array(certificateInput).default([]),
  history: historyInput.optional(),
}).superRefine((w, ctx) => {
  const id = w.identity;
  const at = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['identity', field], message });
  if (id.idType === '01') {
    if (!isValidLookingIdNumber(id.idNumber, false)) {
      at('idNumber', 'must be an 18-character resident ID number (17 digits, then a digit or X) with a real birth date');
      return;
    }
    const expected = idCheckChar(id.idNumber);
    if (expected !== id.idNumber[17]) at('idNumber', `check digit is ${id.idNumber[17]}, expected ${expected}`);
    if (id.birthDate !== undefined && id.birthDate !== birthDateOf(id.idNumber)) at('birthDate', `${id.birthDate} differs from the ID number's ${birthDateOf(id.idNumber)}`);
    if (id.sex !== undefined && id.sex !== sexOf(id.idNumber)) at('sex', `differs from the ID number (${sexOf(id.idNumber) === 'male' ? '男' : '女'})`);
  }
  if (id.idValidFrom !== undefined && id.idValidTo !== null && id.idValidFrom > id.idValidTo) at('idValidTo', `${id.idValidTo} is before the start ${id.idValidFrom}`);
}).transform((w) => {
  if (w.identity.idType !== '01') return w;
  const identity = { ...w.identity, birthDate: w.identity.birthDate ?? birthDateOf(w.identity.idNumber), sex: w.identity.sex ?? sexOf(w.identity.idNumber) };
  return { ...w, identity };
});

export type WorkerInput = z.output<typeof workerInputSchema>;
export type WorkerIdentity = WorkerInput['identity'];
export type WorkerEmployment = WorkerInput['employment'];
export type WorkerCertificate = WorkerInput['certificates'][number];
export type { IdType, Role };

function birthDateOf(idNumber: string): string {
  return `${idNumber.slice(6, 10)}-${idNumber.slice(10, 12)}-${idNumber.slice(12, 14)}`;
}

function sexOf(idNumber: string): 'male' | 'female' {
  return Number(idNumber[16]) % 2 === 1 ? 'male' : 'female';
}

export interface SiteState {
  status: SiteStatus;
  /** Shanghai days */
  enteredOn: string | null;
  leftOn: string | null;
  blockedOn: string | null;
  /** why the worker was blacklisted or suspended */
  reason: string | null;
  /** the status a block replaced, restored when the block is lifted */
  statusBefore?: SiteStatus;
  changedAtMs: number;
}

export interface BoundCard {
  /** IC card UID as upper-case hex, or a Wiegand number in decimal */
  number: string;
  boundAtMs: number;
}

export type FaceTemplateState = 'pending' | 'ready' | 'failed';

export interface FaceEnrolment {
  faceId: string;
  /** enrolment photo, relative to the hub's state directory */
  photoRef: string;
  photoSha256: string;
  /** 'pending' until the face pipeline turns the photo into a template */
  state: FaceTemplateState;
  /** which embedder made the template (the model's id and version) */
  modelId: string | null;
  /** base64 template bytes */
  template: string | null;
  note: string | null;
  enrolledAtMs: number;
}

export interface WorkerCredentials {
  cards: BoundCard[];
  wiegand: BoundCard[];
  /** the resident ID card (kind 'idcard') is the identity's ID number: bound while this is true */
  idCard: boolean;
  faces: FaceEnrolment[];
}

/** The registry's record of one worker. */
export interface WorkerRecord extends Omit<WorkerInput, 'workerId'> {
  workerId: string;
  site: SiteState;
  credentials: WorkerCredentials;
  createdAtMs: number;
  updatedAtMs: number;
}
