import { z } from 'zod';

// Control socket protocol: one JSON object per line each way, one reply per request, in order.

export const MAX_LINE_BYTES = 64 * 1024;

const id = z.union([z.string().max(64), z.number().int()]).optional();

export const controlRequestSchema = z.discriminatedUnion('cmd', [
  z.strictObject({ id, cmd: z.literal('ping') }),
  z.strictObject({ id, cmd: z.literal('status') }),
  z.strictObject({
    id,
    cmd: z.literal('punches'),
    args: z.union([
      z.strictObject({ pending: z.literal(true), limit: z.number().int().min(1).max(1000).default(100) }),
      z.strictObject({ last: z.number().int().min(1).max(1000) }),
    ]),
  }),
  z.strictObject({
    id,
    cmd: z.literal('open'),
    args: z.strictObject({
      lane: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      direction: z.enum(['in', 'out']),
      /** the technician's login, for the log */
      who: z.string().min(1).max(64),
      reason: z.string().max(200).optional(),
    }),
  }),
  z.strictObject({ id, cmd: z.literal('roster.info') }),
  z.strictObject({ id, cmd: z.literal('roster.find'), args: z.strictObject({ query: z.string().min(1).max(100), limit: z.number().int().min(1).max(100).default(20) }) }),
  z.strictObject({ id, cmd: z.literal('token.info') }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;
export type ControlCommand = ControlRequest['cmd'];
/** A request as a client writes it (defaults may be left out). */
export type ControlRequestInput = z.input<typeof controlRequestSchema>;

export const controlErrorSchema = z.strictObject({ code: z.string(), message: z.string() });

export const controlResponseSchema = z.union([
  z.strictObject({ id: id.nullable(), ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ id: id.nullable(), ok: z.literal(false), error: controlErrorSchema }),
]);
export type ControlResponse = z.infer<typeof controlResponseSchema>;

/** Error codes a client can act on. */
export const CONTROL_ERRORS = {
  badRequest: 'bad_request',
  tooLong: 'request_too_long',
  unsupported: 'unsupported',
  failed: 'failed',
} as const;
