import { randomBytes } from 'node:crypto';
import { credentialHmac } from '../core/credential.js';
import type { Direction } from '../core/entries.js';
import type { SiteStatus } from '../core/worker.js';
import type { RosterDocument } from '../gate/roster/roster-file.js';
import { idNumberFrom } from '../core/id-number.js';

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '强', '磊', '军', '洋', '勇', '艳', '杰', '涛', '明', '超', '刚', '平', '辉'];

export interface DemoWorker {
  workerId: string;
  name: string;
  idNumber: string;
  teamSysNo: number;
  status: SiteStatus;
  /** Wiegand 26-bit card: facility and card number */
  facility: number;
  card: number;
}

export interface Swipe {
  gate: 'in' | 'out';
  direction: Direction;
  facility: number;
  card: number;
  /** null for a card the roster does not know */
  workerId: string | null;
}

/** A demo person known by face only (no card): one face cut from face-api's sample photos. */
export interface FaceWorker {
  workerId: string;
  name: string;
  idNumber: string;
  teamSysNo: number;
  /** the roster's face template (base64) */
  template: string;
}

export interface Shift {
  siteKey: Buffer;
  projectCode: string;
  workers: DemoWorker[];
  swipes: Swipe[];
  /** workers enrolled by face (the camera replays their crops); empty without faces */
  faceWorkers: FaceWorker[];
}

/** Face-only workers F001… for the given templates, with ID numbers and teams like the others. */
export function faceWorkers(templates: readonly string[], teams = 4, seed = 5150): FaceWorker[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return templates.map((template, i) => {
    const birth = 1965 + Math.floor(rnd() * 40);
    const first17 = `310104${birth}${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}${String(Math.floor(rnd() * 1000)).padStart(3, '0')}`;
    return {
      workerId: `F${String(i + 1).padStart(3, '0')}`,
      name: SURNAMES[Math.floor(rnd() * SURNAMES.length)] + GIVEN[Math.floor(rnd() * GIVEN.length)],
      idNumber: idNumberFrom(first17),
      teamSysNo: 1 + (i % teams),
      template,
    };
  });
}

/** Wiegand 26-bit data value (facility and card) as the gate reports it. */
export function wiegandValue(facility: number, card: number): number {
  return ((facility & 0xff) << 16) | (card & 0xffff);
}

/**
 * A generated site and its morning: `arrivals` workers of the day shift badge in, the night shift
 * (`departures`) badges out, and a few cards that must be refused — unknown cards and a
 * blacklisted worker — are mixed in. Deterministic for a given seed.
 */
export function generateShift(opts: { arrivals: number; departures: number; teams?: number; seed?: number }): Shift {
  let s = opts.seed ?? 20261121;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const teams = opts.teams ?? 4;
  const workers: DemoWorker[] = [];
  const total = opts.arrivals + opts.departures + 2;
  for (let i = 0; i < total; i++) {
    const birth = 1965 + Math.floor(rnd() * 40);
    const first17 = `310115${birth}${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}${String(Math.floor(rnd() * 1000)).padStart(3, '0')}`;
    workers.push({
      workerId: `W${String(i + 1).padStart(5, '0')}`,
      name: SURNAMES[Math.floor(rnd() * SURNAMES.length)] + GIVEN[Math.floor(rnd() * GIVEN.length)] + (rnd() < 0.5 ? GIVEN[Math.floor(rnd() * GIVEN.length)] : ''),
      idNumber: idNumberFrom(first17),
      teamSysNo: 1 + (i % teams),
      status: i === total - 1 ? 'blacklisted' : 'entered',
      facility: 21,
      card: 1000 + i,
    });
  }
  const swipes: Swipe[] = [];
  const dayShift = workers.slice(0, opts.arrivals);
  const nightShift = workers.slice(opts.arrivals, opts.arrivals + opts.departures);
  const maxLen = Math.max(dayShift.length, nightShift.length);
  for (let i = 0; i < maxLen; i++) {
    const a = dayShift[i];
    if (a) swipes.push({ gate: 'in', direction: 'in', facility: a.facility, card: a.card, workerId: a.workerId });
    const d = nightShift[i];
    if (d) swipes.push({ gate: 'out', direction: 'out', facility: d.facility, card: d.card, workerId: d.workerId });
    if (i % 50 === Math.min(25, Math.floor(maxLen / 3))) swipes.push({ gate: 'in', direction: 'in', facility: 99, card: 40000 + i, workerId: null });
  }
  const blacklisted = workers[workers.length - 1];
  swipes.splice(Math.floor(swipes.length / 2), 0, {
    gate: 'in',
    direction: 'in',
    facility: blacklisted.facility,
    card: blacklisted.card,
    workerId: blacklisted.workerId,
  });
  return { siteKey: randomBytes(32), projectCode: 'P-DEMO-001', workers, swipes, faceWorkers: [] };
}

export function rosterDocument(siteId: string, shift: Shift, version = 1): RosterDocument {
  return {
    version,
    siteId,
    siteKey: shift.siteKey.toString('hex'),
    workers: shift.workers.map((w) => ({
      workerId: w.workerId,
      name: w.name,
      status: w.status,
      idValidTo: null,
      credentials: [{ kind: 'wiegand' as const, hmac: credentialHmac(shift.siteKey, 'wiegand', String(wiegandValue(w.facility, w.card))) }],
    })).concat(shift.faceWorkers.map((f) => ({
      workerId: f.workerId,
      name: f.name,
      status: 'entered' as const,
      idValidTo: null,
      credentials: [],
      faceTemplates: [f.template],
    }))),
  };
}

export function registryDocument(shift: Shift) {
  return {
    workers: [...shift.workers, ...shift.faceWorkers].map((w) => ({
      workerId: w.workerId,
      name: w.name,
      idCardType: '01',
      idNumber: w.idNumber,
      projectCode: shift.projectCode,
      teamSysNo: w.teamSysNo,
    })),
  };
}
