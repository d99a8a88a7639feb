// A hub's forwarder as a process of its own, for the crash test and the forward bench: it drains
// the upload queue in DB_PATH to the platform at PLATFORM_URL, whose limit is WINDOW_REQUESTS per
// WINDOW_MS, on the real clock, and exits 0 once nothing waits.
// Run with the project's Node (type stripping) after `npx tsc -p .`: it imports dist/.
import Database from 'better-sqlite3';
import { systemClock } from '../../dist/core/clock.js';
import { createLogger } from '../../dist/core/log.js';
import { Forwarder } from '../../dist/hub/forwarder.js';
import { Pacer } from '../../dist/hub/pacer.js';
import { UploadQueue } from '../../dist/hub/upload-queue.js';
import { NationalProfile } from '../../dist/municipal/national-profile.js';

const [dbPath, url, appId, secret, windowRequests, windowMs] = process.argv.slice(2);
const clock = systemClock;
const log = createLogger('crash-child', 'warn');
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const queue = new UploadQueue(db, clock);
queue.migrate();
// The platform's limit is the pacer's window: that is what keeps every arrival under it. The
// bucket (the platform's average rate, with room to catch up a few late slots) and half the
// average spacing only smooth the requests over the window.
const window = { requests: Number(windowRequests), windowMs: Number(windowMs) };
const spacingMs = window.windowMs / window.requests;
const pacer = new Pacer({
  clock,
  window,
  minSpacingMs: spacingMs / 2,
  bucket: { capacity: 4, refillPerMs: 1 / spacingMs },
  backoff: { baseMs: 200, maxMs: 2_000 },
});
const profile = new NationalProfile({ baseUrl: url, appId, appSecret: secret, clock, timeoutMs: 5_000 });
// The simulator has each result ready at once: a poll goes as soon as the pacer lets it.
const forwarder = new Forwarder({ queue, profile, pacer, clock, log, mode: 'auto', pollDelayMs: 0 });
process.on('SIGTERM', () => {
  void forwarder.stop().then(() => {
    db.close();
    process.exit(0);
  });
});
forwarder.start();
process.stdout.write('started\n');
const timer = setInterval(() => {
  const c = queue.counts();
  if (c.pending === 0 && c.inFlight === 0) {
    clearInterval(timer);
    void forwarder.stop().then(() => {
      db.close();
      process.stdout.write('drained\n');
      process.exit(0);
    });
  }
}, 100);
