import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { PassageEntry, PunchEntry } from '../../src/core/entries.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { tailgatingEventSchema } from '../../src/mqtt/events.js';
import { topics } from '../../src/mqtt/topics.js';
import { CHIP, GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from '../gate-integration/harness.js';

// Tail-gating through a real gate on the simulated chip and a ManualClock: the passage sensor is
// driven by the test, to the millisecond, on a lane that waits 400 ms of rest before settling.
describe('tail-gating: two people on one release', () => {
  const clock = new ManualClock();
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const passages: PassageEntry[] = [];
  const punches: PunchEntry[] = [];

  beforeAll(async () => {
    site = await startSite('tailgate');
    world = simWorld(clock);
    world.walk.on = false;
    const line = (offset: number) => ({ chip: CHIP, offset });
    const config = gateConfig(site, [wiegandReader], {
      lanes: [{ name: 'L1', relays: { in: line(PINS.relayIn), out: line(PINS.relayOut) }, passageSensor: line(PINS.passage), pulseMs: 100, passageTimeoutMs: 5000, passageClearMs: 400 }],
    });
    gate = newGate(config, world, { clock });
    gate.on('passage', (p) => passages.push(p));
    gate.on('punch', (p) => punches.push(p));
    watch = await watcher(site, [topics.gateEvent(SITE, GATE), topics.gateStatus(SITE, GATE)]);
    await gate.start();
    await waitFor(() => gate.snapshot().hub.connected, 10_000, 'the hub link');
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await watch?.client.endAsync();
    await site?.stop();
  });

  /** A granted swipe, then the sensor: [active ms, rest ms] pairs; the lane settles after the last rest. */
  async function passWith(pattern: [number, number][]): Promise<PassageEntry> {
    const n = passages.length;
    new WiegandSim(world.chip, clock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await clock.advance(40);
    expect(punches.at(-1)).toMatchObject({ decision: 'granted', workerId: 'W1' });
    for (const [active, rest] of pattern) {
      world.chip.inject(PINS.passage, 1);
      await clock.advance(active);
      world.chip.inject(PINS.passage, 0);
      await clock.advance(rest);
    }
    await clock.advance(400);
    expect(passages.length).toBe(n + 1);
    return passages.at(-1)!;
  }

  const tailgates = () => watch.messages.filter((m) => m.topic === topics.gateEvent(SITE, GATE) && m.json?.event_type === 'tailgating');

  it('one person whose beam flickers (rest shorter than the person gap) is one passage, no tail-gating', async () => {
    const p = await passWith([[120, 40], [150, 0]]);
    expect(p).toMatchObject({ outcome: 'confirmed', sensorCount: 1 });
    expect(gate.snapshot().tailgating).toMatchObject({ count: 0 });
  });

  it('a second person following before the lane settles: sensorCount 2, a tailgating event, counted in the status', async () => {
    const p = await passWith([[300, 250], [300, 0]]);
    expect(p).toMatchObject({ outcome: 'confirmed', sensorCount: 2 });
    expect(gate.snapshot().tailgating).toMatchObject({ count: 1, lastLane: 'L1' });
    await waitFor(() => tailgates().length === 1, 5000, 'the tailgating event');
    const e = tailgatingEventSchema.parse(tailgates()[0].json);
    expect(e).toMatchObject({ kind: 'tailgating', gateId: GATE, lane: 'L1', direction: 'in', sensorCount: 2, workerId: 'W1', punchId: p.punchId });
    await waitFor(() => watch.messages.some((m) => m.topic === topics.gateStatus(SITE, GATE) && m.json?.tailgating?.count === 1), 5000, 'the status');
  });

  it('three people: sensorCount 3, the second tail-gating counted', async () => {
    const p = await passWith([[200, 200], [200, 200], [200, 0]]);
    expect(p.sensorCount).toBe(3);
    expect(gate.snapshot().tailgating?.count).toBe(2);
    expect(gate.journal.entriesOf(p.punchId).find((e) => e.type === 'passage')).toMatchObject({ sensorCount: 3 });
  });
});
