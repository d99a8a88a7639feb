import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, sleep } from '../../src/core/clock.js';
import type { PassageEntry, PunchEntry } from '../../src/core/entries.js';
import { wiegandValue } from '../../src/demo/shift.js';
import { CLI, runtimeNode } from './daemon-process.js';
import { CrashSite, lookInJournal, openReader, verifyHubChain, waitFor, type HubChainReport } from './harness.js';

// The hub is down for a long time while the broker stays up (so the broker's queue for the
// hub's persistent session is what fills), 50,000 punches are taken (5,000 in `make test`), and
// the gate is SIGKILLed twice during the outage. When the hub returns every punch arrives, in
// chain order, none twice.
//
// How the punches are taken: a few are real swipes through the simulated GPIO chip; the bulk is
// written by a fixture child (fill-journal.ts) that runs the gate's own AccessController and
// Journal from dist/ on the gate's state directory while the gate daemon is down, standing in
// for the reader and the turnstile only. 50,000 real swipes cost about 250 ms each here (a
// Wiegand frame, its 25 ms end gap, a relay pulse, a walk through the passage sensor and its rest
// time): more than three hours. What this test is about — a backlog in the journal that must
// cross a broker, a dead hub and a killed gate — starts at the journal, and those entries are
// exactly the ones the daemon would have written (same code, same chain, same identity).
//
// A second, smaller run gives the broker a tiny queue (10 messages) so that the limit really
// bites: mosquitto drops what the gate publishes beyond it, and the gate must still deliver
// everything (the hub reports the gap, the gate rewinds and sends again).
const SOAK = Boolean(process.env.SITEGATE_SOAK);
const BATCH = 100;
const run = promisify(execFile);
const softhsmDir = mkdtempSync('/tmp/sg-hsm-');
afterAll(() => rmSync(softhsmDir, { recursive: true, force: true }));

outageTest({ punches: SOAK ? 50_000 : 5_000 });
outageTest({ punches: SOAK ? 5_000 : 500, brokerQueue: 10 });

