import type { Decision, Direction } from './entries.js';
import { validOn } from './shanghai-time.js';
import type { RosterWorker } from './worker.js';

/** Reason codes, shown to the worker (LED/buzzer pattern) and to the operator. */
export type ReasonCode =
  | 'ok'
  | 'not_registered'
  | 'blacklisted'
  | 'suspended'
  | 'not_entered'
  | 'left_site'
  | 'id_expired';

export interface AccessDecision {
  decision: Decision;
  reason: ReasonCode;
}

export interface DecisionContext {
  nowMs: number;
  direction: Direction;
}

/** Pure access rules: who may pass, and why not. */
export function decide(worker: RosterWorker | null, ctx: DecisionContext): AccessDecision {
  if (!worker) return deny('not_registered');
  switch (worker.status) {
    case 'blacklisted':
      return deny('blacklisted');
    case 'suspended':
      return deny('suspended');
    case 'left':
      return deny('left_site');
    case 'registered':
      return deny('not_entered');
    case 'entered':
      break;
  }
  if (!validOn(worker.idValidTo, ctx.nowMs)) return deny('id_expired');
  return { decision: 'granted', reason: 'ok' };
}

function deny(reason: ReasonCode): AccessDecision {
  return { decision: 'denied', reason };
}
