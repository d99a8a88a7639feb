import { z } from 'zod';

// What a daemon answers on its control socket. The CLI validates every reply against these
// before it prints it, and `--json` prints exactly them, so scripts can rely on the shape.

const ms = z.number().int();
const fault = z.strictObject({ code: z.string(), message: z.string(), atMs: ms });
export type FaultView = z.infer<typeof fault>;

export const certificateViewSchema = z.strictObject({
  subject: z.string(),
  issuer: z.string(),
  serial: z.string(),
  sha256: z.string(),
  notBeforeMs: ms,
  notAfterMs: ms,
  /** whole days until notAfter (negative: expired) */
  expiresInDays: z.number().int(),
});

export const tokenInfoSchema = z.strictObject({
  /** e.g. open, absent, wrong_pin, locked */
  state: z.string(),
  module: z.string(),
  tokenLabel: z.string(),
  keyLabel: z.string(),
  mechanism: z.string(),
  certificate: certificateViewSchema.nullable(),
  signatures: z.number().int().min(0),
  pendingEntries: z.number().int().min(0),
});
export type TokenInfo = z.infer<typeof tokenInfoSchema>;

export const gateStatusViewSchema = z.strictObject({
  kind: z.literal('gate'),
  siteId: z.string(),
  gateId: z.string(),
  version: z.string(),
  uptimeS: z.number().min(0),
  /** ok: nothing wrong; degraded: a fault is raised but punches are taken or held */
  health: z.enum(['ok', 'degraded', 'fault']),
  readers: z.array(z.strictObject({
    name: z.string(),
    kind: z.string(),
    lane: z.string(),
    direction: z.enum(['in', 'out']),
    state: z.enum(['ok', 'fault', 'absent']),
    lastReadMs: ms.nullable(),
    /** where it is plugged (a /dev/serial/by-id link, an I2C bus, GPIO lines) */
    device: z.string().optional(),
  })),
  relays: z.array(z.strictObject({
    lane: z.string(),
    direction: z.enum(['in', 'out']),
    state: z.enum(['closed', 'open', 'fault']),
    pulses: z.number().int().min(0),
  })),
  fireAlarm: z.enum(['normal', 'active', 'not-wired']),
  token: z.strictObject({ state: z.string(), certificate: certificateViewSchema.nullable() }),
  clock: z.strictObject({ synced: z.boolean(), nowMs: ms }),
  roster: z.strictObject({ version: z.number().int().nullable(), size: z.number().int().min(0) }),
  journal: z.strictObject({
    headSeq: z.number().int(),
    unacked: z.number().int().min(0),
    oldestUnackedMs: ms.nullable(),
    /** false after a write failed (disk full): punches are held in memory and retried */
    accepting: z.boolean(),
  }),
  hub: z.strictObject({ connected: z.boolean(), lastAckMs: ms.nullable(), inFlight: z.number().int().min(0) }),
  faults: z.array(fault),
});
export type GateStatusView = z.infer<typeof gateStatusViewSchema>;

export const hubStatusViewSchema = z.strictObject({
  kind: z.literal('hub'),
  siteId: z.string(),
  version: z.string(),
  uptimeS: z.number().min(0),
  health: z.enum(['ok', 'degraded', 'fault']),
  broker: z.strictObject({ connected: z.boolean() }),
  gates: z.array(z.strictObject({ gateId: z.string(), online: z.boolean(), lastSeenMs: ms.nullable(), certExpiresInDays: z.number().int().nullable() })),
  /** upload queue by state (pending, sent, accepted, rejected…) */
  queue: z.record(z.string(), z.number().int().min(0)),
  platform: z.strictObject({ mode: z.string(), lastOkMs: ms.nullable() }),
  faults: z.array(fault),
});
export type HubStatusView = z.infer<typeof hubStatusViewSchema>;

export const statusViewSchema = z.discriminatedUnion('kind', [gateStatusViewSchema, hubStatusViewSchema]);
export type StatusView = z.infer<typeof statusViewSchema>;

export const punchViewSchema = z.strictObject({
  seq: z.number().int().min(0),
  punchId: z.string(),
  timeMs: ms,
  clockSynced: z.boolean(),
  lane: z.string(),
  direction: z.enum(['in', 'out']),
  credential: z.string(),
  workerId: z.string().nullable(),
  decision: z.enum(['granted', 'denied']),
  reason: z.string(),
  /** confirmed, timeout, interrupted; null while the passage is open (or for a denied punch) */
  passage: z.string().nullable(),
  acked: z.boolean(),
});
export type PunchView = z.infer<typeof punchViewSchema>;
export const punchListSchema = z.array(punchViewSchema);

export const rosterInfoSchema = z.strictObject({
  siteId: z.string().nullable(),
  version: z.number().int().nullable(),
  size: z.number().int().min(0),
  credentials: z.record(z.string(), z.number().int().min(0)),
});
export type RosterInfo = z.infer<typeof rosterInfoSchema>;

export const rosterWorkerViewSchema = z.strictObject({
  workerId: z.string(),
  name: z.string(),
  status: z.string(),
  idValidTo: z.string().nullable(),
  credentials: z.array(z.string()),
});
export type RosterWorkerView = z.infer<typeof rosterWorkerViewSchema>;
export const rosterMatchesSchema = z.array(rosterWorkerViewSchema);

export const openResultSchema = z.strictObject({
  lane: z.string(),
  direction: z.enum(['in', 'out']),
  /** the journal entry recording the manual open, when the gate journals it */
  punchId: z.string().nullable(),
  passage: z.string().nullable(),
});
export type OpenResult = z.infer<typeof openResultSchema>;
