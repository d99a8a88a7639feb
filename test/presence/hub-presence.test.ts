import { describe, expect, it } from 'vitest';
import type { JournalEntry, PassageEntry, PunchEntry } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { HubPresence } from '../../src/hub/hub-presence.js';
import { MAX_PRESENCE_ENTRIES, presenceMessageSchema, presenceTopic } from '../../src/mqtt/presence.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function punch(n: number, over: Partial<PunchEntry> = {}): PunchEntry {
  return {
    type: 'punch', seq: 2 * n, prevHash: '0'.repeat(64), punchId: id(n), gateId: 'G1', siteId: 'S1', lane: 'L1', direction: 'in',
    time: { ms: 1000 * n, clockSynced: true, bootId: 'b', monoMs: n }, workerId: `W${n}`,
    credential: { kind: 'wiegand', hmac: 'a'.repeat(64) }, decision: 'granted', reason: 'ok', face: null, photoHash: null, ...over,
  };
}

function passage(n: number, over: Partial<PassageEntry> = {}): PassageEntry {
  return {
    type: 'passage', seq: 2 * n + 1, prevHash: '0'.repeat(64), gateId: 'G1', punchId: id(n), outcome: 'confirmed', sensorCount: 1,
    time: { ms: 1000 * n + 500, clockSynced: true, bootId: 'b', monoMs: n + 1 }, ...over,
  };
}

function hubPresence(earlier: PunchEntry[] = [], realTimeMs?: ConstructorParameters<typeof HubPresence>[0]['realTimeMs']) {
  const sent: { topic: string; payload: string }[] = [];
  const presence = new HubPresence({
    siteId: 'S1',
    findPunch: (_gateId, punchId) => earlier.find((p) => p.punchId === punchId) ?? null,
    publish: (topic, payload) => sent.push({ topic, payload }),
    realTimeMs,
    log: silentLogger(),
  });
  return { presence, sent };
}

describe('the hub sharing presence', () => {
  it('publishes the confirmed passages of granted worker punches, finding punches stored earlier', () => {
    const { presence, sent } = hubPresence([punch(1, { direction: 'out' })]);
    const batch: JournalEntry[] = [
      passage(1), // its punch came in an earlier batch
      punch(2), passage(2),
      punch(3, { decision: 'denied', reason: 'anti_passback' }),
      punch(4), passage(4, { outcome: 'timeout' }),
      punch(5, { workerId: null, credential: { kind: 'manual', hmac: 'b'.repeat(64) }, reason: 'manual_open' }), passage(5),
      passage(6), // a punch the hub does not hold
    ];
    const out = presence.onStored('G1', batch);
    expect(out).toEqual([
      { workerId: 'W1', direction: 'out', atMs: 1500, gateId: 'G1' },
      { workerId: 'W2', direction: 'in', atMs: 2500, gateId: 'G1' },
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0].topic).toBe(presenceTopic('S1'));
    expect(presenceMessageSchema.parse(JSON.parse(sent[0].payload))).toEqual({ v: 1, entries: out });
    expect(presence.counters).toMatchObject({ messages: 1, entries: 2, punchMissing: 1 });
  });

  it('publishes nothing for a batch without a confirmed passage', () => {
    const { presence, sent } = hubPresence();
    expect(presence.onStored('G1', [punch(1)])).toEqual([]);
    expect(sent).toHaveLength(0);
  });

  it('splits a large batch into messages the gates accept', () => {
    const { presence, sent } = hubPresence();
    const n = MAX_PRESENCE_ENTRIES + 3;
    const batch = Array.from({ length: n }, (_, i) => [punch(i + 1), passage(i + 1)]).flat();
    expect(presence.onStored('G1', batch)).toHaveLength(n);
    const sizes = sent.map((s) => presenceMessageSchema.parse(JSON.parse(s.payload)).entries.length);
    expect(sizes).toEqual([MAX_PRESENCE_ENTRIES, 3]);
  });

  it("shares a passage at its real time: corrected for a gate's unsynchronised boot, held back while unknown", () => {
    const unsynced = { clockSynced: false, bootId: 'cold', ms: 86_400_000 } as const; // the gate thinks it is 2 Jan 1970
    const batch: JournalEntry[] = [
      punch(1), passage(1, { time: { ...unsynced, monoMs: 5_000 } }),
      punch(2), passage(2), // synchronised: as read
    ];
    const plain = hubPresence();
    expect(plain.presence.onStored('G1', batch)).toEqual([{ workerId: 'W2', direction: 'in', atMs: 2500, gateId: 'G1' }]);
    expect(plain.presence.counters.undated).toBe(1);

    // The hub knows the boot's offset (from a later synchronised entry): the corrected time goes out.
    const OFFSET = 1_790_000_000_000;
    const known = hubPresence([], (_g, t) => (t.clockSynced ? t.ms : t.bootId === 'cold' ? t.monoMs + OFFSET : null));
    expect(known.presence.onStored('G1', batch)).toEqual([
      { workerId: 'W1', direction: 'in', atMs: OFFSET + 5_000, gateId: 'G1' },
      { workerId: 'W2', direction: 'in', atMs: 2500, gateId: 'G1' },
    ]);
    expect(known.presence.counters.undated).toBe(0);
  });
});
