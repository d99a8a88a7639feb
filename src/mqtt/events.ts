import { z } from 'zod';

/**
 * One passage attempt, published by the gate on `gate/<gateId>/event` (QoS 0 or 1, not retained),
 * stateless: everything a dashboard shows about the attempt is in it. Never an ID number or a
 * face template: the person is named by workerId only. `event_type` is Home Assistant's name
 * for the kind of event (its MQTT event entity reads that key).
 */
export const PASSAGE_EVENT_TYPES = ['granted', 'denied', 'unknown', 'spoof', 'no_face'] as const;
export type PassageEventType = (typeof PASSAGE_EVENT_TYPES)[number];

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** 17 digits and a check character, anywhere in a string: an ID number that must not be here. */
const ID_NUMBER_LIKE = /\d{17}[\dXx]/;
const noIdNumber = (s: string) => !ID_NUMBER_LIKE.test(s);

export const passageEventSchema = z.strictObject({
  v: z.literal(1),
  /** granted; denied (known person, refused by a rule); unknown (credential or face not enrolled); spoof (liveness failed); no_face */
  event_type: z.enum(PASSAGE_EVENT_TYPES),
  gateId: id,
  lane: id,
  direction: z.enum(['in', 'out']),
  /** wall ms of the decision; `clockSynced` false before the gate's clock was set */
  atMs: z.number().int(),
  clockSynced: z.boolean(),
  method: z.enum(['card', 'wiegand', 'idcard', 'face']),
  /** face match score (0..1), null for other methods */
  score: z.number().min(0).max(1).nullable(),
  /** face liveness (0..1), null for other methods */
  liveness: z.number().min(0).max(1).nullable(),
  /** the rule's reason code (ok, expired, not_on_roster, lockdown, …) */
  reason: z.string().min(1).max(64).refine(noIdNumber, 'must not contain an ID number'),
  workerId: z.string().min(1).max(64).refine(noIdNumber, 'must not contain an ID number').nullable(),
  /** worker / visitor / unknown (Shanghai's face-device requirement: person type per passage) */
  personType: z.enum(['worker', 'manager', 'visitor', 'unknown']).default('unknown'),
  /** the punch journalled for this attempt, when one was */
  punchId: z.string().uuid().nullable(),
  photoHash: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
});
export type PassageEvent = z.infer<typeof passageEventSchema>;
export type PassageEventInput = z.input<typeof passageEventSchema>;

/**
 * A punch-less event on the same topic: the site's fire alarm went active (every lane of the gate
 * held open) or cleared. `kind` tells it apart from a passage attempt.
 */
export const fireAlarmEventSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('fire_alarm'),
  event_type: z.literal('fire_alarm'),
  state: z.enum(['active', 'cleared']),
  gateId: id,
  /** lanes switched into (active) or out of (cleared) free passage */
  lanes: z.array(id),
  atMs: z.number().int(),
  /** wall ms, whether the wall clock was synchronised, the boot and its monotonic ms, as in a punch */
  time: z.strictObject({ ms: z.number().int(), clockSynced: z.boolean(), bootId: z.string().min(1), monoMs: z.number().int() }),
});
export type FireAlarmEventDoc = z.infer<typeof fireAlarmEventSchema>;

/**
 * A granted passage whose sensor saw more than one person go through on one release (tail-gating),
 * published on the same topic after the passage settled. The worker who badged is named; the
 * follower is not known.
 */
export const tailgatingEventSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('tailgating'),
  event_type: z.literal('tailgating'),
  gateId: id,
  lane: id,
  direction: z.enum(['in', 'out']),
  /** distinct sensor activations during the passage (people), at least 2 */
  sensorCount: z.number().int().min(2),
  punchId: z.string().uuid(),
  workerId: z.string().min(1).max(64).refine(noIdNumber, 'must not contain an ID number').nullable(),
  atMs: z.number().int(),
  clockSynced: z.boolean(),
});
export type TailgatingEvent = z.infer<typeof tailgatingEventSchema>;
