import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalEntry, PunchEntry } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { dailyReport, reportText, shanghaiDayBounds } from '../../src/hub/report.js';
import { HubStore } from '../../src/hub/store.js';

const dir = mkdtempSync(join(tmpdir(), 'report-tailgating-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const H = 3600_000;
const DAY = shanghaiDayBounds('2026-11-21').fromMs;
const HASH = '0'.repeat(64);

// The hub sees tail-gating in the passage entries the gates send: `sitegate hub report` counts it per worker-day.
describe('daily report: tail-gating per worker-day', () => {
  it('counts the passages whose sensor saw two or more people, and lists them in the text report', () => {
    const path = join(dir, 'hub.db');
    const store = new HubStore(path);
    const entries: JournalEntry[] = [];
    let seq = 0;
    const pass = (workerId: string, direction: 'in' | 'out', atMs: number, sensorCount: number) => {
      const punchId = newPunchId();
      const time = { ms: atMs, clockSynced: true, bootId: 'b', monoMs: 1 };
      const punch: PunchEntry = {
        type: 'punch', seq: seq++, prevHash: HASH, punchId, gateId: 'G1', siteId: 'S1', lane: 'L1', direction, time, workerId,
        credential: { kind: 'card', hmac: HASH }, decision: 'granted', reason: 'ok', face: null, photoHash: null,
      };
      entries.push(punch, { type: 'passage', seq: seq++, prevHash: HASH, gateId: 'G1', punchId, outcome: 'confirmed', sensorCount, time });
    };
    pass('W1', 'in', DAY + 7 * H, 2);
    pass('W1', 'out', DAY + 12 * H, 1);
    pass('W1', 'in', DAY + 13 * H, 3);
    pass('W2', 'in', DAY + 8 * H, 1);
    store.transaction(() => store.appendVerified('G1', 1, entries, entries.map(() => HASH), { seq: seq - 1, hash: HASH, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: HASH }, DAY, false));
    store.close();

    const r = dailyReport(path, '2026-11-21', { nowMs: DAY + 20 * H });
    const w = new Map(r.workers.map((x) => [x.workerId, x]));
    expect(w.get('W1')).toMatchObject({ passages: 3, tailgating: 2 });
    expect(w.get('W2')).toMatchObject({ passages: 1, tailgating: 0 });
    const text = reportText(r);
    expect(text).toContain('Tail-gating (more than one person on one release):');
    expect(text).toMatch(/W1 .*: 2 passage\(s\)/);
    expect(text).not.toMatch(/W2 .*passage\(s\)/);
  });
});
