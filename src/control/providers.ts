import type { z } from 'zod';
import type { ControlCommand, ControlRequest } from './protocol.js';
import {
  gateStatusViewSchema,
  hubStatusViewSchema,
  openResultSchema,
  punchListSchema,
  rosterInfoSchema,
  rosterMatchesSchema,
  tokenInfoSchema,
  type GateStatusView,
  type HubStatusView,
  type OpenResult,
  type PunchView,
  type RosterInfo,
  type RosterWorkerView,
  type TokenInfo,
} from './views.js';

export type PunchQuery = { pending: true; limit: number } | { last: number };

/** What the gate daemon offers its technicians on the control socket. */
export interface GateControl {
  status(): GateStatusView;
  /** newest first for `last`, oldest first for `pending` (unacknowledged by the hub) */
  punches(q: PunchQuery): PunchView[];
  /** Opens the lane once, journalled and logged as a manual open by `who`; settles with the passage. */
  open(lane: string, direction: 'in' | 'out', who: string, reason?: string): Promise<OpenResult>;
  rosterInfo(): RosterInfo;
  /** by worker id (exact) or name (part of it) */
  rosterFind(query: string, limit: number): RosterWorkerView[];
  tokenInfo(): TokenInfo;
}

/** What the hub daemon offers on its control socket (operator commands come with the hub's issues). */
export interface HubControl {
  status(): HubStatusView;
}

type Req<C extends ControlCommand> = Extract<ControlRequest, { cmd: C }>;
export type ControlHandler<C extends ControlCommand> = (req: Req<C>) => unknown;
export type ControlHandlers = { [C in ControlCommand]?: ControlHandler<C> };

/** A provider's answer is checked before it goes out: a provider bug is an error reply, not a bad view. */
function checked<T>(schema: z.ZodType<T>, what: string, value: T): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${what} view is invalid at ${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  return r.data;
}

export function gateHandlers(g: GateControl): ControlHandlers {
  return {
    ping: () => ({ daemon: 'gate' }),
    status: () => checked(gateStatusViewSchema, 'status', g.status()),
    punches: (r) => checked(punchListSchema, 'punches', g.punches(r.args)),
    open: async (r) => checked(openResultSchema, 'open', await g.open(r.args.lane, r.args.direction, r.args.who, r.args.reason)),
    'roster.info': () => checked(rosterInfoSchema, 'roster', g.rosterInfo()),
    'roster.find': (r) => checked(rosterMatchesSchema, 'roster', g.rosterFind(r.args.query, r.args.limit)),
    'token.info': () => checked(tokenInfoSchema, 'token', g.tokenInfo()),
  };
}

export function hubHandlers(h: HubControl): ControlHandlers {
  return {
    ping: () => ({ daemon: 'hub' }),
    status: () => checked(hubStatusViewSchema, 'status', h.status()),
  };
}
