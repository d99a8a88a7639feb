import { z } from 'zod';

/**
 * Operator commands and their acknowledgments. Commands go to `gate/<gateId>/cmd` or `hub/cmd`
 * (QoS 1, never retained); every command is answered on the matching `…/cmd/ack` with its `id`
 * (null when the sender gave none, as Home Assistant's fixed payloads do).
 */
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const commandId = z.string().min(1).max(64);
const common = {
  id: commandId.optional(),
  /** a command still undelivered after this wall time is refused as stale (an "open" hours late is a hazard) */
  notAfterMs: z.number().int().optional(),
};

export const gateCommandSchema = z.discriminatedUnion('cmd', [
  /** let one person through the lane, once */
  z.strictObject({ cmd: z.literal('open-once'), lane: id, direction: z.enum(['in', 'out']).default('in'), ...common }),
  /** refuse every credential on the lane (all lanes when none is named) until release */
  z.strictObject({ cmd: z.literal('lock-down'), lane: id.optional(), ...common }),
  /** back to normal operation after a lock-down */
  z.strictObject({ cmd: z.literal('release'), lane: id.optional(), ...common }),
  /** fetch the roster snapshot again */
  z.strictObject({ cmd: z.literal('resync-roster'), ...common }),
  /**
   * enrolment at the gate: the face station's next frame with exactly one good face becomes the
   * worker's template, answered on `gate/<gateId>/enrol` (mqtt/enrol.ts) with this requestId
   */
  z.strictObject({
    cmd: z.literal('capture-face'),
    workerId: id,
    requestId: id,
    /** how long the station waits for a good face (default 30 s) */
    timeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
    ...common,
  }),
]);
export type GateCommand = z.infer<typeof gateCommandSchema>;

export const hubCommandSchema = z.discriminatedUnion('cmd', [
  /** joint-test mode: send at most `rows` waiting rows now (still paced) */
  z.strictObject({ cmd: z.literal('upload-now'), rows: z.number().int().min(1).max(200).default(5), ...common }),
  /** lift a platform halt (-2, -3, -4) after the cause is fixed */
  z.strictObject({ cmd: z.literal('resume-platform'), ...common }),
  /** re-read the security token file now (it is also re-read before every request) */
  z.strictObject({ cmd: z.literal('reload-token'), ...common }),
  /** publish the status and the Home Assistant discovery documents again */
  z.strictObject({ cmd: z.literal('publish-status'), ...common }),
]);
export type HubCommand = z.infer<typeof hubCommandSchema>;

/** `unavailable`: the gate cannot do it at all (capture-face on a gate without face matching). */
export const COMMAND_ACK_CODES = ['ok', 'bad_command', 'stale', 'unknown_lane', 'busy', 'wrong_mode', 'failed', 'unavailable'] as const;

export const commandAckSchema = z.strictObject({
  id: commandId.nullable(),
  /** the command's name, or null when the payload could not be read */
  cmd: z.string().max(64).nullable(),
  ok: z.boolean(),
  code: z.enum(COMMAND_ACK_CODES),
  message: z.string().max(500),
  /** what the command did (rows sent, delivered…) */
  result: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).optional(),
  atMs: z.number().int(),
});
export type CommandAck = z.infer<typeof commandAckSchema>;

/** The ack for a payload that is not a valid command: names what was wrong. */
/** The answers to one parsed command: each carries its id and name, stamped by `atMs` when made. */
export function commandAcker(cmd: { id?: string | null; cmd: string }, atMs: () => number) {
  return (ok: boolean, code: CommandAck['code'], message: string, result?: CommandAck['result']): CommandAck => ({
    id: cmd.id ?? null,
    cmd: cmd.cmd,
    ok,
    code,
    message,
    ...(result ? { result } : {}),
    atMs: atMs(),
  });
}

export function badCommandAck(payload: Buffer | string, error: string, atMs: number): CommandAck {
  let cmdId: string | null = null;
  let cmd: string | null = null;
  try {
    const raw = JSON.parse(payload.toString()) as Record<string, unknown>;
    if (typeof raw?.id === 'string' && raw.id.length <= 64) cmdId = raw.id;
    if (typeof raw?.cmd === 'string' && raw.cmd.length <= 64) cmd = raw.cmd;
  } catch {
    // not JSON: id and cmd stay null
  }
  return { id: cmdId, cmd, ok: false, code: 'bad_command', message: error.slice(0, 500), atMs };
}
