import { describe, expect, it } from 'vitest';
import type { Presence } from '../../src/core/presence.js';
import { REASON_SIGNALS } from '../../src/core/reasons.js';
import { decide, type DecisionContext } from '../../src/core/rules.js';
import { siteRulesSchema, type SiteRulesInput } from '../../src/core/site-rules.js';
import type { RosterWorker } from '../../src/core/worker.js';

/** Wall-clock ms of a Shanghai local time (UTC+8). */
function sh(y: number, mo: number, d: number, h = 12, mi = 0, s = 0, ms = 0): number {
  return Date.UTC(y, mo - 1, d, h - 8, mi, s, ms);
}

const NOON = sh(2026, 11, 21);
const LAST_MS_OF_21ST = sh(2026, 11, 21, 23, 59, 59, 999);
const FIRST_MS_OF_22ND = sh(2026, 11, 22, 0, 0, 0, 0);

function worker(over: Partial<RosterWorker> = {}): RosterWorker {
  return { workerId: 'W1', name: '张三', status: 'entered', idValidTo: '2030-01-01', credentials: [], ...over };
}

function rules(input: SiteRulesInput) {
  return siteRulesSchema.parse(input);
}

function ctx(over: Partial<DecisionContext> = {}): DecisionContext {
  return { nowMs: NOON, direction: 'in', ...over };
}

describe('registration and site status', () => {
  it('denies a credential that matches nobody', () => {
    expect(decide(null, ctx())).toEqual({ decision: 'denied', reason: 'not_registered' });
  });

  it('grants an entered worker with valid papers', () => {
    expect(decide(worker(), ctx())).toEqual({ decision: 'granted', reason: 'ok' });
  });

  it.each([
    ['blacklisted', 'blacklisted'],
    ['suspended', 'suspended'],
    ['registered', 'not_entered'],
    ['left', 'left_site'],
  ] as const)('denies a %s worker with %s, in both directions', (status, reason) => {
    expect(decide(worker({ status }), ctx())).toEqual({ decision: 'denied', reason });
    expect(decide(worker({ status }), ctx({ direction: 'out' }))).toEqual({ decision: 'denied', reason });
  });
});

describe('ID card validity (a validity date includes its whole Shanghai day)', () => {
  it('grants on the last valid day up to 23:59:59.999 Shanghai time', () => {
    expect(decide(worker({ idValidTo: '2026-11-21' }), ctx({ nowMs: LAST_MS_OF_21ST })).reason).toBe('ok');
  });

  it('denies from 00:00 Shanghai time of the next day', () => {
    expect(decide(worker({ idValidTo: '2026-11-21' }), ctx({ nowMs: FIRST_MS_OF_22ND }))).toEqual({ decision: 'denied', reason: 'id_expired' });
  });

  it('uses the Shanghai day, not the UTC day', () => {
    // 2026-11-22 07:00 Shanghai is 2026-11-21 23:00 UTC: the card valid to the 21st has expired.
    expect(decide(worker({ idValidTo: '2026-11-21' }), ctx({ nowMs: sh(2026, 11, 22, 7) })).reason).toBe('id_expired');
  });

  it('never expires a 长期 (long-term) card', () => {
    expect(decide(worker({ idValidTo: null }), ctx({ nowMs: sh(2099, 12, 31, 23, 59) })).reason).toBe('ok');
  });

  it('lets a worker with an expired card leave, unless the site checks papers on exit', () => {
    const w = worker({ idValidTo: '2020-01-01' });
    expect(decide(w, ctx({ direction: 'out' })).reason).toBe('ok');
    expect(decide(w, ctx({ direction: 'out', rules: rules({ papersOnExit: true }) })).reason).toBe('id_expired');
  });

  it('ignores the ID validity when the site turns the rule off', () => {
    expect(decide(worker({ idValidTo: '2020-01-01' }), ctx({ rules: rules({ idExpiry: false }) })).reason).toBe('ok');
  });
});

