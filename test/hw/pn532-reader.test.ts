import { beforeEach, describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Pn532 } from '../../src/gate/hw/pn532.js';
import { Pn532I2cTransport } from '../../src/gate/hw/pn532-i2c.js';
import { Pn532Reader, type CardCredential, type Pn532ReaderOptions } from '../../src/gate/hw/pn532-reader.js';
import type { Pn532SimOptions } from '../../src/gate/hw/sim/pn532-sim.js';
import { pn532Rig, value } from './pn532-helpers.js';

function readerRig(opts: { sim?: Pn532SimOptions; reader?: Pn532ReaderOptions } = {}) {
  const rig = pn532Rig({ sim: opts.sim });
  const reader = new Pn532Reader(rig.pn532, rig.clock, opts.reader);
  const cards: CardCredential[] = [];
  const faults: SitegateError[] = [];
  let recovered = 0;
  reader.on('credential', (c) => cards.push(c));
  reader.on('fault', (e) => faults.push(e));
  reader.on('recovered', () => recovered++);
  return { ...rig, reader, cards, faults, recovered: () => recovered };
}

describe('PN532 reader over the simulated chip on I2C', () => {
  let r: ReturnType<typeof readerRig>;

  beforeEach(async () => {
    r = readerRig();
    r.reader.start();
    await r.clock.advance(100);
  });

  it('wakes and configures the chip, then reports itself healthy', () => {
    expect(r.sim.samConfigured).toBe(true);
    expect(r.sim.passiveRetries).toBe(1);
    expect(r.reader.health()).toEqual({ state: 'ok', firmware: 'PN532 firmware 1.6 (ISO14443A, ISO14443B, ISO18092)', faults: 0 });
    expect(r.cards).toEqual([]);
  });

  it('reports a card held on the reader once, and again after it has been away', async () => {
    r.sim.placeCard('04a1b2c3d4e5f6');
    const placedAt = r.clock.monotonic();
    await r.clock.advance(100);
    expect(r.cards).toEqual([{ kind: 'card', number: '04A1B2C3D4E5F6', readAtMono: expect.any(Number) }]);
    expect(r.cards[0].readAtMono - placedAt).toBeLessThanOrEqual(100);
    expect(r.reader.health().lastReadAtMs).toBe(r.clock.now() - (r.clock.monotonic() - r.cards[0].readAtMono));
    await r.clock.advance(3000);
    expect(r.cards).toHaveLength(1);
    r.sim.removeCard();
    await r.clock.advance(400);
    r.sim.placeCard('04a1b2c3d4e5f6');
    await r.clock.advance(100);
    expect(r.cards.map((c) => c.number)).toEqual(['04A1B2C3D4E5F6', '04A1B2C3D4E5F6']);
  });

  it('does not report a card again when it leaves the field for a single poll', async () => {
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(100);
    r.sim.removeCard();
    await r.clock.advance(60);
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(500);
    expect(r.cards).toHaveLength(1);
  });

  it('reports another card at once', async () => {
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(100);
    r.sim.placeCard('0102030405060708090A');
    await r.clock.advance(100);
    expect(r.cards.map((c) => c.number)).toEqual(['DEADBEEF', '0102030405060708090A']);
  });

  it('rides out damaged frames without a fault', async () => {
    r.sim.injectFault('bad_dcs', 2);
    r.sim.injectFault('garbage', 1);
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(200);
    expect(r.cards.map((c) => c.number)).toEqual(['DEADBEEF']);
    expect(r.faults).toEqual([]);
    expect(r.sim.stats().nacks).toBeGreaterThan(0);
  });

  it('reports a silent chip as one fault and recovers when it answers again', async () => {
    r.sim.setSilent(true);
    await r.clock.advance(1000);
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]).toBeInstanceOf(SitegateError);
    expect(r.faults[0].code).toBe('pn532_timeout');
    expect(r.reader.health()).toMatchObject({ state: 'fault', faults: 1, lastError: expect.stringContaining('did not acknowledge') });
    await r.clock.advance(5000);
    expect(r.faults).toHaveLength(1);
    r.sim.setSilent(false);
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(1500);
    expect(r.recovered()).toBe(1);
    expect(r.reader.health()).toMatchObject({ state: 'ok', faults: 1 });
    expect(r.cards.map((c) => c.number)).toEqual(['DEADBEEF']);
  });

  it('re-wakes and re-configures a chip that vanished mid-frame and came back reset', async () => {
    r.sim.vanish(5);
    await r.clock.advance(1000);
    expect(r.faults.map((f) => f.code)).toEqual(['pn532_io']);
    expect(r.faults[0].message).toContain('Remote I/O error');
    r.sim.reappear(); // power-cycled: asleep, unconfigured, waits for a card forever
    expect(r.sim.samConfigured).toBe(false);
    await r.clock.advance(1500);
    expect(r.recovered()).toBe(1);
    expect(r.sim.samConfigured).toBe(true);
    expect(r.sim.passiveRetries).toBe(1);
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(100);
    expect(r.cards.map((c) => c.number)).toEqual(['DEADBEEF']);
  });

  it('notices a chip that reset on its own: polling stalls, the reader re-configures it', async () => {
    r.sim.powerCycle();
    await r.clock.advance(1000);
    expect(r.faults).toEqual([]); // one failed poll is not a fault
    expect(r.sim.samConfigured).toBe(true);
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(100);
    expect(r.cards).toHaveLength(1);
  });

  it('asks for the firmware version as a heartbeat while idle', async () => {
    const before = r.sim.stats().commands[0x02];
    await r.clock.advance(12_000);
    expect(r.sim.stats().commands[0x02] - before).toBe(2);
  });

  it('answers a selftest between polls', async () => {
    expect(await value(r.clock, r.reader.selftest())).toEqual({ ok: true, detail: 'PN532 firmware 1.6 (ISO14443A, ISO14443B, ISO18092)' });
  });

  it('stops polling and closes the bus, and starts again', async () => {
    await value(r.clock, r.reader.stop());
    const reads = r.sim.stats().reads;
    await r.clock.advance(1000);
    expect(r.sim.stats().reads).toBe(reads);
    r.sim.placeCard('DEADBEEF');
    r.reader.start();
    r.reader.start();
    await r.clock.advance(100);
    expect(r.cards).toHaveLength(1);
    await value(r.clock, r.reader.stop());
  });

  it('keeps polling when a listener throws', async () => {
    r.reader.on('credential', () => {
      throw new Error('listener bug');
    });
    r.sim.placeCard('DEADBEEF');
    await r.clock.advance(100);
    r.sim.placeCard('CAFEBABE');
    await r.clock.advance(100);
    expect(r.cards).toHaveLength(2);
  });
});

