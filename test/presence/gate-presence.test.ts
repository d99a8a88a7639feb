import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PassageEntry, PunchEntry } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { GatePresence } from '../../src/gate/gate-presence.js';
import { presenceTopic } from '../../src/mqtt/presence.js';

const SITE = 'SITE01';

function punch(over: Partial<PunchEntry> = {}): PunchEntry {
  return {
    type: 'punch', seq: 1, prevHash: '0'.repeat(64), punchId: '00000000-0000-4000-8000-000000000001', gateId: 'G1', siteId: SITE, lane: 'L1',
    direction: 'in', time: { ms: 1000, clockSynced: true, bootId: 'b', monoMs: 1 }, workerId: 'W1',
    credential: { kind: 'wiegand', hmac: 'a'.repeat(64) }, decision: 'granted', reason: 'ok', face: null, photoHash: null, ...over,
  };
}

function passage(over: Partial<PassageEntry> = {}): PassageEntry {
  return {
    type: 'passage', seq: 2, prevHash: '0'.repeat(64), gateId: 'G1', punchId: '00000000-0000-4000-8000-000000000001',
    outcome: 'confirmed', sensorCount: 1, time: { ms: 1500, clockSynced: true, bootId: 'b', monoMs: 2 }, ...over,
  };
}

const hubMessage = (entries: unknown[]) => Buffer.from(JSON.stringify({ v: 1, entries }));

describe('the gate presence store', () => {
  let dir: string;
  let store: GatePresence;
  const open = () => {
    const s = new GatePresence({ path: join(dir, 'presence.db'), siteId: SITE, log: silentLogger() });
    s.start();
    return s;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'presence-store-'));
    store = open();
  });
  afterEach(() => {
    store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the newer passage per worker, whichever source it came from', () => {
    expect(store.presenceOf('W1')).toBeNull();
    expect(store.record('W1', 'in', 100, 'hub')).toBe(true);
    expect(store.record('W1', 'out', 50, 'local')).toBe(false);
    expect(store.presenceOf('W1')).toEqual({ direction: 'in', atMs: 100, source: 'hub' });
    expect(store.record('W1', 'out', 200, 'local')).toBe(true);
    expect(store.presenceOf('W1')).toEqual({ direction: 'out', atMs: 200, source: 'local' });
    expect(store.record('W1', 'in', 150, 'hub')).toBe(false);
    expect(store.presenceOf('W1')).toEqual({ direction: 'out', atMs: 200, source: 'local' });
    expect(store.counters.older).toBe(2);
    expect(store.presenceOf('W2')).toBeNull();
  });

  it("takes the hub's view of the same instant over its own", () => {
    store.record('W1', 'in', 300, 'hub');
    expect(store.record('W1', 'in', 300, 'local')).toBe(false);
    expect(store.presenceOf('W1')?.source).toBe('hub');
    store.record('W2', 'in', 300, 'local');
    expect(store.record('W2', 'in', 300, 'hub')).toBe(true);
    expect(store.presenceOf('W2')?.source).toBe('hub');
  });

  it('still knows every worker after a restart', () => {
    store.record('W1', 'in', 100, 'local');
    store.handleMessage(presenceTopic(SITE), hubMessage([{ workerId: 'W2', direction: 'out', atMs: 120, gateId: 'G2' }]));
    store.stop();
    store = open();
    expect(store.presenceOf('W1')).toEqual({ direction: 'in', atMs: 100, source: 'local' });
    expect(store.presenceOf('W2')).toEqual({ direction: 'out', atMs: 120, source: 'hub' });
  });

  it("records only this gate's confirmed passages of granted punches naming a worker", () => {
    expect(store.onPassage(punch({ decision: 'denied', reason: 'anti_passback' }), passage())).toBe(false);
    expect(store.onPassage(punch(), passage({ outcome: 'timeout' }))).toBe(false);
    expect(store.onPassage(punch({ workerId: null, credential: { kind: 'manual', hmac: 'b'.repeat(64) } }), passage())).toBe(false);
    expect(store.onPassage(undefined, passage())).toBe(false);
    expect(store.presenceOf('W1')).toBeNull();
    expect(store.onPassage(punch({ direction: 'out' }), passage())).toBe(true);
    expect(store.presenceOf('W1')).toEqual({ direction: 'out', atMs: 1500, source: 'local' });
  });

  it("files its own passage after the worker's stored record even when its wall clock is behind the hub's times", () => {
    // The hub's corrected time of the worker's last passage (at another gate) is later than this
    // gate's clock shows now: the passage seen now still becomes the worker's newest record.
    store.handleMessage(presenceTopic(SITE), hubMessage([{ workerId: 'W1', direction: 'in', atMs: 9_000, gateId: 'G2' }]));
    expect(store.onPassage(punch({ direction: 'out' }), passage())).toBe(true);
    expect(store.presenceOf('W1')).toEqual({ direction: 'out', atMs: 9_001, source: 'local' });
    expect(store.counters.behindKnown).toBe(1);
    // A clock that is right keeps its own time.
    store.record('W2', 'in', 1_000, 'hub');
    expect(store.onPassage(punch({ workerId: 'W2', direction: 'out' }), passage())).toBe(true);
    expect(store.presenceOf('W2')).toEqual({ direction: 'out', atMs: 1_500, source: 'local' });
    expect(store.counters.behindKnown).toBe(1);
    // The hub's later view of the same passage, at its corrected time, does not undo it; a newer passage does.
    expect(store.record('W1', 'out', 8_000, 'hub')).toBe(false);
    expect(store.record('W1', 'in', 12_000, 'hub')).toBe(true);
    expect(store.presenceOf('W1')?.direction).toBe('in');
  });

  it("applies the hub's batch and counts and ignores malformed messages", () => {
    const topic = presenceTopic(SITE);
    expect(store.handleMessage('sitegate/v1/SITE01/roster/delta', hubMessage([]))).toBe(false);
    expect(
      store.handleMessage(topic, hubMessage([
        { workerId: 'W1', direction: 'in', atMs: 10, gateId: 'G1' },
        { workerId: 'W2', direction: 'out', atMs: 11, gateId: 'G2' },
      ])),
    ).toBe(true);
    expect(store.counters).toMatchObject({ hubMessages: 1, hubEntries: 2, rejected: 0 });

    const bad = [
      Buffer.from('not json'),
      Buffer.from(JSON.stringify({ v: 2, entries: [{ workerId: 'W3', direction: 'in', atMs: 1, gateId: 'G1' }] })),
      hubMessage([{ workerId: 'W3', direction: 'sideways', atMs: 1, gateId: 'G1' }]),
      hubMessage([{ workerId: 'W3', direction: 'in', atMs: 1, gateId: 'G1', idNumber: '110101199003070011' }]),
      hubMessage([]),
    ];
    for (const b of bad) expect(store.handleMessage(topic, b)).toBe(true);
    expect(store.counters.rejected).toBe(bad.length);
    expect(store.counters.hubMessages).toBe(1);
    expect(store.presenceOf('W3')).toBeNull();
    expect(store.presenceOf('W2')).toEqual({ direction: 'out', atMs: 11, source: 'hub' });
  });
});
