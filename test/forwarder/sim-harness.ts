import Database from 'better-sqlite3';
import { idNumberFrom } from '../../src/core/id-number.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Forwarder, type ForwarderFault, type ForwarderMode } from '../../src/hub/forwarder.js';
import { Pacer } from '../../src/hub/pacer.js';
import { UploadQueue, type PlatformRow } from '../../src/hub/upload-queue.js';
import { NationalProfile } from '../../src/municipal/national-profile.js';
import { PlatformSimulator, type SimRequestRecord } from '../../src/municipal/platform-sim.js';

export const SECRET = '0123456789abcdef0123456789abcdef';
export const APP = 'sitegate-test';
export const T0 = Date.UTC(2026, 10, 21, 0, 0, 0); // 08:00 in Shanghai
export const HOUR = 3600_000;

/** A valid-looking ID number for worker `w` (check character included). */
export function workerId(w: number): string {
  return idNumberFrom(`31010119900101${String(w % 1000).padStart(3, '0')}`);
}

/** `n` platform rows of `teams` teams: worker i % 300, one punch a minute back from T0. */
export function backlog(n: number, teams = 5, from = 0): PlatformRow[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const team = (i % teams) + 1;
    return {
      rowId: `row-${i}`,
      gateId: 'G1',
      workerId: `W${i % 300}`,
      projectCode: 'P1',
      teamSysNo: team,
      idCardType: '01',
      idNumber: workerId(i % 300),
      timeMs: T0 - 20 * 24 * HOUR + i * 60_000,
      direction: i % 2 === 0 ? 'in' : 'out',
      channel: 'L1',
      credentialKind: 'card',
    } satisfies PlatformRow;
  });
}

export interface SimSetup {
  mode?: ForwarderMode;
  rateLimit?: { requests: number; windowMs: number };
  pacing?: { minSpacingMs?: number; bucket?: { capacity: number; refillPerMs: number } };
  allowList?: string[];
  appSecret?: string;
  timeoutMs?: number;
}

/** Forwarder → national profile → HTTP → platform simulator, all on one ManualClock. */
export async function simSetup(o: SimSetup = {}) {
  const clock = new ManualClock(T0);
  const sim = new PlatformSimulator({
    apps: [{ appId: APP, appSecret: SECRET }],
    clock,
    ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
    ...(o.allowList ? { allowList: o.allowList } : {}),
  });
  await sim.start();
  const db = new Database(':memory:');
  const queue = new UploadQueue(db, clock);
  queue.migrate();
  const jitter: number[] = [];
  const pacer = new Pacer({
    clock,
    ...(o.pacing?.minSpacingMs !== undefined ? { minSpacingMs: o.pacing.minSpacingMs } : {}),
    ...(o.pacing?.bucket ? { bucket: o.pacing.bucket } : {}),
    backoff: { baseMs: 2_000, maxMs: 120_000, jitter: () => (jitter.push(0.25), 0.25) },
  });
  const profile = new NationalProfile({ baseUrl: sim.url, appId: APP, appSecret: o.appSecret ?? SECRET, clock, timeoutMs: o.timeoutMs ?? 10_000 });
  const faults: ForwarderFault[] = [];
  const forwarder = new Forwarder({
    queue, profile, pacer, clock, log: silentLogger(), mode: o.mode ?? 'auto', pollDelayMs: 1200, onFault: (f) => faults.push(f),
  });
  const enqueue = (rows: PlatformRow[]) => {
    db.transaction(() => rows.forEach((r) => queue.enqueue(r)))();
    forwarder.notify();
  };
  const settled = () => {
    const c = queue.counts();
    return c.pending === 0 && c.inFlight === 0;
  };
  const close = async () => {
    await forwarder.stop().catch(() => undefined);
    await sim.stop();
    db.close();
  };
  return { clock, sim, db, queue, pacer, profile, forwarder, faults, jitter, enqueue, settled, close };
}

/** Requests in the simulator's log that broke "at most `limit` in any `windowMs`", counted from arrival times. */
export function overLimitInLog(log: readonly Pick<SimRequestRecord, 'atMs'>[], limit: number, windowMs: number): number {
  const times = log.map((r) => r.atMs).sort((a, b) => a - b);
  let over = 0;
  for (let i = limit; i < times.length; i++) if (times[i] - times[i - limit] < windowMs) over++;
  return over;
}

/**
 * Requests made over those the limit allowed between the first and the last arrival (1 = the
 * window used fully), as the bench counts it.
 */
export function utilisation(log: readonly { atMs: number }[], limit: number, windowMs: number): number {
  if (log.length < 2) return log.length;
  const times = log.map((r) => r.atMs);
  const span = Math.max(...times) - Math.min(...times);
  return log.length / (Math.floor((span / windowMs) * limit) + 1);
}
