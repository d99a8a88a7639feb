import { z } from 'zod';

/** Payload schemas shared by gate and hub. Every payload from the wire is parsed by one of these. */
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a UUID');
const seq = z.number().int().min(0);

const punchTime = z.strictObject({
  ms: z.number().int(),
  clockSynced: z.boolean(),
  bootId: z.string().min(1).max(64),
  monoMs: z.number().min(0),
});

export const punchEntrySchema = z.strictObject({
  type: z.literal('punch'),
  seq,
  prevHash: hex64,
  punchId: uuid,
  gateId: id,
  siteId: id,
  lane: id,
  direction: z.enum(['in', 'out']),
  time: punchTime,
  workerId: z.string().min(1).max(64).nullable(),
  credential: z.strictObject({ kind: z.enum(['card', 'wiegand', 'idcard', 'face', 'manual']), hmac: hex64 }),
  decision: z.enum(['granted', 'denied']),
  reason: z.string().min(1).max(64),
  face: z.strictObject({ score: z.number(), liveness: z.number() }).nullable(),
  photoHash: hex64.nullable(),
});

export const passageEntrySchema = z.strictObject({
  type: z.literal('passage'),
  seq,
  prevHash: hex64,
  gateId: id,
  punchId: uuid,
  outcome: z.enum(['confirmed', 'timeout', 'interrupted']),
  sensorCount: z.number().int().min(0),
  time: punchTime,
});

export const journalEntrySchema = z.discriminatedUnion('type', [punchEntrySchema, passageEntrySchema]);

export const signedHeadSchema = z.strictObject({
  seq,
  hash: hex64,
  sigAlg: z.enum(['RSA-SHA256', 'ECDSA-P256-SHA256', 'SM2-SM3']),
  sig: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64').max(2048),
  certSha256: hex64,
});

export const punchBatchSchema = z.strictObject({
  gateId: id,
  epoch: z.number().int().min(0),
  entries: z.array(journalEntrySchema).min(1).max(1000),
  head: signedHeadSchema,
});

export const punchAckSchema = z.strictObject({
  gateId: id,
  seq: z.number().int().min(-1),
  punchIds: z.array(uuid).max(2000),
});

/** Parses JSON text then the schema; returns a readable error naming the field on failure. */
export function parsePayload<T extends z.ZodType>(
  schema: T,
  payload: Buffer | string,
): { ok: true; value: z.infer<T> } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString());
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  const at = first.path.length ? first.path.join('.') : '(top level)';
  return { ok: false, error: `${at}: ${first.message}` };
}
