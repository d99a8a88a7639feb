// Forwarding figures, in real time: a 10,000-punch backlog drains from a forwarder process (the
// hub's forwarder, upload queue, pacer and national profile, from dist/) to the platform
// simulator with its limit raised to 20 requests per second (1,000 requests: ~50 s). The
// forwarder's pacer is given that limit as its window (see test/forwarder/crash-child.ts).
//   forward_rate_utilisation_pct   requests made / requests the limit allowed over the drain
//   forward_over_limit_requests    requests the simulator counted over its limit (target 0)
//   hub_rss_mb                     peak resident memory of the forwarder process
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock } from '../../dist/core/clock.js';
import { idNumberFrom } from '../../dist/core/id-number.js';
import { UploadQueue } from '../../dist/hub/upload-queue.js';
import { PlatformSimulator } from '../../dist/municipal/platform-sim.js';

const ROWS = 10_000;
const LIMIT = { requests: 20, windowMs: 1000 };
const SECRET = '0123456789abcdef0123456789abcdef';
const APP = 'bench';
const CHILD = join(import.meta.dirname, '../forwarder/crash-child.ts');

export default async function forward(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-forward-'));
  const sim = new PlatformSimulator({ apps: [{ appId: APP, appSecret: SECRET }], clock: systemClock, rateLimit: LIMIT });
  try {
    const dbPath = join(dir, 'hub.db');
    const db = new Database(dbPath);
    db.pragma('journal_mode = WAL');
    const queue = new UploadQueue(db, systemClock);
    queue.migrate();
    const t0 = Date.UTC(2026, 10, 1);
    db.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        queue.enqueue({
          rowId: `row-${i}`, gateId: 'G1', workerId: `W${i % 500}`, projectCode: 'P1', teamSysNo: (i % 7) + 1, idCardType: '01',
          idNumber: idNumberFrom(`31010119900101${String(i % 500).padStart(3, '0')}`), timeMs: t0 + i * 30_000,
          direction: i % 2 ? 'out' : 'in', channel: 'L1', credentialKind: 'card',
        });
      }
    })();
    db.close();
    await sim.start();

    const child = spawn(process.execPath, [CHILD, dbPath, sim.url, APP, SECRET, String(LIMIT.requests), String(LIMIT.windowMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let peakKb = 0;
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // the process has just exited
      }
    }, 250);
    const [code] = await once(child, 'exit');
    clearInterval(sample);
    if (code !== 0) throw new Error(`forwarder process exited with ${code}`);

    const log = sim.requests;
    const first = log[0].atMs;
    const last = log[log.length - 1].atMs;
    // in [first, last] the sliding window admits at most this many requests
    const allowed = Math.floor(((last - first) / LIMIT.windowMs) * LIMIT.requests) + 1;
    const times = log.map((r) => r.atMs).sort((a, b) => a - b);
    let overInLog = 0;
    for (let i = LIMIT.requests; i < times.length; i++) if (times[i] - times[i - LIMIT.requests] < LIMIT.windowMs) overInLog++;
    if (sim.accepted.length !== ROWS) throw new Error(`platform stored ${sim.accepted.length} of ${ROWS} rows`);
    return {
      forward_backlog_rows: ROWS,
      forward_requests: log.length,
      forward_rate_utilisation_pct: Math.round((log.length / allowed) * 1000) / 10,
      forward_over_limit_requests: Math.max(sim.counters.overLimit, overInLog),
      hub_rss_mb: Math.round(peakKb / 1024),
    };
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
