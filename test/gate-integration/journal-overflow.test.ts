import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import type { PassageEvent } from '../../src/mqtt/events.js';
import { topics } from '../../src/mqtt/topics.js';
import { GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// A journal holding more than it promises (the hub away for long): the site's policy decides
// whether workers still pass; either way a fault is raised and every swipe is journalled.
describe('journal over capacity, through the access controller of a real gate', () => {
  let site: TestSite;
  let gate: Gate | null = null;
  let world: SimWorld;
  let watch: Awaited<ReturnType<typeof watcher>>;
  let n = 0;

  beforeAll(async () => {
    site = await startSite('overflow');
    watch = await watcher(site, [topics.gateEvent(SITE, GATE), topics.gatePunch(SITE, GATE)]);
  }, 60_000);
  afterEach(async () => {
    await gate?.stop();
    gate = null;
  });
  afterAll(async () => {
    await watch?.client.endAsync();
    await site?.stop();
  });

  async function startGate(onOverflow: 'keep-open' | 'deny'): Promise<{ punches: PunchEntry[] }> {
    world = simWorld(systemClock);
    const config = gateConfig(site, [wiegandReader], {
      stateDir: join(site.dir, `gate-${++n}`),
      journal: { capacity: 3, onOverflow, keepAckedRows: 0 },
    });
    const punches: PunchEntry[] = [];
    gate = newGate(config, world);
    gate.on('punch', (p) => punches.push(p));
    await gate.start();
    return { punches };
  }

  async function swipe(punches: PunchEntry[]): Promise<PunchEntry> {
    const k = punches.length;
    new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await waitFor(() => punches.length > k, 5000, 'the punch');
    await waitFor(() => !gate!.laneBusy('L1'), 5000, 'the passage');
    return punches.at(-1)!;
  }

  const overFault = () => gate!.faults.list().find((f) => f.code === 'journal_over_capacity');

  it("'keep-open': workers still pass over capacity, a fault says so, nothing is dropped", async () => {
    const { punches } = await startGate('keep-open');
    expect((await swipe(punches)).decision).toBe('granted');
    expect((await swipe(punches)).decision).toBe('granted'); // 4 entries now: over the 3 promised
    expect(gate!.journal.overCapacity).toBe(true);
    const third = await swipe(punches);
    expect(third).toMatchObject({ decision: 'granted', reason: 'ok' });
    expect(overFault()!.message).toMatch(/over its capacity of 3.*workers still pass/);
    expect(gate!.journal.unackedCount()).toBe(6);
    expect(gate!.status()).toMatchObject({ health: 'degraded', journal: { overCapacity: true, capacity: 3, onOverflow: 'keep-open' } });
  });

  it("'deny': new swipes are denied with journal_full (journalled and reported); the hub's acks clear it; pruning keeps only what the hub lacks", async () => {
    const { punches } = await startGate('deny');
    await swipe(punches);
    await swipe(punches);
    const refused = await swipe(punches);
    expect(refused).toMatchObject({ decision: 'denied', reason: 'journal_full', workerId: 'W1' });
    expect(gate!.controller.counters.journalFull).toBe(1);
    expect(gate!.indicatorPlaying('L1')).toBe('denied');
    expect(overFault()!.message).toMatch(/denied \(journal_full\)/);
    expect(gate!.journal.unackedCount()).toBe(5); // the refusal is journalled too: nothing dropped
    await waitFor(() => watch.messages.some((m) => m.topic === topics.gateEvent(SITE, GATE) && m.json.punchId === refused.punchId), 5000, 'the event');
    const ev = watch.messages.find((m) => m.json?.punchId === refused.punchId && m.topic.endsWith('/event'))!.json as PassageEvent;
    expect(ev).toMatchObject({ event_type: 'denied', reason: 'journal_full' });

    // the hub comes back and acknowledges everything this gate published
    await waitFor(() => watch.messages.filter((m) => m.topic === topics.gatePunch(SITE, GATE) && m.json.entries?.some((e: PunchEntry) => e.punchId === refused.punchId)).length > 0, 10_000, 'the batch');
    const batches = watch.messages.filter((m) => m.topic === topics.gatePunch(SITE, GATE) && m.json.gateId === GATE);
    const ids = [...new Set(batches.flatMap((b) => b.json.entries.map((e: PunchEntry) => e.punchId)))];
    const seq = Math.max(...batches.map((b) => b.json.head.seq));
    await watch.client.publishAsync(topics.gateAck(SITE, GATE), JSON.stringify({ gateId: GATE, seq, punchIds: ids }), { qos: 1 });
    await waitFor(() => gate!.journal.unackedCount() < 3, 10_000, 'the ack');
    expect(overFault()).toBeUndefined();
    expect((await swipe(punches)).decision).toBe('granted');

    const pruned = gate!.housekeeping.pruneNow();
    expect(pruned.entries).toBeGreaterThan(0);
    // what the hub has not acknowledged (the last swipe) is still there
    expect(gate!.journal.unackedCount()).toBeGreaterThan(0);
    expect(gate!.journal.pendingPunches(10).map((p) => p.punch.punchId)).toContain(punches.at(-1)!.punchId);
  });
});
