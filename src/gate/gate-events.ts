import type { Direction, PassageEntry, PunchEntry, PunchTime } from '../core/entries.js';
import { REASON_SIGNALS, type ReasonCode } from '../core/reasons.js';
import { passageEventSchema, tailgatingEventSchema, type PassageEvent, type PassageEventType, type TailgatingEvent } from '../mqtt/events.js';
import type { IndicatorPattern } from './hw/indicator.js';

/**
 * What a worker sees and what a dashboard gets for one attempt. A reason core/reasons.ts knows
 * maps by its signal (a green reason is a pass); `not_registered` is "unknown"; every other
 * refusal (rules, lock-down, an unknown lane) is "denied".
 */
export function outcomeOf(decision: 'granted' | 'denied', reason: string): 'granted' | 'denied' | 'unknown' {
  if (decision === 'granted') return 'granted';
  if (reason === 'not_registered') return 'unknown';
  const signal = REASON_SIGNALS[reason as ReasonCode] as (typeof REASON_SIGNALS)[ReasonCode] | undefined;
  return signal?.led === 'green' ? 'granted' : 'denied';
}

export function indicatorFor(p: Pick<PunchEntry, 'decision' | 'reason'>): IndicatorPattern {
  return outcomeOf(p.decision, p.reason);
}

/**
 * The `gate/<gateId>/event` document for a journalled attempt (mqtt/events.ts). Never an ID
 * number: the person is named by workerId only. A manual open is not an attempt and has none.
 */
export function passageEventOf(p: PunchEntry): PassageEvent | null {
  if (p.credential.kind === 'manual') return null;
  const type: PassageEventType = outcomeOf(p.decision, p.reason);
  return passageEventSchema.parse({
    v: 1,
    event_type: type,
    gateId: p.gateId,
    lane: p.lane,
    direction: p.direction,
    atMs: p.time.ms,
    clockSynced: p.time.clockSynced,
    method: p.credential.kind,
    score: p.face ? clamp01(p.face.score) : null,
    liveness: p.face ? clamp01(p.face.liveness) : null,
    reason: p.reason,
    workerId: p.workerId,
    personType: p.workerId ? 'worker' : 'unknown',
    punchId: p.punchId,
    photoHash: p.photoHash,
  });
}

/** An attempt that could not be journalled (the journal refused it): nothing opened, no punch. */
export function refusedEventOf(
  r: { gateId: string; lane: string; direction: Direction; method: 'card' | 'wiegand' | 'idcard' | 'face'; code: string },
  time: Pick<PunchTime, 'ms' | 'clockSynced'>,
): PassageEvent {
  return passageEventSchema.parse({
    v: 1,
    event_type: 'denied',
    gateId: r.gateId,
    lane: r.lane,
    direction: r.direction,
    atMs: time.ms,
    clockSynced: time.clockSynced,
    method: r.method,
    score: null,
    liveness: null,
    reason: r.code.slice(0, 64),
    workerId: null,
    personType: 'unknown',
    punchId: null,
    photoHash: null,
  });
}

/**
 * A face attempt that journalled no punch: `spoof` (liveness failed), `unknown` (a live face no
 * enrolled worker matches clearly enough), `no_face` (the index holds no enrolled face to match).
 */
export function faceEventOf(
  r: { gateId: string; lane: string; direction: Direction; type: 'spoof' | 'unknown' | 'no_face'; reason: string; score: number | null; liveness: number | null },
  time: Pick<PunchTime, 'ms' | 'clockSynced'>,
): PassageEvent {
  return passageEventSchema.parse({
    v: 1,
    event_type: r.type,
    gateId: r.gateId,
    lane: r.lane,
    direction: r.direction,
    atMs: time.ms,
    clockSynced: time.clockSynced,
    method: 'face',
    score: r.score === null ? null : clamp01(r.score),
    liveness: r.liveness === null ? null : clamp01(r.liveness),
    reason: r.reason.slice(0, 64),
    workerId: null,
    personType: 'unknown',
    punchId: null,
    photoHash: null,
  });
}

/** More than one person went through on one granted release: the passage's sensor count says how many. */
export function isTailgating(passage: Pick<PassageEntry, 'sensorCount'>, punch: Pick<PunchEntry, 'decision'>): boolean {
  return punch.decision === 'granted' && passage.sensorCount >= 2;
}

/** The `gate/<gateId>/event` document for a tail-gating passage (mqtt/events.ts). */
export function tailgatingEventOf(punch: PunchEntry, passage: PassageEntry): TailgatingEvent {
  return tailgatingEventSchema.parse({
    v: 1,
    kind: 'tailgating',
    event_type: 'tailgating',
    gateId: punch.gateId,
    lane: punch.lane,
    direction: punch.direction,
    sensorCount: passage.sensorCount,
    punchId: punch.punchId,
    workerId: punch.workerId,
    atMs: passage.time.ms,
    clockSynced: passage.time.clockSynced,
  });
}

/** A punch-less event: the site's fire alarm changed state (published on the event topic too). */
export interface FireAlarmEvent {
  v: 1;
  kind: 'fire_alarm';
  event_type: 'fire_alarm';
  state: 'active' | 'cleared';
  gateId: string;
  /** lanes switched into (active) or out of (cleared) free passage */
  lanes: string[];
  atMs: number;
  /** wall ms, monotonic ms and whether the wall clock was synchronised, as in a punch's time */
  time: PunchTime;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
