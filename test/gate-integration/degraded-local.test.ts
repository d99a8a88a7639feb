import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryHash } from '../../src/core/chain.js';
import { newPunchId } from '../../src/core/ids.js';
import type { JournalEntry, PunchEntry } from '../../src/core/entries.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { statusViewSchema } from '../../src/control/views.js';
import { GateControlProvider } from '../../src/gate/gate-control.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { topics } from '../../src/mqtt/topics.js';
import { GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// Degraded states a gate handles by itself (issue 8), on a ManualClock: a full disk, a wall clock
// that jumps back, and a config changed on disk and reloaded.
describe('a gate in degraded states', () => {
  const clock = new ManualClock();
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let configPath: string;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const punches: PunchEntry[] = [];
  const config = () => gateConfig(site, [wiegandReader]);

  beforeAll(async () => {
    site = await startSite('degraded');
    world = simWorld(clock);
    configPath = join(site.dir, 'gate.yaml');
    writeFileSync(configPath, JSON.stringify(config()));
    gate = newGate(config(), world, { clock, configPath, retryEveryMs: 1000 });
    gate.on('punch', (p) => punches.push(p));
    watch = await watcher(site, [topics.gateEvent(SITE, GATE)]);
    await gate.start();
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await watch?.client.endAsync();
    await site?.stop();
  });

  /** One swipe of W1's card; returns the punch journalled for it, or null when none was. */
  async function swipe(card = 1001): Promise<PunchEntry | null> {
    const n = punches.length;
    new WiegandSim(world.chip, clock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, card));
    await clock.advance(30);
    return punches.length > n ? punches.at(-1)! : null;
  }

  async function settle(): Promise<void> {
    await clock.runUntil(() => !gate.laneBusy('L1'), 5000);
  }

  function chainIsWhole(): void {
    const entries: JournalEntry[] = gate.journal.entriesBetween(-1, gate.journal.head.seq, 100_000).map((e) => e.entry);
    entries.forEach((e, i) => {
      expect(e.seq).toBe(i);
      if (i > 0) expect(e.prevHash).toBe(entryHash(entries[i - 1]));
    });
    expect(gate.journal.db.pragma('integrity_check', { simple: true })).toBe('ok');
  }

  describe('disk full', () => {
    it('refuses the swipe (no pulse, fault raised, fault pattern), keeps the chain, and takes swipes again when space returns', async () => {
      const granted = await swipe();
      expect(granted?.decision).toBe('granted');
      await settle();
      const db = gate.journal.db;
      const pages = Number(db.pragma('page_count', { simple: true }));
      db.pragma(`max_page_count = ${pages + 1}`);
      // other attempts fill what is left
      for (let i = 0; i < 200 && gate.journalAccepting; i++) await swipe(1002);
      expect(gate.journalAccepting).toBe(false);
      const head = gate.journal.head.seq;
      const pulses = world.chip.pulses(PINS.relayIn);

      expect(await swipe()).toBeNull();
      expect(world.chip.pulses(PINS.relayIn)).toBe(pulses);
      expect(gate.journal.head.seq).toBe(head);
      expect(gate.indicatorPlaying('L1')).toBe('fault');
      expect(gate.controller.counters.refused).toBeGreaterThanOrEqual(2);
      const v = statusViewSchema.parse(new GateControlProvider(gate).status());
      expect(v).toMatchObject({ health: 'fault', journal: { accepting: false } });
      expect(v.faults.map((f) => f.code)).toContain('journal_disk_full');
      expect(gate.healthy().ok).toBe(true); // degraded, not hung: the watchdog keeps pinging
      await waitFor(() => watch.messages.some((m) => m.json?.reason === 'journal_disk_full' && m.json?.punchId === null), 5000, 'the refused event');
      chainIsWhole();

      db.pragma('max_page_count = 1000000');
      const again = await swipe();
      expect(again).toMatchObject({ decision: 'granted', seq: head + 1 });
      expect(world.chip.pulses(PINS.relayIn)).toBe(pulses + 1);
      await settle();
      expect(gate.journalAccepting).toBe(true);
      expect(gate.faults.has('journal_disk_full')).toBe(false);
      chainIsWhole();
    });

    it('holds a passage that cannot be journalled and writes it once space returns', async () => {
      const p = await swipe();
      expect(p?.decision).toBe('granted');
      const db = gate.journal.db;
      db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
      // other lanes' punches fill it while the worker walks (this lane is busy: its reads are ignored)
      const { type: _t, seq: _s, prevHash: _h, ...body } = p!;
      for (let i = 0; i < 500; i++) {
        try {
          gate.journal.appendPunch({ ...body, punchId: newPunchId(), decision: 'denied', reason: 'not_registered', workerId: null });
        } catch {
          break;
        }
      }
      await settle();
      expect(gate.controller.heldCount).toBe(1);
      expect(gate.journal.entriesOf(p!.punchId).some((e) => e.type === 'passage')).toBe(false);
      db.pragma('max_page_count = 1000000');
      await clock.advance(1000);
      expect(gate.controller.heldCount).toBe(0);
      expect(gate.journal.entriesOf(p!.punchId).find((e) => e.type === 'passage')).toMatchObject({ outcome: 'confirmed' });
      expect(gate.journalAccepting).toBe(true);
      chainIsWhole();
    });
  });

  describe('clock jumped backwards', () => {
    it('keeps chaining, marks the punches unsynchronised until the clock catches up, and never crashes', async () => {
      const before = await swipe();
      await settle();
      expect(before?.time.clockSynced).toBe(true);
      const high = clock.now();
      clock.setWall(high - 3_600_000);
      const after = await swipe();
      await settle();
      expect(after).toMatchObject({ decision: 'granted', seq: expect.any(Number) });
      expect(after!.time.clockSynced).toBe(false);
      expect(after!.time.ms).toBeLessThan(before!.time.ms);
      expect(after!.time.monoMs).toBeGreaterThan(before!.time.monoMs);
      expect(gate.faults.has('clock_jumped_back')).toBe(true);
      expect(gate.snapshot().clockSynced).toBe(false);
      chainIsWhole();

      clock.setWall(high + 1000);
      const later = await swipe();
      await settle();
      expect(later!.time.clockSynced).toBe(true);
      expect(gate.faults.has('clock_jumped_back')).toBe(false);
      chainIsWhole();
    });
  });

  describe('config changed on disk', () => {
    function pulseLengths(): number[] {
      const w = world.chip.state.writes.filter((x) => x.offset === PINS.relayIn && x.kind === 'write');
      const out: number[] = [];
      for (let i = 0; i + 1 < w.length; i++) if (w[i].level === 1 && w[i + 1].level === 0) out.push(w[i + 1].atMs - w[i].atMs);
      return out;
    }

    it('applies new lane timings on reload without dropping the passage in progress', async () => {
      expect(pulseLengths().at(-1)).toBe(100);
      world.walk.on = false; // the worker lingers: the passage stays open during the reload
      const p = await swipe();
      expect(gate.laneBusy('L1')).toBe(true);
      const next = config();
      next.lanes[0].pulseMs = 250;
      next.readers[0] = { ...next.readers[0], frameGapMs: 30 } as typeof next.readers[0];
      writeFileSync(configPath, JSON.stringify(next));
      await gate.reload();
      expect(gate.currentConfig.lanes[0].pulseMs).toBe(250);
      world.walk.on = true;
      await settle();
      expect(gate.journal.entriesOf(p!.punchId).find((e) => e.type === 'passage')).toMatchObject({ outcome: 'timeout' });
      await swipe();
      await settle();
      await clock.advance(300); // the relay releases after the passage settled
      expect(pulseLengths().at(-1)).toBe(250);
    });

    it('refuses an invalid file or a change that needs a restart, and keeps the old config', async () => {
      writeFileSync(configPath, JSON.stringify({ ...config(), lanes: [] }));
      await expect(gate.reload()).rejects.toMatchObject({ code: 'config_invalid' });
      const moved = config();
      moved.lanes[0].relays.in = { chip: moved.lanes[0].relays.in!.chip, offset: 4, activeLow: false };
      writeFileSync(configPath, JSON.stringify(moved));
      await expect(gate.reload()).rejects.toMatchObject({ code: 'reload_needs_restart', message: expect.stringContaining('lanes[0]') });
      expect(gate.currentConfig.lanes[0].pulseMs).toBe(250);
      const p = await swipe();
      expect(p?.decision).toBe('granted');
      await settle();
    });
  });
});
