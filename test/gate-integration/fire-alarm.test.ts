import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { Gate, FireAlarmEvent } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { topics } from '../../src/mqtt/topics.js';
import { GATE, LANE2, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// A real Gate on a ManualClock: the fire-alarm input is debounced on the injected clock, so
// "within the debounce time" is checked to the millisecond without sleeping.
describe('the fire alarm through a real gate', () => {
  const clock = new ManualClock();
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const alarms: FireAlarmEvent[] = [];
  const relayLines = [PINS.relayIn, PINS.relayOut, LANE2.relayIn, LANE2.relayOut];

  beforeAll(async () => {
    site = await startSite('fire');
    world = simWorld(clock);
    gate = newGate(gateConfig(site, [wiegandReader]), world, { clock });
    gate.on('fireAlarm', (e) => alarms.push(e));
    watch = await watcher(site, [topics.gateEvent(SITE, GATE)]);
    await gate.start();
    await waitFor(() => gate.snapshot().hub.connected, 10_000, 'the hub link');
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await watch?.client.endAsync();
    await site?.stop();
  });

  it('holds every lane in free passage within the 50 ms debounce, with a punch-less event', async () => {
    const head = gate.journal.head.seq;
    world.chip.inject(PINS.fire, 1);
    await clock.advance(49);
    expect(relayLines.map((l) => world.chip.level(l))).toEqual([0, 0, 0, 0]);
    expect(gate.fireAlarmActive).toBe(false);
    await clock.advance(1);
    expect(gate.fireAlarmActive).toBe(true);
    expect(relayLines.map((l) => world.chip.level(l))).toEqual([1, 1, 1, 1]);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'fire_alarm', state: 'active', gateId: GATE, lanes: ['L1', 'L2'] });
    expect(gate.journal.head.seq).toBe(head);
    const v = gate.snapshot();
    expect(v.fireAlarm).toBe('active');
    expect(v.lanes).toEqual({ L1: 'open', L2: 'open' });
    expect(v.faults.map((f) => f.code)).toContain('fire_alarm');
    await waitFor(() => watch.messages.some((m) => m.json?.kind === 'fire_alarm'), 5000, 'the published fire alarm event');
    expect(watch.messages.find((m) => m.json?.kind === 'fire_alarm')!.json).toMatchObject({ state: 'active', lanes: ['L1', 'L2'] });
  });

  it('keeps the lanes open while the alarm lasts (the hold is renewed)', async () => {
    await clock.advance(60_000);
    expect(relayLines.map((l) => world.chip.level(l))).toEqual([1, 1, 1, 1]);
  });

  it('restores normal operation after it clears: relays released, a cleared event, swipes pulse again', async () => {
    world.chip.inject(PINS.fire, 0);
    await clock.advance(50);
    expect(gate.fireAlarmActive).toBe(false);
    expect(relayLines.map((l) => world.chip.level(l))).toEqual([0, 0, 0, 0]);
    expect(alarms.map((a) => a.state)).toEqual(['active', 'cleared']);
    expect(gate.fireAlarmEvents().map((a) => a.state)).toEqual(['active', 'cleared']);
    expect(gate.snapshot().faults.map((f) => f.code)).not.toContain('fire_alarm');
    expect(gate.snapshot().lanes).toEqual({ L1: 'normal', L2: 'normal' });

    const pulses = world.chip.pulses(PINS.relayIn);
    new WiegandSim(world.chip, clock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await clock.advance(40);
    expect(world.chip.pulses(PINS.relayIn)).toBe(pulses + 1);
    await clock.advance(100);
    expect(world.chip.level(PINS.relayIn)).toBe(0);
  });
});
