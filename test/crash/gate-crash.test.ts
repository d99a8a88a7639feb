import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, sleep } from '../../src/core/clock.js';
import type { PassageEntry, PunchEntry } from '../../src/core/entries.js';
import type { DemoWorker } from '../../src/demo/shift.js';
import { Journal } from '../../src/gate/punch/journal.js';
import { CLI } from './daemon-process.js';
import { CrashSite, PINS, lookInJournal, openReader, seededRandom, verifyHubChain, waitFor, type HubChainReport } from './harness.js';

// SIGKILL the gate at random points while cards are swiped one at a time, and the hub and
// mosquitto too. Relay pulses are counted by the simulated chip in this process, outside every
// killed process. `make test` runs a short version; SITEGATE_SOAK runs ≥ 200 gate kills.
// A failing run prints its seed: repeat it with SITEGATE_CRASH_SEED=<seed>.
const SOAK = Boolean(process.env.SITEGATE_SOAK);
const GATE_KILLS = SOAK ? 200 : 10;
const HUB_KILLS = SOAK ? 25 : 3;
const BROKER_KILLS = SOAK ? 25 : 3;
const SEED = Number(process.env.SITEGATE_CRASH_SEED ?? randomInt(2 ** 31));
/** share of swipes with a gate kill planned somewhere after them */
const KILL_SHARE = 0.45;

const KILL_PHASES = [
  'before the punch was durable (reader, decision or commit)',
  'punch in the journal, relay not yet pulsed (during the fsync of its commit, or just after)',
  'relay pulsed, passage still open',
  'passage entry committed',
] as const;
type KillPhase = (typeof KILL_PHASES)[number];

/** counted apart: the journal held entries no signature covered yet (the kill came before or during signing) */
const UNSIGNED = '(of all these, with entries not yet covered by a signature)';

interface SwipeRecord {
  worker: DemoWorker;
  pulsed: boolean;
  /** a gate kill landed between this swipe and the next */
  cut: boolean;
  killDelayMs: number | null;
  killPhase: KillPhase | null;
  /** the gate's journal right after the kill */
  punchAtKill: boolean;
  passageAtKill: PassageEntry['outcome'] | null;
  unsignedAtKill: boolean;
  sensorBeforeKill: boolean;
  /** a swipe with no kill whose passage was not journalled in time */
  stuck: boolean;
}

