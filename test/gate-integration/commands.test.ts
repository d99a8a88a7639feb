import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { commandAckSchema, type CommandAck } from '../../src/mqtt/commands.js';
import { gateStatusSchema } from '../../src/mqtt/status.js';
import { topics } from '../../src/mqtt/topics.js';
import { GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// Operator commands over the real broker, the way the hub's dashboards send them.
describe('gate commands on gate/<id>/cmd, each acknowledged on cmd/ack', () => {
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const punches: PunchEntry[] = [];
  const resyncs: (string | null)[] = [];
  let n = 0;

  beforeAll(async () => {
    site = await startSite('cmd');
    world = simWorld(systemClock);
    gate = newGate(gateConfig(site, [wiegandReader]), world);
    gate.on('punch', (p) => punches.push(p));
    gate.on('resyncRoster', (r) => resyncs.push(r.commandId));
    watch = await watcher(site, [topics.gateCmdAck(SITE, GATE), topics.gateStatus(SITE, GATE), topics.gateEvent(SITE, GATE)]);
    await gate.start();
    await waitFor(() => gate.snapshot().hub.connected, 10_000, 'the hub link');
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await watch?.client.endAsync();
    await site?.stop();
  });

  async function send(payload: object | string): Promise<CommandAck> {
    const acks = () => watch.messages.filter((m) => m.topic.endsWith('/cmd/ack'));
    const before = acks().length;
    await watch.client.publishAsync(topics.gateCmd(SITE, GATE), typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
    await waitFor(() => acks().length > before, 10_000, 'the ack');
    return commandAckSchema.parse(acks().at(-1)!.json);
  }

  async function swipe(): Promise<PunchEntry> {
    const k = punches.length;
    new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await waitFor(() => punches.length > k, 5000, 'the punch');
    await waitFor(() => !gate.laneBusy('L1'), 5000, 'the passage');
    return punches.at(-1)!;
  }

  const id = () => `c${++n}`;

  it('opens a lane once: a manual-open punch, one relay pulse, ack ok with the punch id', async () => {
    const before = world.chip.pulses(PINS.relayOut);
    const ack = await send({ cmd: 'open-once', lane: 'L1', direction: 'out', id: id() });
    expect(ack).toMatchObject({ id: `c${n}`, cmd: 'open-once', ok: true, code: 'ok' });
    expect(world.chip.pulses(PINS.relayOut)).toBe(before + 1);
    const p = punches.at(-1)!;
    expect(ack.result?.punchId).toBe(p.punchId);
    expect(p).toMatchObject({ credential: { kind: 'manual' }, reason: 'manual_open', workerId: null });
    await waitFor(() => !gate.laneBusy('L1'), 5000, 'the passage');
  });

  it('locks a lane down (every credential refused, no pulse, status says lockdown) and releases it', async () => {
    expect(await send({ cmd: 'lock-down', lane: 'L1', id: id() })).toMatchObject({ ok: true, code: 'ok' });
    await waitFor(() => watch.messages.some((m) => m.topic.endsWith('/status') && m.json?.lanes?.L1?.mode === 'lockdown'), 5000, 'the lockdown status');
    const pulses = world.chip.pulses(PINS.relayIn);
    const denied = await swipe();
    expect(denied).toMatchObject({ decision: 'denied', reason: 'lockdown', workerId: 'W1' });
    expect(world.chip.pulses(PINS.relayIn)).toBe(pulses);
    await waitFor(() => watch.messages.some((m) => m.topic.endsWith('/event') && m.json?.reason === 'lockdown'), 5000, 'the denied event');

    expect(await send({ cmd: 'release', id: id() })).toMatchObject({ ok: true, code: 'ok' });
    const granted = await swipe();
    expect(granted).toMatchObject({ decision: 'granted', reason: 'ok' });
    expect(world.chip.pulses(PINS.relayIn)).toBe(pulses + 1);
    const last = watch.messages.filter((m) => m.topic.endsWith('/status')).at(-1)!.json;
    expect(gateStatusSchema.parse(last).lanes!.L1.mode).not.toBe('lockdown');
  });

  it('refuses resync-roster on a gate whose roster comes from its file only (accepted with a hub key: roster-sync.test.ts)', async () => {
    const ack = await send({ cmd: 'resync-roster', id: id() });
    expect(ack).toMatchObject({ ok: false, code: 'unavailable', message: expect.stringContaining('roster from its file only') });
    expect(resyncs).toEqual([]);
  });

  it('refuses a stale open without acting, an unknown lane, and a malformed payload', async () => {
    const pulses = world.chip.pulses(PINS.relayIn);
    const count = punches.length;
    expect(await send({ cmd: 'open-once', lane: 'L1', id: id(), notAfterMs: Date.now() - 60_000 })).toMatchObject({ ok: false, code: 'stale' });
    expect(await send({ cmd: 'open-once', lane: 'L7', id: id() })).toMatchObject({ ok: false, code: 'unknown_lane' });
    expect(await send('{"cmd":"open-once","lane":"L1","direction":"sideways","id":"bad1"}')).toMatchObject({ id: 'bad1', ok: false, code: 'bad_command' });
    expect(await send('not json')).toMatchObject({ id: null, cmd: null, ok: false, code: 'bad_command' });
    expect(world.chip.pulses(PINS.relayIn)).toBe(pulses);
    expect(punches.length).toBe(count);
  });
});