describe('special-trade certificates', () => {
  const site = rules({ specialTrades: ['电工', '架子工'] });

  it('grants an electrician whose certificate is valid through today', () => {
    const w = worker({ trade: '电工', certificates: [{ trade: '电工', validTo: '2026-11-21' }] });
    expect(decide(w, ctx({ rules: site, nowMs: LAST_MS_OF_21ST })).reason).toBe('ok');
  });

  it('denies the same electrician from 00:00 the next day with cert_expired', () => {
    const w = worker({ trade: '电工', certificates: [{ trade: '电工', validTo: '2026-11-21' }] });
    expect(decide(w, ctx({ rules: site, nowMs: FIRST_MS_OF_22ND }))).toEqual({ decision: 'denied', reason: 'cert_expired' });
  });

  it('grants a 长期 certificate and takes any one valid certificate of the trade', () => {
    expect(decide(worker({ trade: '架子工', certificates: [{ trade: '架子工', validTo: null }] }), ctx({ rules: site })).reason).toBe('ok');
    const renewed = worker({ trade: '电工', certificates: [{ trade: '电工', validTo: '2020-01-01' }, { trade: '电工', validTo: '2028-01-01' }] });
    expect(decide(renewed, ctx({ rules: site })).reason).toBe('ok');
  });

  it('denies a special trade with no certificate of that trade (another trade does not count)', () => {
    const w = worker({ trade: '电工', certificates: [{ trade: '焊工', validTo: null }] });
    expect(decide(w, ctx({ rules: site }))).toEqual({ decision: 'denied', reason: 'cert_missing' });
  });

  it('does not ask a trade outside the list for a certificate', () => {
    expect(decide(worker({ trade: '普工' }), ctx({ rules: site })).reason).toBe('ok');
  });
});

describe('allowed hours (Asia/Shanghai; from inclusive, to exclusive)', () => {
  const day = rules({ hours: { windows: [{ from: '06:00', to: '20:00' }] } });
  const night = rules({ hours: { windows: [{ from: '22:00', to: '06:00' }] } });

  it('grants at 06:00:00.000 and at 19:59:59.999', () => {
    expect(decide(worker(), ctx({ rules: day, nowMs: sh(2026, 11, 21, 6, 0, 0, 0) })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: day, nowMs: sh(2026, 11, 21, 19, 59, 59, 999) })).reason).toBe('ok');
  });

  it('denies at 05:59:59.999 and at 20:00:00.000', () => {
    expect(decide(worker(), ctx({ rules: day, nowMs: sh(2026, 11, 21, 5, 59, 59, 999) }))).toEqual({ decision: 'denied', reason: 'outside_hours' });
    expect(decide(worker(), ctx({ rules: day, nowMs: sh(2026, 11, 21, 20, 0, 0, 0) })).reason).toBe('outside_hours');
  });

  it('handles a night window across midnight', () => {
    expect(decide(worker(), ctx({ rules: night, nowMs: sh(2026, 11, 21, 22, 0) })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: night, nowMs: sh(2026, 11, 22, 0, 0) })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: night, nowMs: sh(2026, 11, 22, 5, 59, 59, 999) })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: night, nowMs: sh(2026, 11, 22, 6, 0) })).reason).toBe('outside_hours');
    expect(decide(worker(), ctx({ rules: night, nowMs: sh(2026, 11, 21, 21, 59, 59, 999) })).reason).toBe('outside_hours');
  });

  it('accepts 24:00 as the end of the day', () => {
    const late = rules({ hours: { windows: [{ from: '12:00', to: '24:00' }] } });
    expect(decide(worker(), ctx({ rules: late, nowMs: LAST_MS_OF_21ST })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: late, nowMs: FIRST_MS_OF_22ND })).reason).toBe('outside_hours');
  });

  it('limits only entries unless the site limits both directions', () => {
    const at21 = sh(2026, 11, 21, 21);
    expect(decide(worker(), ctx({ rules: day, nowMs: at21, direction: 'out' })).reason).toBe('ok');
    const both = rules({ hours: { windows: [{ from: '06:00', to: '20:00' }], directions: 'both' } });
    expect(decide(worker(), ctx({ rules: both, nowMs: at21, direction: 'out' })).reason).toBe('outside_hours');
  });

  it('refuses a malformed window in the config', () => {
    expect(siteRulesSchema.safeParse({ hours: { windows: [{ from: '6:00', to: '20:00' }] } }).success).toBe(false);
    expect(siteRulesSchema.safeParse({ hours: { windows: [{ from: '08:00', to: '08:00' }] } }).success).toBe(false);
    expect(siteRulesSchema.safeParse({ hours: { windows: [{ from: '08:00', to: '24:01' }] } }).success).toBe(false);
  });
});

