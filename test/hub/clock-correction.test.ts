import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalEntry, PunchTime } from '../../src/core/entries.js';
import { BootClockCorrection } from '../../src/hub/clock-correction.js';

const REAL_BOOT = Date.UTC(2026, 10, 21, 6, 0, 0); // 06:00 UTC = 14:00 Shanghai, when the gate booted
const entryAt = (t: PunchTime) => ({ type: 'passage', time: t }) as unknown as JournalEntry;
const unsynced = (monoMs: number, bootId = 'boot-A'): PunchTime => ({ ms: 1000 + monoMs, clockSynced: false, bootId, monoMs });
const synced = (monoMs: number, bootId = 'boot-A'): PunchTime => ({ ms: REAL_BOOT + monoMs, clockSynced: true, bootId, monoMs });

describe('clock correction at the hub', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  function open() {
    const dir = mkdtempSync(join(tmpdir(), 'clockfix-'));
    dirs.push(dir);
    return join(dir, 'hub.db');
  }

  it('holds punches taken before the clock was synchronised and corrects them from a later synchronised punch of the same boot', () => {
    const path = open();
    const db = new Database(path);
    const fix = new BootClockCorrection<{ id: string; timeMs: number }>(db);
    const early = unsynced(5_000);
    expect(fix.realTimeMs('G1', early)).toBeNull();
    fix.hold('G1', early, { id: 'p1', timeMs: early.ms });
    fix.hold('G1', unsynced(9_000), { id: 'p2', timeMs: 0 });
    // a synchronised punch of another boot or another gate says nothing about this boot
    expect(fix.observe('G1', [entryAt(synced(100, 'boot-B'))])).toEqual([]);
    expect(fix.observe('G2', [entryAt(synced(100, 'boot-A'))])).toEqual([]);
    expect(fix.heldCount()).toBe(2);
    db.close();

    // the hub restarts: what it held is still there
    const db2 = new Database(path);
    const again = new BootClockCorrection<{ id: string; timeMs: number }>(db2);
    const released = again.observe('G1', [entryAt(unsynced(10_000)), entryAt(synced(60_000))]);
    expect(released).toEqual([
      { id: 'p1', timeMs: REAL_BOOT + 5_000 },
      { id: 'p2', timeMs: REAL_BOOT + 9_000 },
    ]);
    expect(again.heldCount()).toBe(0);
    expect(again.realTimeMs('G1', unsynced(70_000))).toBe(REAL_BOOT + 70_000);
    expect(again.realTimeMs('G1', synced(1))).toBe(REAL_BOOT + 1);
    db2.close();
  });
});
