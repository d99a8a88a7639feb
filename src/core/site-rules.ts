import { z } from 'zod';

/** HH:mm in Asia/Shanghai; 24:00 is the end of the day. */
const clockTime = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:mm (00:00-24:00)');

const hoursWindow = z.strictObject({
  /** first allowed minute (inclusive) */
  from: clockTime,
  /** end (exclusive); earlier than `from` for a window across midnight (night shift) */
  to: clockTime,
}).refine((w) => w.from !== w.to, 'from and to must differ');

/**
 * One site's access rules. The hub keeps it with the registry and it travels in the roster, so a
 * change reaches every gate with the next roster version. Every default is here.
 */
export const siteRulesSchema = z.strictObject({
  /** deny when the resident ID card's validity has ended */
  idExpiry: z.boolean().default(true),
  /** 特种作业: trades whose workers need a valid skill certificate of that trade */
  specialTrades: z.array(z.string().min(1).max(32)).max(500).default([]),
  /** allowed hours (Asia/Shanghai); null: any time */
  hours: z.strictObject({
    windows: z.array(hoursWindow).min(1).max(12),
    /** 'in': only entries are limited (a worker may always leave); 'both': exits too */
    directions: z.enum(['in', 'both']).default('in'),
  }).nullable().default(null),
  antiPassback: z.strictObject({
    /** an "in" while already in: 'deny' refuses it, 'record' lets it pass and flags it, 'off' ignores presence */
    policy: z.enum(['off', 'record', 'deny']).default('off'),
    /** 'both' also checks an "out" while already out */
    directions: z.enum(['in', 'both']).default('in'),
    /** presence from an earlier Shanghai day is forgotten (a missed "out" does not lock a worker out next morning) */
    resetDaily: z.boolean().default(true),
  }).prefault({}),
  /** 'card+face': a card and a face must both be presented and name the same worker */
  verification: z.enum(['any', 'card+face']).default('any'),
  /** check ID and certificate validity on the way out too (default: papers never keep a worker on site) */
  papersOnExit: z.boolean().default(false),
});

export type SiteRules = z.output<typeof siteRulesSchema>;
export type SiteRulesInput = z.input<typeof siteRulesSchema>;

/** Only the status and ID-validity rules: what a site gets before it configures anything. */
export const DEFAULT_SITE_RULES: SiteRules = Object.freeze(siteRulesSchema.parse({})) as SiteRules;

/** Minutes since Shanghai midnight of an HH:mm value (24:00 → 1440). */
export function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}