describe('anti-passback', () => {
  const inEarlier: Presence = { direction: 'in', atMs: sh(2026, 11, 21, 7), source: 'hub' };
  const outEarlier: Presence = { direction: 'out', atMs: sh(2026, 11, 21, 7), source: 'local' };

  it('policy off: an "in" while already in passes as ok', () => {
    expect(decide(worker(), ctx({ presence: inEarlier })).reason).toBe('ok');
  });

  it('policy deny: an "in" while already in is denied; after an "out" it is granted', () => {
    const site = rules({ antiPassback: { policy: 'deny' } });
    expect(decide(worker(), ctx({ rules: site, presence: inEarlier }))).toEqual({ decision: 'denied', reason: 'anti_passback' });
    expect(decide(worker(), ctx({ rules: site, presence: outEarlier })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: site, presence: null })).reason).toBe('ok');
  });

  it('policy record: an "in" while already in passes and is flagged', () => {
    const site = rules({ antiPassback: { policy: 'record' } });
    expect(decide(worker(), ctx({ rules: site, presence: inEarlier }))).toEqual({ decision: 'granted', reason: 'passback_recorded' });
  });

  it('checks an "out" while already out only when the site covers both directions', () => {
    const inOnly = rules({ antiPassback: { policy: 'deny' } });
    const both = rules({ antiPassback: { policy: 'deny', directions: 'both' } });
    expect(decide(worker(), ctx({ rules: inOnly, presence: outEarlier, direction: 'out' })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: both, presence: outEarlier, direction: 'out' })).reason).toBe('anti_passback');
  });

  it('forgets yesterday\'s presence at Shanghai midnight unless the site keeps it', () => {
    const yesterday: Presence = { direction: 'in', atMs: LAST_MS_OF_21ST, source: 'hub' };
    const daily = rules({ antiPassback: { policy: 'deny' } });
    const keep = rules({ antiPassback: { policy: 'deny', resetDaily: false } });
    expect(decide(worker(), ctx({ rules: daily, presence: yesterday, nowMs: FIRST_MS_OF_22ND })).reason).toBe('ok');
    expect(decide(worker(), ctx({ rules: daily, presence: yesterday, nowMs: LAST_MS_OF_21ST + 0 })).reason).toBe('anti_passback');
    expect(decide(worker(), ctx({ rules: keep, presence: yesterday, nowMs: FIRST_MS_OF_22ND })).reason).toBe('anti_passback');
  });
});

describe('card+face mode', () => {
  const site = rules({ verification: 'card+face' });

  it('grants when card and face name the same worker', () => {
    expect(decide(worker(), ctx({ rules: site, factors: { card: 'W1', face: 'W1' } })).reason).toBe('ok');
  });

  it('denies when the face names someone else or nobody', () => {
    expect(decide(worker(), ctx({ rules: site, factors: { card: 'W1', face: 'W2' } }))).toEqual({ decision: 'denied', reason: 'card_face_mismatch' });
    expect(decide(worker(), ctx({ rules: site, factors: { card: 'W1', face: null } })).reason).toBe('card_face_mismatch');
  });

  it('denies when only one factor was presented', () => {
    expect(decide(worker(), ctx({ rules: site, factors: { card: 'W1' } })).reason).toBe('card_face_incomplete');
    expect(decide(worker(), ctx({ rules: site })).reason).toBe('card_face_incomplete');
  });

  it('does not look at factors in the default mode', () => {
    expect(decide(worker(), ctx({ factors: { card: 'W1', face: 'W2' } })).reason).toBe('ok');
  });
});

describe('rule order and signals', () => {
  it('reports the first failing rule: status before papers before hours before anti-passback', () => {
    const all = rules({
      specialTrades: ['电工'],
      hours: { windows: [{ from: '06:00', to: '20:00' }] },
      antiPassback: { policy: 'deny' },
    });
    const late = sh(2026, 11, 21, 21);
    const presence: Presence = { direction: 'in', atMs: sh(2026, 11, 21, 7), source: 'hub' };
    const w = worker({ idValidTo: '2020-01-01', trade: '电工', certificates: [] });
    expect(decide({ ...w, status: 'suspended' }, ctx({ rules: all, nowMs: late, presence })).reason).toBe('suspended');
    expect(decide(w, ctx({ rules: all, nowMs: late, presence })).reason).toBe('id_expired');
    expect(decide({ ...w, idValidTo: null }, ctx({ rules: all, nowMs: late, presence })).reason).toBe('cert_missing');
    const certified = { ...w, idValidTo: null, certificates: [{ trade: '电工', validTo: null }] };
    expect(decide(certified, ctx({ rules: all, nowMs: late, presence })).reason).toBe('outside_hours');
    expect(decide(certified, ctx({ rules: all, presence })).reason).toBe('anti_passback');
  });

  it('has a worker-facing signal for every reason, green only for a grant', () => {
    for (const [code, s] of Object.entries(REASON_SIGNALS)) {
      expect(s.buzzer.length % 2).toBe(1);
      expect(s.led === 'green').toBe(code === 'ok' || code === 'passback_recorded');
    }
  });

  it('travels as JSON: parsing the serialised rules gives the same decisions', () => {
    const site = rules({ specialTrades: ['电工'], antiPassback: { policy: 'record' } });
    const again = siteRulesSchema.parse(JSON.parse(JSON.stringify(site)));
    expect(again).toEqual(site);
  });
});
