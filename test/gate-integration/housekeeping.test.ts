import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PunchBody } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { JournalHousekeeping } from '../../src/gate/gate-housekeeping.js';
import { Journal } from '../../src/gate/punch/journal.js';

const DAY = 86_400_000;

function punch(ms: number): PunchBody {
  return {
    punchId: newPunchId(), gateId: 'G1', siteId: 'S1', lane: 'L1', direction: 'in',
    time: { ms, clockSynced: true, bootId: 'b', monoMs: 1 },
    workerId: 'W1', credential: { kind: 'wiegand', hmac: 'cd'.repeat(32) }, decision: 'denied', reason: 'not_registered', face: null, photoHash: null,
  };
}

describe('journal housekeeping on the gate clock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'housekeeping-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prunes every hour: acknowledged entries past pruneAfterDays go, unacknowledged ones never', async () => {
    const clock = new ManualClock(1_763_700_000_000);
    const journal = new Journal(join(dir, 'j.db'), { gateId: 'G1', certSha256: 'ab'.repeat(32), epoch: 1 }, () => clock.now());
    const old = [journal.appendPunch(punch(clock.now())), journal.appendPunch(punch(clock.now()))];
    const keep = journal.appendPunch(punch(clock.now()));
    journal.ack(old.map((e) => e.punchId), old[1].seq);
    let rounds = 0;
    const hk = new JournalHousekeeping({ journal, clock, log: silentLogger(), pruneAfterDays: 90, keepAckedRows: 1000, afterRound: () => rounds++ });
    hk.start();
    await clock.advance(3_600_000);
    expect(rounds).toBe(1);
    expect(hk.counters.prunedEntries).toBe(0); // acknowledged, but younger than 90 days
    await clock.advance(91 * DAY); // the hourly rounds go on; the entries age past 90 days
    expect(rounds).toBeGreaterThan(2000);
    expect(hk.counters.prunedEntries).toBe(2);
    expect(journal.unackedCount()).toBe(1);
    expect(journal.pendingPunches(10).map((p) => p.punch.punchId)).toEqual([keep.punchId]);
    hk.stop();
    await clock.advance(3_600_000);
    const after = rounds;
    await clock.advance(3_600_000);
    expect(rounds).toBe(after);
    journal.close();
  });
});
