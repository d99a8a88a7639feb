import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChainSegment } from '../../src/core/chain.js';
import type { PunchBody } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { SitegateError } from '../../src/core/errors.js';
import { Journal } from '../../src/gate/punch/journal.js';

const CERT = 'ab'.repeat(32);
const identity = { gateId: 'G1', certSha256: CERT, epoch: 1 };
const DAY = 86_400_000;

function punch(): PunchBody {
  return {
    punchId: newPunchId(),
    gateId: 'G1',
    siteId: 'S1',
    lane: 'L1',
    direction: 'in',
    time: { ms: 1_763_700_000_000, clockSynced: true, bootId: 'boot-1', monoMs: 1234 },
    workerId: 'W1',
    credential: { kind: 'wiegand', hmac: 'cd'.repeat(32) },
    decision: 'granted',
    reason: 'ok',
    face: null,
    photoHash: null,
  };
}

describe('journal capacity, pruning and a full disk', () => {
  let dir: string;
  let path: string;
  let now: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journal-limits-'));
    path = join(dir, 'journal.db');
    now = 1_763_700_000_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says it is over capacity at the limit and keeps every entry beyond it', () => {
    const j = new Journal(path, identity, () => now, { capacity: 3 });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(j.appendPunch(punch()).punchId);
    expect(j.overCapacity).toBe(true);
    j.appendPunch(punch());
    expect(j.unackedCount()).toBe(4);
    j.ack(ids.slice(0, 2), 3);
    expect(j.overCapacity).toBe(false);
    j.close();
    const again = new Journal(path, identity, () => now, { capacity: 3 });
    expect(again.unackedCount()).toBe(2); // the in-memory count is rebuilt from the rows at open
    again.close();
  });

  it('prunes acknowledged entries by age and by count, never unacknowledged ones nor the chain head', () => {
    const j = new Journal(path, identity, () => now);
    const old = [];
    for (let i = 0; i < 5; i++) old.push(j.appendPunch(punch()));
    now += 40 * DAY;
    const recent = [];
    for (let i = 0; i < 5; i++) recent.push(j.appendPunch(punch()));
    const unacked = j.appendPunch(punch());
    j.recordHead({ seq: 4, hash: j.hashAt(4)!, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: CERT });
    j.recordHead({ seq: 10, hash: j.hashAt(10)!, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: CERT });
    j.ack([...old, ...recent].map((p) => p.punchId), 9);

    const byAge = j.prune({ maxAgeMs: 30 * DAY, maxAckedRows: 1000 });
    expect(byAge.entries).toBe(5);
    expect(j.latest(100).map((e) => e.entry.seq).sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10]);

    const byCount = j.prune({ maxAgeMs: 365 * DAY, maxAckedRows: 2 });
    expect(byCount.entries).toBe(3);
    expect(j.latest(100).map((e) => e.entry.seq).sort((a, b) => a - b)).toEqual([8, 9, 10]);
    expect(j.signedHeadsAfter(-1, 10).map((h) => h.seq)).toEqual([10]);
    expect(j.entriesOf(unacked.punchId)).toHaveLength(1);

    // everything acknowledged and pruned to nothing: the head entry stays, and the chain goes on from it
    j.ack([unacked.punchId], 10);
    j.prune({ maxAgeMs: 0, maxAckedRows: 0 });
    expect(j.latest(100).map((e) => e.entry.seq)).toEqual([10]);
    j.close();
    const again = new Journal(path, identity, () => now);
    const next = again.appendPunch(punch());
    expect(next.seq).toBe(11);
    expect(verifyChainSegment('G1', { nextSeq: 11, prevHash: again.hashAt(10)! }, [next], again.head).ok).toBe(true);
    again.close();
  });

  it('a full disk refuses the entry with journal_disk_full, leaves the chain intact and accepts entries again when space returns', () => {
    const j = new Journal(path, identity, () => now);
    const pages = Number(j.db.pragma('page_count', { simple: true }));
    j.db.pragma(`max_page_count = ${pages + 2}`);
    let accepted = 0;
    let refused: unknown = null;
    for (let i = 0; i < 10_000 && !refused; i++) {
      try {
        j.appendPunch(punch());
        accepted++;
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeInstanceOf(SitegateError);
    expect((refused as SitegateError).code).toBe('journal_disk_full');
    expect(j.head.seq).toBe(accepted - 1);
    expect(j.unackedCount()).toBe(accepted);
    j.db.pragma('max_page_count = 1000000');
    const next = j.appendPunch(punch());
    expect(next.seq).toBe(accepted);
    expect(next.prevHash).toBe(j.hashAt(accepted - 1));
    expect(j.db.pragma('integrity_check', { simple: true })).toBe('ok');
    j.close();
  });
});

describe('journal start-up', () => {
  it('finds granted punches without a passage in a journal written before that list was kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'journal-upgrade-'));
    const path = join(dir, 'journal.db');
    const j = new Journal(path, identity);
    const a = j.appendPunch(punch());
    const b = j.appendPunch(punch());
    j.appendPassage({ gateId: 'G1', punchId: a.punchId, outcome: 'confirmed', sensorCount: 1, time: a.time });
    j.db.exec('DROP TABLE open_passages'); // as an older journal file had it
    j.close();
    const again = new Journal(path, identity);
    expect(again.danglingGrantedPunches().map((p) => p.punchId)).toEqual([b.punchId]);
    again.appendPassage({ gateId: 'G1', punchId: b.punchId, outcome: 'interrupted', sensorCount: 0, time: b.time });
    expect(again.danglingGrantedPunches()).toEqual([]);
    again.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
