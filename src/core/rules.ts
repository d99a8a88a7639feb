import type { Decision, Direction } from './entries.js';
import type { Presence } from './presence.js';
import type { ReasonCode } from './reasons.js';
import { shanghaiDate, validOn } from './shanghai-time.js';
import { DEFAULT_SITE_RULES, minutesOf, type SiteRules } from './site-rules.js';
import type { RosterWorker } from './worker.js';

export type { ReasonCode } from './reasons.js';

export interface AccessDecision {
  decision: Decision;
  reason: ReasonCode;
}

export interface DecisionContext {
  nowMs: number;
  direction: Direction;
  /** the site's rules (from the roster); default: status and ID validity only */
  rules?: SiteRules;
  /** where the worker is now (shared by the hub, or the gate's own fallback); null: unknown */
  presence?: Presence | null;
  /**
   * card+face mode: the worker each factor identified. undefined: that factor was not presented;
   * null: presented but matched nobody.
   */
  factors?: { card?: string | null; face?: string | null };
}

const DAY_MS = 86_400_000;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * Pure access rules: who may pass, and why not. Checked in this order, the first failing rule
 * names the reason: registered; card and face agree (card+face mode); site status; ID card
 * validity; special-trade certificate; allowed hours; anti-passback (which may only flag).
 */
export function decide(worker: RosterWorker | null, ctx: DecisionContext): AccessDecision {
  if (!worker) return deny('not_registered');
  const rules = ctx.rules ?? DEFAULT_SITE_RULES;
  const entering = ctx.direction === 'in';

  if (rules.verification === 'card+face') {
    const card = ctx.factors?.card;
    const face = ctx.factors?.face;
    if (card === undefined || face === undefined) return deny('card_face_incomplete');
    if (card !== worker.workerId || face !== worker.workerId) return deny('card_face_mismatch');
  }

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

  if (entering || rules.papersOnExit) {
    if (rules.idExpiry && !validOn(worker.idValidTo, ctx.nowMs)) return deny('id_expired');
    const certReason = certificateProblem(worker, rules, ctx.nowMs);
    if (certReason) return deny(certReason);
  }

  if (rules.hours && (entering || rules.hours.directions === 'both') && !withinHours(rules.hours.windows, ctx.nowMs)) {
    return deny('outside_hours');
  }

  const apb = rules.antiPassback;
  if (apb.policy !== 'off' && (entering || apb.directions === 'both') && repeatsDirection(ctx, apb.resetDaily)) {
    return apb.policy === 'deny' ? deny('anti_passback') : { decision: 'granted', reason: 'passback_recorded' };
  }
  return { decision: 'granted', reason: 'ok' };
}

function certificateProblem(worker: RosterWorker, rules: SiteRules, nowMs: number): ReasonCode | null {
  const trade = worker.trade;
  if (trade === undefined || rules.specialTrades.length === 0 || !rules.specialTrades.includes(trade)) return null;
  let any = false;
  for (const c of worker.certificates ?? []) {
    if (c.trade !== trade) continue;
    if (validOn(c.validTo, nowMs)) return null;
    any = true;
  }
  return any ? 'cert_expired' : 'cert_missing';
}

/** `from` inclusive, `to` exclusive, to the millisecond; a window with to < from runs across midnight. */
export function withinHours(windows: readonly { from: string; to: string }[], nowMs: number): boolean {
  const msOfDay = (((nowMs + SHANGHAI_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS;
  for (const w of windows) {
    const from = minutesOf(w.from) * 60_000;
    const to = minutesOf(w.to) * 60_000;
    if (from < to ? msOfDay >= from && msOfDay < to : msOfDay >= from || msOfDay < to) return true;
  }
  return false;
}

function repeatsDirection(ctx: DecisionContext, resetDaily: boolean): boolean {
  const p = ctx.presence;
  if (!p || p.direction !== ctx.direction) return false;
  return !resetDaily || shanghaiDate(p.atMs) === shanghaiDate(ctx.nowMs);
}

function deny(reason: ReasonCode): AccessDecision {
  return { decision: 'denied', reason };
}