describe.skipIf(!existsSync(CLI))('a gate, hub and broker killed with SIGKILL at random points', () => {
  const dir = mkdtempSync('/tmp/sg-crash-');
  const workers = Math.ceil((GATE_KILLS / KILL_SHARE) * 1.6) + 20;
  const site = new CrashSite({ dir, workers, keyType: 'rsa-2048' });
  const rnd = seededRandom(SEED);
  const swipes: SwipeRecord[] = [];
  const counts = { gateKills: 0, hubKills: 0, brokerKills: 0, gateStartsRefused: 0, hubStartsRefused: 0 };
  const phases = new Map<string, number>();
  /** why a restart failed (retried): printed with the counts */
  const refusals: string[] = [];
  let settled = false;
  let chain: HubChainReport;
  let journalHead = -1;
  let journalUnacked = -1;
  let pragmas: { journalMode: string; synchronous: number };
  let fileJournalMode = '';
  let hubJournalMode = '';
  const started = Date.now();

  /**
   * Starts a daemon again; a failed start is counted, printed and retried. The hub needs the
   * broker to start; the gate does not (it starts offline and keeps punches in its journal).
   */
  async function restart(which: 'gate' | 'hub'): Promise<void> {
    const d = which === 'gate' ? site.gate : site.hub;
    for (let attempt = 0; ; attempt++) {
      if (which === 'hub') await site.brokerUp();
      try {
        await (which === 'gate' ? site.startGate() : d.start());
        return;
      } catch (err) {
        refusals.push(`${which}: ${(err as Error).message}`);
        if (which === 'gate') counts.gateStartsRefused++;
        else counts.hubStartsRefused++;
        if (attempt >= 10) throw err;
        await sleep(systemClock, 200);
      }
    }
  }

  /** Background kills of the hub and the broker, one at a time, each followed by a restart after a random outage. */
  let chaos: Promise<void> = Promise.resolve();
  function planChaos(kind: 'hub' | 'broker'): void {
    const delay = Math.floor(rnd() * 300);
    const down = 100 + Math.floor(rnd() * 1500);
    chaos = chaos.then(async () => {
      await sleep(systemClock, delay);
      if (kind === 'hub') {
        await site.hub.kill('SIGKILL');
        counts.hubKills++;
        await sleep(systemClock, down);
        await restart('hub');
      } else {
        await site.broker.kill('SIGKILL');
        counts.brokerKills++;
        await sleep(systemClock, down);
        await site.broker.start();
      }
    });
  }

  /** Kill delays after the frame is sent: most land around the frame's end (decision, journal commit, relay, signing). */
  function killDelay(): number {
    const r = rnd();
    if (r < 0.55) return 15 + rnd() * 50;
    if (r < 0.85) return 65 + rnd() * 300;
    return 400 + rnd() * 600;
  }

  async function swipeOnce(worker: DemoWorker, killDelayMs: number | null, journal: Database.Database): Promise<SwipeRecord> {
    const rec: SwipeRecord = {
      worker, pulsed: false, cut: false, killDelayMs, killPhase: null, punchAtKill: false, passageAtKill: null, unsignedAtKill: false, sensorBeforeKill: false, stuck: false,
    };
    const before = site.relayPulses();
    const kill: { done: Promise<unknown> | null } = { done: null };
    let timer: NodeJS.Timeout | undefined;
    site.swipe(worker);
    if (killDelayMs !== null) {
      timer = setTimeout(() => {
        kill.done = site.gate.kill('SIGKILL');
      }, killDelayMs);
    }
    const pulseSeen = await waitFor(() => site.relayPulses() > before || kill.done !== null, 3000, 2);
    if (pulseSeen && site.relayPulses() > before && kill.done === null) {
      await sleep(systemClock, 20);
      rec.sensorBeforeKill = kill.done === null;
      await site.walkThrough(40);
      await waitFor(() => kill.done !== null || lookInJournal(journal, worker.workerId).passage !== null, 5000, 5);
    }
    if (killDelayMs !== null) {
      // a long delay lands after the swipe settled: signing, publishing, waiting for acks
      await waitFor(() => kill.done !== null, 5000, 2);
      clearTimeout(timer);
      if (!kill.done) throw new Error('planned kill did not fire');
      await kill.done;
      counts.gateKills++;
      rec.cut = true;
      // everything the dead gate wrote to the GPIO socket has been handled once the server saw it go
      await waitFor(() => site.gpioClients() === 0, 2000, 2);
      rec.pulsed = site.relayPulses() > before;
      const look = lookInJournal(journal, worker.workerId);
      rec.punchAtKill = look.punch !== null;
      rec.passageAtKill = look.passage?.outcome ?? null;
      rec.unsignedAtKill = look.headSeq > look.signedSeq;
      rec.killPhase = KILL_PHASES[!look.punch ? 0 : !rec.pulsed ? 1 : !look.passage ? 2 : 3];
      phases.set(rec.killPhase, (phases.get(rec.killPhase) ?? 0) + 1);
      if (rec.unsignedAtKill) phases.set(UNSIGNED, (phases.get(UNSIGNED) ?? 0) + 1);
      if (site.chip.level(PINS.passage) !== 0) site.chip.inject(PINS.passage, 0);
      await restart('gate');
    } else {
      rec.pulsed = site.relayPulses() > before;
      rec.stuck = !rec.pulsed || lookInJournal(journal, worker.workerId).passage === null;
    }
    return rec;
  }

  beforeAll(async () => {
    await site.start();
    const journal = openReader(site.paths.journal);
    try {
      const pool = site.rostered;
      // hub and broker kills spread over the swipes (swiping goes on until all of them happened)
      const expectedSwipes = Math.ceil(GATE_KILLS / KILL_SHARE);
      const chaosPlan: { at: number; kind: 'hub' | 'broker' }[] = [];
      for (let i = 0; i < HUB_KILLS; i++) chaosPlan.push({ at: 1 + Math.floor(((i + 0.3) / HUB_KILLS) * expectedSwipes), kind: 'hub' });
      for (let i = 0; i < BROKER_KILLS; i++) chaosPlan.push({ at: 2 + Math.floor(((i + 0.7) / BROKER_KILLS) * expectedSwipes), kind: 'broker' });
      chaosPlan.sort((a, b) => a.at - b.at);
      let planned = 0;
      for (let i = 0; i < pool.length && (counts.gateKills < GATE_KILLS || planned < chaosPlan.length); i++) {
        while (planned < chaosPlan.length && chaosPlan[planned].at <= i) planChaos(chaosPlan[planned++].kind);
        const delay = counts.gateKills < GATE_KILLS && rnd() < KILL_SHARE ? killDelay() : null;
        swipes.push(await swipeOnce(pool[i], delay, journal));
        await sleep(systemClock, 10);
      }
      await chaos;
      if (!site.broker.running) await site.broker.start();
      if (!site.hub.running) await restart('hub');
      settled = await waitFor(() => lookInJournal(journal, pool[0].workerId).unacked === 0, SOAK ? 600_000 : 60_000, 100);
    } finally {
      journal.close();
    }
    await site.gate.stop();
    await site.hub.stop();
    const j = new Journal(site.paths.journal, { gateId: site.gateId, certSha256: site.token.certSha256, epoch: 1 });
    pragmas = j.pragmas();
    journalHead = j.head.seq;
    journalUnacked = j.unackedCount();
    j.close();
    const plain = new Database(site.paths.journal, { readonly: true });
    fileJournalMode = String(plain.pragma('journal_mode', { simple: true }));
    plain.close();
    const hubDb = new Database(site.paths.hubDb, { readonly: true });
    hubJournalMode = String(hubDb.pragma('journal_mode', { simple: true }));
    hubDb.close();
    chain = verifyHubChain(site.paths.hubDb, site.gateId, site.paths.certPem);
    const punches = chain.entries.filter((e) => e.type === 'punch').length;
    const interrupted = chain.entries.filter((e) => e.type === 'passage' && e.outcome === 'interrupted').length;
    console.log(
      [
        `crash test (seed ${SEED}${SOAK ? ', soak' : ''}) after ${((Date.now() - started) / 1000).toFixed(1)} s:`,
        `  swipes ${swipes.length}, relay pulses ${site.relayPulses()}, swipes without a pulse ${swipes.filter((s) => !s.pulsed).length}`,
        `  kills: gate ${counts.gateKills}, hub ${counts.hubKills}, mosquitto ${counts.brokerKills}` +
          ` (failed restarts, retried: gate ${counts.gateStartsRefused}, hub ${counts.hubStartsRefused})`,
        ...refusals.map((r) => `    ${r}`),
        `  gate kills landed: ${[...KILL_PHASES, UNSIGNED].map((k) => `${k}: ${phases.get(k) ?? 0}`).join('; ')}`,
        `  at the hub: ${chain.entries.length} entries, ${punches} punches, ${chain.heads} signed heads, ${interrupted} interrupted passages`,
      ].join('\n'),
    );
  }, SOAK ? 3_600_000 : 240_000);

  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function hubPunchesOf(workerId: string): PunchEntry[] {
    return chain.entries.filter((e): e is PunchEntry => e.type === 'punch' && e.workerId === workerId);
  }

  function hubPassageOf(punchId: string): PassageEntry[] {
    return chain.entries.filter((e): e is PassageEntry => e.type === 'passage' && e.punchId === punchId);
  }

  it('killed the gate, the hub and mosquitto as planned, and settled afterwards', () => {
    expect(counts.gateKills).toBe(GATE_KILLS);
    expect(counts.hubKills).toBe(HUB_KILLS);
    expect(counts.brokerKills).toBe(BROKER_KILLS);
    expect(swipes.filter((s) => s.stuck).map((s) => s.worker.workerId)).toEqual([]);
    expect(settled).toBe(true);
    expect(journalUnacked).toBe(0);
  });

  it('has exactly one punch at the hub for every swipe that pulsed the relay', () => {
    const pulsed = swipes.filter((s) => s.pulsed);
    expect(site.relayPulses()).toBe(pulsed.length);
    for (const s of pulsed) expect(hubPunchesOf(s.worker.workerId), s.worker.workerId).toHaveLength(1);
  });

  it('loses at most one swipe per gate kill, only a swipe that a kill cut', () => {
    const unpulsed = swipes.filter((s) => !s.pulsed);
    expect(unpulsed.every((s) => s.cut)).toBe(true);
    expect(unpulsed.length).toBeLessThanOrEqual(counts.gateKills);
    for (const s of unpulsed) expect(hubPunchesOf(s.worker.workerId).length).toBeLessThanOrEqual(1);
    const swiped = new Set(swipes.map((s) => s.worker.workerId));
    expect(chain.entries.filter((e) => e.type === 'punch' && !swiped.has(e.workerId ?? ''))).toEqual([]);
  });

  it('ends every passage a kill cut as interrupted, and every other one confirmed', () => {
    for (const s of swipes) {
      for (const p of hubPunchesOf(s.worker.workerId)) {
        expect(p.decision).toBe('granted');
        const passages = hubPassageOf(p.punchId);
        expect(passages, s.worker.workerId).toHaveLength(1);
        const want = !s.cut ? 'confirmed' : (s.passageAtKill ?? 'interrupted');
        expect(passages[0].outcome, `${s.worker.workerId} killed ${s.killPhase}`).toBe(want);
        // a passage confirmed before its kill had its sensor walk
        if (s.passageAtKill === 'confirmed') expect(s.sensorBeforeKill).toBe(true);
      }
    }
    const interrupted = chain.entries.filter((e) => e.type === 'passage' && e.outcome === 'interrupted').length;
    expect(interrupted).toBe(swipes.filter((s) => s.cut && s.punchAtKill && s.passageAtKill === null).length);
  });

  it('stores a chain at the hub that verifies entry by entry from the genesis, heads signed by the pinned certificate', () => {
    expect(chain.problems).toEqual([]);
    expect(chain.entries.length).toBe(journalHead + 1);
    expect(chain.heads).toBeGreaterThan(0);
  });

  it('keeps the gate journal in WAL mode with full sync on commit', () => {
    expect(pragmas).toEqual({ journalMode: 'wal', synchronous: 2 });
    expect(fileJournalMode).toBe('wal');
    expect(hubJournalMode).toBe('wal');
  });
});
