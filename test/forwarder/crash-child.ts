// A hub's forwarder as a process of its own, for the crash test: it drains the upload queue in
// DB_PATH to the platform at PLATFORM_URL on the real clock, and exits 0 once nothing waits.
// Run with the project's Node (type stripping) after `npx tsc -p .`: it imports dist/.
import Database from 'better-sqlite3';
import { systemClock } from '../../dist/core/clock.js';
import { createLogger } from '../../dist/core/log.js';
import { Forwarder } from '../../dist/hub/forwarder.js';
import { Pacer } from '../../dist/hub/pacer.js';
import { UploadQueue } from '../../dist/hub/upload-queue.js';
import { NationalProfile } from '../../dist/municipal/national-profile.js';

const [dbPath, url, appId, secret, spacing] = process.argv.slice(2);
const clock = systemClock;
const log = createLogger('crash-child', 'warn');
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const queue = new UploadQueue(db, clock);
queue.migrate();
const spacingMs = Number(spacing);
const pacer = new Pacer({ clock, minSpacingMs: spacingMs, bucket: { capacity: 1, refillPerMs: 1 / spacingMs }, backoff: { baseMs: 200, maxMs: 2_000 } });
const profile = new NationalProfile({ baseUrl: url, appId, appSecret: secret, clock, timeoutMs: 5_000 });
const forwarder = new Forwarder({ queue, profile, pacer, clock, log, mode: 'auto', pollDelayMs: spacingMs });
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
}, 20);