function outageTest(o: { punches: number; brokerQueue?: number }): void {
  const PUNCHES = o.punches;
  const title = o.brokerQueue
    ? `${PUNCHES} punches taken while the hub is down behind a broker that queues only ${o.brokerQueue} messages`
    : `${PUNCHES} punches taken while the hub is down, the gate killed during the outage`;
  describe.skipIf(!existsSync(CLI))(title, () => {
    const dir = mkdtempSync('/tmp/sg-outage-');
    const site = new CrashSite({
      dir,
      workers: 40,
      keyType: 'ec-p256',
      publish: { batchSize: BATCH, maxInFlight: 32, ackTimeoutMs: 5000 },
      broker: o.brokerQueue ? { maxQueuedMessages: o.brokerQueue } : undefined,
      softhsmDir,
    });
    const realSwipes: string[] = [];
    let fill: { punches: number; granted: number; entries: number; head: number; openPassages: number; pragmas: { journalMode: string; synchronous: number } };
    let chain: HubChainReport;
    let settled = false;
    let journalHead = -1;
    let killedHeads: number[] = [];
    let maxQueued = 0;
    let maxQueuedBytes = -1;
    let brokerDropped = false;
    /** entries the hub stored whose ack never reached the gate (and that it never sent again) */
    let storedButUnacked = -1;
    const times: Record<string, number> = {};
    let started = Date.now();
    const mark = (what: string) => (times[what] = (Date.now() - started) / 1000);

    async function realSwipe(i: number, journal: Database.Database): Promise<void> {
      const w = site.rostered[i];
      const before = site.relayPulses();
      site.swipe(w);
      if (!(await waitFor(() => site.relayPulses() > before, 5000, 2))) throw new Error(`no relay pulse for ${w.workerId}`);
      await site.walkThrough(40);
      if (!(await waitFor(() => lookInJournal(journal, w.workerId).passage !== null, 5000, 5))) throw new Error(`no passage for ${w.workerId}`);
      realSwipes.push(w.workerId);
    }

    beforeAll(async () => {
      started = Date.now();
      await site.start();
      const conf = readFileSync(site.paths.brokerConf, 'utf8');
      maxQueued = Number(/^max_queued_messages (\d+)$/m.exec(conf)?.[1] ?? 0);
      maxQueuedBytes = Number(/^max_queued_bytes (\d+)$/m.exec(conf)?.[1] ?? -1);
      const journal = openReader(site.paths.journal);
      try {
        for (let i = 0; i < 3; i++) await realSwipe(i, journal);
        await waitFor(() => lookInJournal(journal, site.rostered[0].workerId).unacked === 0, 20_000, 50);
        mark('hub killed');
        await site.hub.kill('SIGKILL');
        for (let i = 3; i < 6; i++) await realSwipe(i, journal);
        await sleep(systemClock, 300); // signed and published into the broker's queue for the hub
        await site.gate.kill('SIGKILL');
        killedHeads.push(lookInJournal(journal, site.rostered[0].workerId).headSeq);
      } finally {
        journal.close();
      }

      mark('fixture started');
      const cards = site.rostered.slice(6).map((w) => String(wiegandValue(w.facility, w.card)));
      const args = { stateDir: site.paths.gateState, siteId: site.siteId, gateId: site.gateId, certSha256: site.token.certSha256, epoch: 1, count: PUNCHES, cards };
      const { stdout } = await run(runtimeNode(), [join(import.meta.dirname, 'fill-journal.ts'), JSON.stringify(args)], { maxBuffer: 1 << 20, timeout: 900_000 });
      fill = JSON.parse(stdout.trim().split('\n').at(-1)!);
      mark('fixture done');

      // The gate starts on its backlog (closing nothing: every passage settled) and is killed again
      // while it signs and publishes it into the broker's queue.
      await site.startGate();
      await sleep(systemClock, 300 + Math.floor(Math.random() * 1200));
      await site.gate.kill('SIGKILL');
      await site.startGate();
      await sleep(systemClock, 1500);
      mark('hub back');
      await site.hub.start();
      const reader = openReader(site.paths.journal);
      try {
        killedHeads.push(lookInJournal(reader, site.rostered[0].workerId).headSeq);
        settled = await waitFor(() => lookInJournal(reader, site.rostered[0].workerId).unacked === 0, SOAK ? 300_000 : 90_000, 200);
      } finally {
        reader.close();
      }
      mark('all acknowledged');
      await site.gate.stop();
      await site.hub.stop();
      chain = verifyHubChain(site.paths.hubDb, site.gateId, site.paths.certPem);
      const j = new Database(site.paths.journal, { readonly: true });
      journalHead = (j.prepare('SELECT MAX(seq) AS s FROM entries').get() as { s: number }).s;
      storedButUnacked = (j.prepare('SELECT COUNT(*) AS n FROM entries WHERE acked = 0 AND seq < ?').get(chain.entries.length) as { n: number }).n;
      j.close();
      brokerDropped = /dropped/i.test(readFileSync(site.broker.logPath, 'utf8'));
      const hubLog = readFileSync(join(dir, 'hub.log'), 'utf8');
      const rejected: Record<string, number> = {};
      for (const m of hubLog.matchAll(/"reason":"([a-z_]+)"/g)) rejected[m[1]] = (rejected[m[1]] ?? 0) + 1;
      console.log(
        [
          `outage test${SOAK ? ' (soak)' : ''}${o.brokerQueue ? ` (broker queue ${o.brokerQueue})` : ''}: ${fill.punches} punches by the fixture + ${realSwipes.length} real swipes; gate killed twice during the outage`,
          `  broker: max_queued_messages ${maxQueued}, max_queued_bytes ${maxQueuedBytes}; it dropped messages: ${brokerDropped}`,
          `  gate entries stored at the hub but still unacknowledged at the gate: ${storedButUnacked}`,
          `  at the hub: ${chain.entries.length} entries (${chain.entries.filter((e) => e.type === 'punch').length} punches), ${chain.heads} signed heads; batches the hub refused: ${JSON.stringify(rejected)}`,
          `  times (s): ${Object.entries(times).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}; drain ${(times['all acknowledged'] - times['hub back']).toFixed(1)} s`,
        ].join('\n'),
      );
    }, SOAK ? 3_600_000 : 240_000);

    afterAll(async () => {
      await site.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('takes every fixture punch through the gate code with its passage, in a WAL journal with full sync', () => {
      expect(fill.punches).toBe(PUNCHES);
      expect(fill.granted).toBe(PUNCHES);
      expect(fill.entries).toBe(2 * PUNCHES);
      expect(fill.openPassages).toBe(0);
      expect(fill.pragmas).toEqual({ journalMode: 'wal', synchronous: 2 });
    });

    if (!o.brokerQueue) {
      it('runs a broker whose queue for an offline session holds the whole backlog', () => {
        // mosquitto's own default is 1000 messages: an offline hub would lose the rest of the queue
        expect(maxQueued).toBeGreaterThanOrEqual(Math.ceil((2 * PUNCHES) / BATCH) * 10);
        expect(maxQueuedBytes).toBe(0);
      });
    } else {
      it('made the broker drop messages queued for the offline hub', () => {
        expect(maxQueued).toBe(o.brokerQueue);
        expect(brokerDropped).toBe(true);
      });
    }

    it('delivers everything once the hub returns, and the gate forgets nothing before that', () => {
      // a lost ack (the broker's queue limit applies to the gate's ack topic too) must not leave
      // entries unacknowledged at the gate for good: it has to send them again
      expect(storedButUnacked).toBe(0);
      expect(settled).toBe(true);
      expect(killedHeads.every((h) => h <= journalHead)).toBe(true);
      expect(chain.entries.length).toBe(journalHead + 1);
    });

    it('stores the entries in chain order, each once, the chain verifying from the genesis', () => {
      expect(chain.problems).toEqual([]);
      expect(chain.entries.findIndex((e, i) => e.seq !== i)).toBe(-1);
      // the hub stores only a contiguous chain; the receive times show it also arrived in that order
      expect(chain.receivedMs.findIndex((ms, i) => i > 0 && ms < chain.receivedMs[i - 1])).toBe(-1);
      const punches = chain.entries.filter((e): e is PunchEntry => e.type === 'punch');
      expect(punches).toHaveLength(PUNCHES + realSwipes.length);
      expect(new Set(punches.map((p) => p.punchId)).size).toBe(punches.length);
      const passages = chain.entries.filter((e): e is PassageEntry => e.type === 'passage');
      expect(new Set(passages.map((p) => p.punchId)).size).toBe(passages.length);
      expect(passages.filter((p) => p.outcome !== 'confirmed')).toEqual([]);
      for (const w of realSwipes) expect(punches.filter((p) => p.workerId === w)).toHaveLength(1);
    });
  });
}
