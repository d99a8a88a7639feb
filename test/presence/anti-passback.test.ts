import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../gate-integration/harness.js';
import { GATE_A, rosterWithRules, startTwoGateSite, swipe, type TwoGateSite } from './two-gate-site.js';

// Anti-passback across two gates on the real broker, with presence shared by an in-process hub.
describe('anti-passback with presence shared through the hub', () => {
  let site: TwoGateSite;

  beforeAll(async () => {
    site = await startTwoGateSite('apb', { antiPassback: { policy: 'deny' } });
  }, 60_000);

  afterAll(async () => {
    await site?.stop();
  });

  it('denies a second "in" at gate B once the hub has shared the entry made at gate A', async () => {
    const { a, b } = site.gates;
    const first = await swipe(a, 'W1', 'in');
    expect(first.punch).toMatchObject({ decision: 'granted', reason: 'ok' });
    expect(first.passage?.outcome).toBe('confirmed');
    expect(a.presence.presenceOf('W1')).toMatchObject({ direction: 'in', source: 'local' });

    await waitFor(() => b.presence.presenceOf('W1') !== null, 10_000, "gate B hearing the hub's presence");
    expect(b.presence.presenceOf('W1')).toEqual({ direction: 'in', atMs: first.passage!.time.ms, source: 'hub' });
    expect(site.hub.presence.counters.entries).toBeGreaterThanOrEqual(1);
    // the gates' status documents count it: A's own passage, B's message from the hub
    expect(a.status().presence).toMatchObject({ local: 1, behindKnown: 0, rejected: 0 });
    expect((b.status().presence as { hubEntries: number }).hubEntries).toBeGreaterThanOrEqual(1);

    const second = await swipe(b, 'W1', 'in');
    expect(second.punch).toMatchObject({ decision: 'denied', reason: 'anti_passback', workerId: 'W1' });
  });

  it('grants an "out" then an "in", each gate learning the other\'s passage', async () => {
    const { a, b } = site.gates;
    const out = await swipe(b, 'W1', 'out');
    expect(out.punch).toMatchObject({ decision: 'granted', reason: 'ok' });
    await waitFor(() => a.presence.presenceOf('W1')?.direction === 'out', 10_000, 'gate A hearing of the exit at gate B');
    expect(a.presence.presenceOf('W1')?.source).toBe('hub');
    const back = await swipe(a, 'W1', 'in');
    expect(back.punch).toMatchObject({ decision: 'granted', reason: 'ok' });
  });

  it('flags instead of refusing under policy "record"', async () => {
    const { a } = site.gates;
    a.roster.replace(rosterWithRules(site.siteKey, 2, { antiPassback: { policy: 'record' } }));
    try {
      expect((await swipe(a, 'W2', 'in')).punch).toMatchObject({ decision: 'granted', reason: 'ok' });
      const again = await swipe(a, 'W2', 'in');
      expect(again.punch).toMatchObject({ decision: 'granted', reason: 'passback_recorded' });
      expect(again.passage?.outcome).toBe('confirmed');
    } finally {
      a.roster.replace(rosterWithRules(site.siteKey, 3, { antiPassback: { policy: 'deny' } }));
    }
  });

  it('falls back on its own passages while the hub is away', async () => {
    const { a, b } = site.gates;
    await site.hub.stop();
    const first = await swipe(a, 'W3', 'in');
    expect(first.punch).toMatchObject({ decision: 'granted', gateId: GATE_A });
    const second = await swipe(a, 'W3', 'in');
    expect(second.punch).toMatchObject({ decision: 'denied', reason: 'anti_passback' });
    expect(a.presence.presenceOf('W3')).toMatchObject({ direction: 'in', source: 'local' });
    // the fallback is only local: gate B never heard of the entry at gate A
    expect(b.presence.presenceOf('W3')).toBeNull();
  });
});
