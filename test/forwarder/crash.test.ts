import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';
import { PlatformSimulator, type SimRequestRecord } from '../../src/municipal/platform-sim.js';
import { APP, backlog, SECRET } from './sim-harness.js';

// On the real clock: the forwarder in a child process, SIGKILLed while an upload is on the wire,
// several times. The platform simulator (20 requests per second) is the witness.
const CHILD = join(import.meta.dirname, 'crash-child.ts');
const DIST = join(import.meta.dirname, '../../dist/hub/forwarder.js');
const KILL_AT_UPLOADS = [2, 6, 9, 14, 19];
const dir = mkdtempSync(join(tmpdir(), 'crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('forwarder crash (real clock, child process)', () => {
  it.skipIf(!existsSync(DIST))('re-sends at most the batch in flight per kill; re-sent rows come back duplicate and count delivered; none lost', async () => {
    const dbPath = join(dir, 'hub.db');
    const setupDb = new Database(dbPath);
    setupDb.pragma('journal_mode = WAL');
    const q = new UploadQueue(setupDb, systemClock);
    q.migrate();
    setupDb.transaction(() => backlog(500).forEach((r) => q.enqueue(r)))();
    setupDb.close();

    let child: ChildProcess | null = null;
    let uploads = 0;
    let kills = 0;
    const sim = new PlatformSimulator({
      apps: [{ appId: APP, appSecret: SECRET }],
      clock: systemClock,
      rateLimit: { requests: 20, windowMs: 1000 },
      onRequest: (r: SimRequestRecord) => {
        if (r.method !== 'WorkerAttendance.Add' || r.code !== 0) return;
        uploads++;
        // the platform has taken the rows; the hub dies before it hears so
        if (KILL_AT_UPLOADS.includes(uploads) && child) {
          child.kill('SIGKILL');
          kills++;
        }
      },
    });
    sim.setLatency(40);
    await sim.start();
    try {
      let drained = false;
      for (let run = 0; run < KILL_AT_UPLOADS.length + 3 && !drained; run++) {
        const c = spawn(process.execPath, [CHILD, dbPath, sim.url, APP, SECRET, '20', '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
        child = c;
        let out = '';
        c.stdout!.on('data', (d) => (out += d));
        const [code, signal] = (await once(c, 'exit')) as [number | null, string | null];
        child = null;
        if (signal === null) {
          expect(code).toBe(0);
          drained = out.includes('drained');
        } else expect(signal).toBe('SIGKILL');
      }
      expect(drained).toBe(true);
    } finally {
      await sim.stop();
    }

    expect(kills).toBe(KILL_AT_UPLOADS.length);
    // the platform stored every row exactly once
    const keys = new Set(sim.accepted.map((a) => `${a.idNumber}|${a.date}|${a.direction}`));
    expect(sim.accepted).toHaveLength(500);
    expect(keys.size).toBe(500);
    // batches received twice: uploads the platform took that stored nothing new, at most one per kill
    const storingSerials = new Set(sim.accepted.map((a) => a.requestSerialCode));
    const taken = sim.requests.filter((r) => r.method === 'WorkerAttendance.Add' && r.code === 0);
    const resent = taken.filter((r) => !storingSerials.has(r.requestSerialCode!));
    expect(resent.length).toBeGreaterThan(0);
    expect(resent.length).toBeLessThanOrEqual(kills);
    expect(resent.every((r) => r.rows <= 20)).toBe(true);
    expect(sim.counters.duplicateRows).toBe(resent.reduce((n, r) => n + r.rows, 0));

    // the hub's queue: all delivered, the re-sent rows answered duplicate
    const db = new Database(dbPath, { readonly: true });
    try {
      const states = db.prepare('SELECT state, result, COUNT(*) AS n FROM upload_rows GROUP BY state, result ORDER BY result').all();
      expect(states).toEqual([
        { state: 'delivered', result: 'accepted', n: 500 - sim.counters.duplicateRows },
        { state: 'delivered', result: 'duplicate', n: sim.counters.duplicateRows },
      ]);
    } finally {
      db.close();
    }
  }, 60_000);
});
