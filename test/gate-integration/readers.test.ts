import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { controlRequest } from '../../src/control/client.js';
import { ControlServer } from '../../src/control/server.js';
import { openResultSchema, punchListSchema, rosterInfoSchema, rosterMatchesSchema, statusViewSchema, tokenInfoSchema } from '../../src/control/views.js';
import { passageEventSchema } from '../../src/mqtt/events.js';
import { gateStatusSchema } from '../../src/mqtt/status.js';
import { topics } from '../../src/mqtt/topics.js';
import type { Gate } from '../../src/gate/gate.js';
import { IdCardSim, sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';
import { Pn532Sim } from '../../src/gate/hw/sim/pn532-sim.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { CARDS, CHIP, GATE, LANE2, PINS, SITE, gateConfig, newGate, simWorld, startSite, startSocat, stopSocat, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// One real Gate with its three kinds of reader: Wiegand on the simulated chip, a PN532 simulator
// behind the I2C transport, a GA 467 SAM simulator on the far end of a real socat pty pair. A
// real mosquitto, a SoftHSM2 token, an in-process hub that stores and acknowledges.
describe('a gate with a Wiegand, a PN532 and an ID card reader', () => {
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let pn532: Pn532Sim;
  const sam = new IdCardSim(systemClock, { baud: null });
  let socat: ChildProcess | null = null;
  let readerLink: string;
  let samLink: string;
  let control: ControlServer;
  let socketPath: string;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const punches: PunchEntry[] = [];
  const acked = new Set<string>();

  beforeAll(async () => {
    site = await startSite('readers', { hub: true });
    world = simWorld(systemClock);
    pn532 = new Pn532Sim(systemClock);
    readerLink = join(site.dir, 'usb-Synjones_SAM_0001-if00-port0');
    samLink = join(site.dir, 'sam-side');
    socat = await startSocat(readerLink, samLink);
    await sam.openSerial(samLink);
    const config = gateConfig(site, [
      wiegandReader,
      { kind: 'pn532', lane: 'L1', direction: 'out', i2cBus: 1, pollIntervalMs: 20 },
      { kind: 'idcard', lane: 'L2', direction: 'in', path: readerLink, pollMs: 30, heartbeatMs: 300 },
    ]);
    gate = newGate(config, world, { i2cOpener: async () => pn532 });
    gate.on('punch', (p) => punches.push(p));
    gate.on('acked', (ids) => ids.forEach((id) => acked.add(id)));
    watch = await watcher(site, [topics.gateEvent(SITE, GATE), topics.gateStatus(SITE, GATE)]);
    await gate.start();
    // passage events are not queued while the link is down (stateless; a week offline must not pile up)
    await waitFor(() => gate.snapshot().hub.connected, 10_000, 'the hub link');
    socketPath = join(site.dir, 'gate.sock');
    control = new ControlServer({ path: socketPath, handlers: gate.control(), clock: systemClock, log: silentLogger(), group: null });
    await control.start();
  }, 60_000);

  afterAll(async () => {
    await control?.stop();
    await gate?.stop();
    await watch?.client.endAsync();
    await sam.closeSerial();
    await stopSocat(socat);
    await site?.stop();
  });

  async function swipeAndSettle(act: () => void, relayPin: number, lane: string): Promise<PunchEntry> {
    const pulsesBefore = world.chip.pulses(relayPin);
    const n = punches.length;
    act();
    await waitFor(() => punches.length > n, 10_000, 'a punch');
    const p = punches[punches.length - 1];
    await waitFor(() => world.chip.pulses(relayPin) === pulsesBefore + 1, 5000, 'the relay pulse');
    await waitFor(() => !gate.laneBusy(lane), 5000, 'the passage');
    await waitFor(() => acked.has(p.punchId), 15_000, 'the hub acknowledging the punch');
    return p;
  }

  it('takes a Wiegand swipe to a relay pulse and a punch the hub acknowledges', async () => {
    const wiegand = new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 });
    const p = await swipeAndSettle(() => wiegand.send(encodeWiegand26(21, 1001)), PINS.relayIn, 'L1');
    expect(p).toMatchObject({ lane: 'L1', direction: 'in', workerId: 'W1', decision: 'granted', credential: { kind: 'wiegand' } });
    const passage = gate.journal.entriesOf(p.punchId).find((e) => e.type === 'passage');
    expect(passage).toMatchObject({ outcome: 'confirmed' });
  });

  it('takes a PN532 card through the I2C transport to the out relay and a punch', async () => {
    const p = await swipeAndSettle(() => pn532.placeCard(CARDS.pn532Uid), PINS.relayOut, 'L1');
    pn532.removeCard();
    expect(p).toMatchObject({ lane: 'L1', direction: 'out', workerId: 'W1', decision: 'granted', credential: { kind: 'card' } });
  });

  it('takes a resident ID card over the pty to lane 2 and a punch, with the number only as an HMAC', async () => {
    const p = await swipeAndSettle(() => sam.insert(sampleCard()), LANE2.relayIn, 'L2');
    sam.remove();
    expect(p).toMatchObject({ lane: 'L2', direction: 'in', workerId: 'W1', decision: 'granted', credential: { kind: 'idcard' } });
    expect(JSON.stringify(gate.journal.entriesOf(p.punchId))).not.toContain(CARDS.idNumber);
  });

  it('denies a blacklisted card without a pulse, plays the denied pattern and still journals it', async () => {
    const wiegand = new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 });
    const before = world.chip.pulses(PINS.relayIn);
    const n = punches.length;
    wiegand.send(encodeWiegand26(21, 1002));
    await waitFor(() => punches.length > n, 5000, 'the denied punch');
    const p = punches[punches.length - 1];
    expect(p).toMatchObject({ decision: 'denied', reason: 'blacklisted', workerId: 'W2' });
    expect(gate.indicatorPlaying('L1')).toBe('denied');
    expect(world.chip.pulses(PINS.relayIn)).toBe(before);
    await waitFor(() => acked.has(p.punchId), 15_000, 'the hub acknowledging the denial');
  });

  it('publishes one schema-valid passage event per attempt and never an ID number', async () => {
    await waitFor(() => watch.messages.filter((m) => m.topic.endsWith('/event')).length >= 4, 5000, 'four events');
    const events = watch.messages.filter((m) => m.topic.endsWith('/event')).map((m) => passageEventSchema.parse(m.json));
    expect(events.map((e) => `${e.event_type}:${e.method}`)).toEqual(['granted:wiegand', 'granted:card', 'granted:idcard', 'denied:wiegand']);
    expect(events.every((e) => punches.some((p) => p.punchId === e.punchId))).toBe(true);
    expect(JSON.stringify(watch.messages)).not.toContain(CARDS.idNumber);
  });

  it('keeps a retained status the hub can read, with lanes, certificate expiry and roster version', async () => {
    const status = watch.messages.filter((m) => m.topic.endsWith('/status')).at(-1)!.json;
    const s = gateStatusSchema.parse(status);
    expect(s).toMatchObject({ online: true, fireAlarm: false, rosterVersion: 1, lanes: { L1: { mode: expect.any(String) }, L2: { mode: expect.any(String) } } });
    expect(s.certNotAfterMs).toBeGreaterThan(Date.now());
    expect(status.certificate.sha256).toBe(site.token.certSha256);
  });

  it('answers `sitegate status --json` on its control socket from the real gate', async () => {
    const r = await controlRequest(socketPath, { cmd: 'status' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = statusViewSchema.parse(r.result);
    if (v.kind !== 'gate') throw new Error('not a gate status');
    expect(v).toMatchObject({ gateId: GATE, siteId: SITE, health: 'ok', fireAlarm: 'normal', clock: { synced: true }, roster: { version: 1, size: 2 } });
    expect(v.readers.map((x) => `${x.name}:${x.kind}:${x.state}`)).toEqual(['L1.in:wiegand:ok', 'L1.out:pn532:ok', 'L2.in:idcard:ok']);
    expect(v.readers.every((x) => x.lastReadMs !== null)).toBe(true);
    expect(v.readers[2].device).toBe(readerLink);
    expect(v.relays.find((x) => x.lane === 'L1' && x.direction === 'in')!.pulses).toBe(1);
    expect(v.token.state).toBe('open');
    expect(v.token.certificate).toMatchObject({ sha256: site.token.certSha256, subject: expect.stringContaining(GATE) });
    expect(v.token.certificate!.expiresInDays).toBeGreaterThanOrEqual(363);
    expect(v.journal.accepting).toBe(true);
    expect(v.journal.headSeq).toBeGreaterThanOrEqual(6);
    expect(v.hub.connected).toBe(true);
    expect(v.hub.lastAckMs).not.toBeNull();
  });

  it('lists punches (--last, --pending), the roster and the token on the control socket', async () => {
    const last = await controlRequest(socketPath, { cmd: 'punches', args: { last: 10 } });
    if (!last.ok) throw new Error(last.error.message);
    const list = punchListSchema.parse(last.result);
    expect(list.map((p) => p.credential)).toEqual(['wiegand', 'idcard', 'card', 'wiegand']);
    expect(list.slice(1).every((p) => p.passage === 'confirmed' && p.acked)).toBe(true);
    expect(list[0]).toMatchObject({ decision: 'denied', passage: null });
    const pending = await controlRequest(socketPath, { cmd: 'punches', args: { pending: true, limit: 10 } });
    if (!pending.ok) throw new Error(pending.error.message);
    expect(punchListSchema.parse(pending.result)).toEqual([]);
    const info = await controlRequest(socketPath, { cmd: 'roster.info' });
    if (!info.ok) throw new Error(info.error.message);
    expect(rosterInfoSchema.parse(info.result)).toEqual({ siteId: SITE, version: 1, size: 2, credentials: { card: 1, idcard: 1, wiegand: 2 } });
    const find = await controlRequest(socketPath, { cmd: 'roster.find', args: { query: '王', limit: 5 } });
    if (!find.ok) throw new Error(find.error.message);
    expect(rosterMatchesSchema.parse(find.result).map((w) => w.workerId)).toEqual(['W2']);
    const token = await controlRequest(socketPath, { cmd: 'token.info' });
    if (!token.ok) throw new Error(token.error.message);
    expect(tokenInfoSchema.parse(token.result)).toMatchObject({ state: 'open', tokenLabel: site.token.tokenLabel, pendingEntries: 0 });
  });

  it('opens a lane for a technician: journalled as a manual open with no worker, acknowledged by the hub', async () => {
    const before = world.chip.pulses(LANE2.relayIn);
    const r = await controlRequest(socketPath, { cmd: 'open', args: { lane: 'L2', direction: 'in', who: 'tech-li', reason: 'delivery' } }, { timeoutMs: 10_000 });
    if (!r.ok) throw new Error(r.error.message);
    const o = openResultSchema.parse(r.result);
    expect(o).toMatchObject({ lane: 'L2', direction: 'in', passage: 'confirmed' });
    expect(world.chip.pulses(LANE2.relayIn)).toBe(before + 1);
    const entry = gate.journal.entriesOf(o.punchId!).find((e) => e.type === 'punch') as PunchEntry;
    expect(entry).toMatchObject({ decision: 'granted', reason: 'manual_open', workerId: null, credential: { kind: 'manual' } });
    await waitFor(() => acked.has(o.punchId!), 15_000, 'the hub acknowledging the manual open');
    const unknownLane = await controlRequest(socketPath, { cmd: 'open', args: { lane: 'L9', direction: 'in', who: 'tech-li' } });
    expect(unknownLane.ok).toBe(false);
  });

  it('shows an unplugged ID card reader as a fault and clears it when it is plugged back', async () => {
    await sam.closeSerial();
    await stopSocat(socat);
    socat = null;
    const readerState = () => gate.snapshot().readers.find((r) => r.name === 'L2.in')!.health.state;
    await waitFor(() => readerState() === 'fault', 10_000, 'the reader fault');
    expect(gate.faults.has('reader_fault', 'L2.in')).toBe(true);
    const down = statusViewSchema.parse(((await controlRequest(socketPath, { cmd: 'status' })) as { result: unknown }).result);
    expect(down.health).toBe('degraded');
    expect(down.faults.some((f) => f.code === 'reader_fault' && f.message.startsWith('L2.in'))).toBe(true);

    socat = await startSocat(readerLink, samLink);
    await sam.openSerial(samLink);
    await waitFor(() => readerState() === 'ok', 15_000, 'the reader recovering');
    expect(gate.faults.has('reader_fault', 'L2.in')).toBe(false);
    expect(gate.snapshot().readers.find((r) => r.name === 'L2.in')!.health.faults).toBe(1);
    void CHIP;
  });
});
