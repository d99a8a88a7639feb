import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryHash, genesisHash, verifyChainSegment } from '../../src/core/chain.js';
import type { PunchBody } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { Journal } from '../../src/gate/punch/journal.js';

const CERT = 'ab'.repeat(32);
const identity = { gateId: 'G1', certSha256: CERT, epoch: 1 };

function punch(decision: 'granted' | 'denied' = 'granted'): PunchBody {
  return {
    punchId: newPunchId(),
    gateId: 'G1',
    siteId: 'S1',
    lane: 'L1',
    direction: 'in',
    time: { ms: 1_763_700_000_000, clockSynced: true, bootId: 'boot-1', monoMs: 1234 },
    workerId: decision === 'granted' ? 'W1' : null,
    credential: { kind: 'wiegand', hmac: 'cd'.repeat(32) },
    decision,
    reason: decision === 'granted' ? 'ok' : 'not_registered',
    face: null,
    photoHash: null,
  };
}

describe('gate journal', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journal-'));
    path = join(dir, 'journal.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs SQLite in WAL mode with full sync on commit', () => {
    const j = new Journal(path, identity);
    expect(j.pragmas()).toEqual({ journalMode: 'wal', synchronous: 2 });
    j.close();
  });

  it('chains every entry to the one before, starting from the genesis of gate, certificate and epoch', () => {
    const j = new Journal(path, identity);
    const a = j.appendPunch(punch());
    const b = j.appendPassage({ gateId: 'G1', punchId: a.punchId, outcome: 'confirmed', sensorCount: 1, time: a.time });
    const c = j.appendPunch(punch('denied'));
    expect(a.seq).toBe(0);
    expect(a.prevHash).toBe(genesisHash('G1', CERT, 1));
    expect(b.prevHash).toBe(entryHash(a));
    expect(c.prevHash).toBe(entryHash(b));
    const check = verifyChainSegment('G1', { nextSeq: 0, prevHash: j.genesisHash }, [a, b, c], j.head);
    expect(check.ok).toBe(true);
    j.close();
  });

  it('resumes the chain after a reopen and refuses another gate identity', () => {
    const j = new Journal(path, identity);
    const a = j.appendPunch(punch());
    j.close();
    const again = new Journal(path, identity);
    expect(again.head).toEqual({ seq: 0, hash: entryHash(a) });
    expect(again.appendPunch(punch()).prevHash).toBe(entryHash(a));
    again.close();
    expect(() => new Journal(path, { ...identity, epoch: 2 })).toThrow(/journal was started for gate G1 epoch 1/);
  });

  it('lists granted punches without a passage so start-up can close them as interrupted', () => {
    const j = new Journal(path, identity);
    const a = j.appendPunch(punch());
    const b = j.appendPunch(punch());
    j.appendPunch(punch('denied'));
    j.appendPassage({ gateId: 'G1', punchId: a.punchId, outcome: 'confirmed', sensorCount: 1, time: a.time });
    expect(j.danglingGrantedPunches().map((p) => p.punchId)).toEqual([b.punchId]);
    j.close();
  });

  it('forgets nothing until the hub names the punch, and never past the hub contiguous seq', () => {
    const j = new Journal(path, identity);
    const a = j.appendPunch(punch());
    const pa = j.appendPassage({ gateId: 'G1', punchId: a.punchId, outcome: 'confirmed', sensorCount: 1, time: a.time });
    const b = j.appendPunch(punch());
    expect(j.unackedCount()).toBe(3);
    // the hub stored seq 0 only: the passage of the same punch (seq 1) stays unacknowledged
    expect(j.ack([a.punchId], 0)).toBe(1);
    expect(j.ackedThrough()).toBe(0);
    expect(j.ack(['00000000-0000-7000-8000-000000000000'], 2)).toBe(0);
    expect(j.ack([a.punchId, b.punchId], 2)).toBe(2);
    expect(j.unackedCount()).toBe(0);
    expect(j.entriesOf(a.punchId).map((e) => e.seq)).toEqual([0, pa.seq]);
    j.close();
  });

  it('returns signed heads and the entries they cover in chain order', () => {
    const j = new Journal(path, identity);
    for (let i = 0; i < 5; i++) j.appendPunch(punch());
    j.recordHead({ seq: 2, hash: j.hashAt(2)!, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: CERT });
    j.recordHead({ seq: 4, hash: j.hashAt(4)!, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: CERT });
    expect(j.signedHeadsAfter(-1, 10).map((h) => h.seq)).toEqual([2, 4]);
    expect(j.entriesBetween(2, 4, 100).map((e) => e.entry.seq)).toEqual([3, 4]);
    expect(j.lastSignedHead()!.seq).toBe(4);
    j.close();
  });
});