describe('PN532 reader faults that retrying cannot fix', () => {
  it('reports a chip that is not a PN532 at once', async () => {
    const r = readerRig({ sim: { firmware: { ic: 0x31, version: 1, revision: 0, support: 1 } } });
    r.reader.start();
    await r.clock.advance(50);
    expect(r.faults.map((f) => f.code)).toEqual(['pn532_wrong_ic']);
    expect(r.reader.health().state).toBe('fault');
  });

  it('reports a missing I2C bus at once and keeps trying', async () => {
    const clock = new ManualClock();
    let opens = 0;
    const transport = new Pn532I2cTransport({
      bus: 3,
      openBus: async () => {
        opens++;
        throw new SitegateError('pn532_i2c_bus_missing', '/dev/i2c-3 does not exist');
      },
    });
    const reader = new Pn532Reader(new Pn532(transport, clock), clock, { retryMs: 500 });
    const faults: SitegateError[] = [];
    reader.on('fault', (e) => faults.push(e));
    reader.start();
    await clock.advance(1200);
    expect(faults.map((f) => f.code)).toEqual(['pn532_i2c_bus_missing']);
    expect(opens).toBe(3);
    expect(reader.health()).toEqual({ state: 'fault', faults: 1, lastError: '/dev/i2c-3 does not exist' });
    expect(await reader.selftest()).toEqual({ ok: false, detail: '/dev/i2c-3 does not exist' });
    await reader.stop();
  });

  it('fails a selftest on a silent chip and closes the bus it opened', async () => {
    const r = readerRig();
    r.sim.setSilent(true);
    const res = await value(r.clock, r.reader.selftest());
    expect(res.ok).toBe(false);
    expect(res.detail).toContain('did not acknowledge');
    await expect(r.transport.isReady()).rejects.toMatchObject({ code: 'pn532_closed' });
  });

  it('wraps a non-Sitegate error from the chip into one', async () => {
    const r = readerRig({ reader: { faultAfter: 1 } });
    r.pn532.getFirmwareVersion = async () => {
      throw new Error('boom');
    };
    r.reader.start();
    await r.clock.advance(50);
    expect(r.faults[0]).toBeInstanceOf(SitegateError);
    expect(r.faults[0]).toMatchObject({ code: 'pn532_io', message: 'PN532 pn532: boom' });
  });

  it('checks its options', () => {
    const r = pn532Rig();
    expect(() => new Pn532Reader(r.pn532, r.clock, { faultAfter: 0 })).toThrow(TypeError);
    expect(() => new Pn532Reader(r.pn532, r.clock, { pollIntervalMs: -1 })).toThrow(TypeError);
  });
});
