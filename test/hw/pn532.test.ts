import { describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { ACK_FRAME, NACK_FRAME, decodeFrame, encodeFrame, toHex } from '../../src/gate/hw/pn532-frame.js';
import { Pn532, firmwareText, frameLengthFromHeader, parseListPassiveTarget, type Pn532Transport } from '../../src/gate/hw/pn532.js';
import { simCard } from '../../src/gate/hw/sim/pn532-sim.js';
import { failure, pn532Rig, value } from './pn532-helpers.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

async function configured(rig: ReturnType<typeof pn532Rig>) {
  await value(rig.clock, rig.pn532.open());
  await value(rig.clock, rig.pn532.samConfigure());
  await value(rig.clock, rig.pn532.setPassiveActivationRetries(1));
}

describe('PN532 protocol over the I2C transport and the simulated chip', () => {
  it('reads the firmware version with the exact bytes of the datasheet on the bus', async () => {
    const rig = pn532Rig();
    const wire: string[] = [];
    const write = rig.sim.i2cWrite.bind(rig.sim);
    const read = rig.sim.i2cRead.bind(rig.sim);
    rig.sim.i2cWrite = async (a, n, b) => {
      wire.push(`W ${toHex(b.subarray(0, n), ' ')}`);
      return write(a, n, b);
    };
    rig.sim.i2cRead = async (a, n, b) => {
      const r = await read(a, n, b);
      if (n > 1) wire.push(`R ${toHex(r.buffer.subarray(0, n), ' ')}`);
      return r;
    };
    await value(rig.clock, rig.pn532.open());
    const fw = await value(rig.clock, rig.pn532.getFirmwareVersion());
    expect(fw).toEqual({ ic: 0x32, version: 1, revision: 6, support: 7 });
    expect(firmwareText(fw)).toBe('PN532 firmware 1.6 (ISO14443A, ISO14443B, ISO18092)');
    expect(wire).toEqual([
      'W 00 00 FF 02 FE D4 02 2A 00',
      'R 01 00 00 FF 00 FF 00', // status, ACK
      'R 01 00 00 FF 06 FA D5', // status, header: LEN 6
      'W 00 00 FF FF 00 00', // NACK: send it again
      'R 01 00 00 FF 06 FA D5 03 32 01 06 07 E8 00',
    ]);
  });

  it('rejects a chip that is not a PN532', async () => {
    const rig = pn532Rig({ sim: { firmware: { ic: 0x33, version: 2, revision: 0, support: 1 } } });
    await value(rig.clock, rig.pn532.open());
    const err = await failure(rig.clock, rig.pn532.getFirmwareVersion());
    expect(err).toMatchObject({ code: 'pn532_wrong_ic' });
  });

  it('configures normal mode and a bounded number of activation attempts', async () => {
    const rig = pn532Rig();
    await configured(rig);
    expect(rig.sim.samConfigured).toBe(true);
    expect(rig.sim.passiveRetries).toBe(1);
    await expect(rig.pn532.setPassiveActivationRetries(0xff)).rejects.toThrow(TypeError);
  });

  it('answers "no card" when the field is empty', async () => {
    const rig = pn532Rig();
    await configured(rig);
    expect(await value(rig.clock, rig.pn532.listPassiveTarget())).toBeNull();
  });

  for (const uid of ['DEADBEEF', '04A1B2C3D4E5F6', '0102030405060708090A']) {
    it(`reads a ${uid.length / 2}-byte UID`, async () => {
      const rig = pn532Rig();
      await configured(rig);
      rig.sim.placeCard(uid);
      const t = await value(rig.clock, rig.pn532.listPassiveTarget());
      expect(toHex(t!.uid)).toBe(uid);
      expect(t!.sensRes).toBe(uid.length === 8 ? 0x0004 : uid.length === 14 ? 0x0044 : 0x0084);
      expect(t!.ats).toBeUndefined();
    });
  }

  it('keeps the ATS of an ISO14443-4 card apart from its UID', async () => {
    const rig = pn532Rig();
    await configured(rig);
    rig.sim.placeCard(simCard('04112233445566', { selRes: 0x20, ats: hex('05 78 80 70 02') }));
    const t = await value(rig.clock, rig.pn532.listPassiveTarget());
    expect(toHex(t!.uid)).toBe('04112233445566');
    expect(t!.selRes).toBe(0x20);
    expect(toHex(t!.ats!)).toBe('0578807002');
  });

  it('waits for its turn: two callers at once both get their answer', async () => {
    const rig = pn532Rig();
    await configured(rig);
    rig.sim.placeCard('DEADBEEF');
    const both = Promise.all([rig.pn532.getFirmwareVersion(), rig.pn532.listPassiveTarget()]);
    const [fw, t] = await value(rig.clock, both);
    expect(fw.ic).toBe(0x32);
    expect(toHex(t!.uid)).toBe('DEADBEEF');
  });

  describe('damaged responses are NACKed and read again', () => {
    for (const kind of ['bad_lcs', 'bad_dcs', 'truncated', 'garbage'] as const) {
      it(`recovers from ${kind}`, async () => {
        const rig = pn532Rig();
        await configured(rig);
        rig.sim.placeCard('DEADBEEF');
        const nacksBefore = rig.sim.stats().nacks;
        rig.sim.injectFault(kind, 2);
        const t = await value(rig.clock, rig.pn532.listPassiveTarget());
        expect(toHex(t!.uid)).toBe('DEADBEEF');
        expect(rig.sim.stats().nacks - nacksBefore).toBeGreaterThan(1);
      });
    }

    it('gives up with a bad-frame error when every copy is damaged', async () => {
      const rig = pn532Rig();
      await configured(rig);
      rig.sim.injectFault('bad_dcs', 100);
      const err = await failure(rig.clock, rig.pn532.getFirmwareVersion());
      expect(err).toMatchObject({ code: 'pn532_bad_frame', detail: { frameError: 'dcs' } });
    });

    it('gives up when the header is never readable', async () => {
      const rig = pn532Rig();
      await configured(rig);
      rig.sim.injectFault('garbage', 100);
      const err = (await failure(rig.clock, rig.pn532.getFirmwareVersion())) as SitegateError;
      expect(err.code).toBe('pn532_bad_frame');
      expect(err.message).toContain('bad header (A5 5A 13');
    });

    it('re-sends the command when its ACK arrives damaged', async () => {
      const rig = pn532Rig();
      await value(rig.clock, rig.pn532.open());
      rig.sim.injectFault('bad_lcs', 1, 'any');
      expect((await value(rig.clock, rig.pn532.getFirmwareVersion())).ic).toBe(0x32);
      expect(rig.sim.stats().commands[0x02]).toBe(2);
    });

    it('reports a bad frame when no ACK ever arrives intact', async () => {
      const rig = pn532Rig();
      await value(rig.clock, rig.pn532.open());
      rig.sim.injectFault('garbage', 100, 'any');
      const err = await failure(rig.clock, rig.pn532.getFirmwareVersion());
      expect(err).toMatchObject({ code: 'pn532_bad_frame', detail: { stage: 'ack' } });
      expect(rig.sim.stats().commands[0x02]).toBe(3);
    });
  });

  it('times out on a silent chip after re-sending the command', async () => {
    const rig = pn532Rig({ pn532: { ackTimeoutMs: 20, retries: 2 } });
    await value(rig.clock, rig.pn532.open());
    rig.sim.setSilent(true);
    const err = (await failure(rig.clock, rig.pn532.getFirmwareVersion())) as SitegateError;
    expect(err).toMatchObject({ code: 'pn532_timeout', detail: { stage: 'ack' } });
    expect(rig.sim.stats().writes).toBe(3);
  });

  it('times out and aborts the command when the chip ACKs but never answers', async () => {
    // Without RFConfiguration the chip waits for a card forever.
    const rig = pn532Rig({ pn532: { responseTimeoutMs: 100 } });
    await value(rig.clock, rig.pn532.open());
    const err = await failure(rig.clock, rig.pn532.listPassiveTarget());
    expect(err).toMatchObject({ code: 'pn532_timeout', detail: { stage: 'response' } });
    expect(rig.sim.stats().aborts).toBe(1);
    rig.sim.placeCard('DEADBEEF'); // the aborted command must not answer late
    await rig.clock.advance(50);
    expect(await value(rig.clock, rig.pn532.getFirmwareVersion())).toMatchObject({ ic: 0x32 });
  });

  it('turns a chip vanishing mid-frame into a Remote I/O error with a hint', async () => {
    const rig = pn532Rig();
    await value(rig.clock, rig.pn532.open());
    rig.sim.vanish(4);
    const err = (await failure(rig.clock, rig.pn532.getFirmwareVersion())) as SitegateError;
    expect(err).toBeInstanceOf(SitegateError);
    expect(err.code).toBe('pn532_io');
    expect(err.detail).toEqual({ errno: 'EREMOTEIO' });
    expect(err.message).toMatch(/Remote I\/O error.*clock-stretching/);
    expect(rig.sim.stats().remoteIoErrors).toBe(1);
    rig.sim.reappear(false);
    expect((await value(rig.clock, rig.pn532.getFirmwareVersion())).ic).toBe(0x32);
  });

  it('needs a wake-up after the chip lost power', async () => {
    const rig = pn532Rig();
    await value(rig.clock, rig.pn532.open());
    rig.sim.powerCycle();
    await value(rig.clock, rig.pn532.wakeup());
    expect(rig.sim.stats().remoteIoErrors).toBe(1); // the wake-up read itself was NAKed, and swallowed
    expect((await value(rig.clock, rig.pn532.getFirmwareVersion())).ic).toBe(0x32);
  });

  it('reports the error frame for a command the chip rejects', async () => {
    const rig = pn532Rig();
    await value(rig.clock, rig.pn532.open());
    expect(await failure(rig.clock, rig.pn532.command(0x60))).toMatchObject({ code: 'pn532_application_error' });
    expect(await failure(rig.clock, rig.pn532.command(0x14, [0x00]))).toMatchObject({ code: 'pn532_application_error' });
    expect(await failure(rig.clock, rig.pn532.command(0x4a, [0x05, 0x00]))).toMatchObject({ code: 'pn532_application_error' });
  });

  it('answers "no card" for a baud rate the simulated field has no cards for', async () => {
    const rig = pn532Rig();
    await configured(rig);
    rig.sim.placeCard('DEADBEEF');
    expect(await value(rig.clock, rig.pn532.command(0x4a, [0x01, 0x03]))).toEqual(hex('00'));
  });

  it('refuses bad options', () => {
    const clock = new ManualClock();
    expect(() => new Pn532(new ScriptedChip(() => []), clock, { retries: -1 })).toThrow(TypeError);
    expect(() => new Pn532(new ScriptedChip(() => []), clock, { ackTimeoutMs: Number.NaN })).toThrow(TypeError);
  });
});

/**
 * A transport that plays a chip from a script, for replies the simulator never sends. Reads
 * hand over the frame; a NACK puts the last one back (unless the script has more to say).
 */
class ScriptedChip implements Pn532Transport {
  private outputs: (Buffer | 'not-ready')[] = [];
  private last: Buffer | null = null;
  constructor(private readonly reply: (cmd: Buffer) => (Buffer | 'not-ready')[]) {}
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async wakeup(): Promise<void> {}
  async write(frame: Uint8Array): Promise<void> {
    const f = decodeFrame(frame);
    if (f.type === 'nack' && this.last && this.outputs.length === 0) this.outputs.push(this.last);
    if (f.type === 'data') this.outputs.push(...this.reply(f.data));
  }
  async isReady(): Promise<boolean> {
    return this.outputs.length > 0;
  }
  async read(length: number): Promise<Buffer | null> {
    const f = this.outputs.shift();
    if (f === undefined || f === 'not-ready') return null;
    this.last = f;
    const out = Buffer.alloc(length);
    f.copy(out, 0, 0, Math.min(length, f.length));
    return out;
  }
}

describe('PN532 protocol against replies the simulator never sends', () => {
  const clock = new ManualClock();
  const chip = (reply: (cmd: Buffer) => (Buffer | 'not-ready')[]) => new Pn532(new ScriptedChip(reply), clock, { retries: 1 });
  const resp = (...bytes: number[]) => encodeFrame(0xd5, Uint8Array.from(bytes));

  it('rejects a response to another command', async () => {
    const p = chip(() => [ACK_FRAME, resp(0x4b, 0x00)]);
    expect(await failure(clock, p.getFirmwareVersion())).toMatchObject({ code: 'pn532_unexpected_response' });
  });

  it('rejects an ACK where the response should be', async () => {
    const p = chip(() => [ACK_FRAME, ACK_FRAME]);
    expect(await failure(clock, p.getFirmwareVersion())).toMatchObject({ code: 'pn532_unexpected_response' });
  });

  it('rejects a firmware version reply that is too short', async () => {
    const p = chip(() => [ACK_FRAME, resp(0x03, 0x32)]);
    expect(await failure(clock, p.getFirmwareVersion())).toMatchObject({ code: 'pn532_unexpected_response' });
  });

  it('re-sends a command the chip NACKs, and reports the NACK if it persists', async () => {
    let n = 0;
    const p = chip(() => (n++ === 0 ? [NACK_FRAME] : [ACK_FRAME, resp(0x15)]));
    await value(clock, p.samConfigure());
    const stubborn = chip(() => [NACK_FRAME]);
    expect(await failure(clock, stubborn.samConfigure())).toMatchObject({ code: 'pn532_nack' });
  });

  it('treats a ready bit that drops before the ACK as a time-out', async () => {
    const p = chip(() => ['not-ready']);
    expect(await failure(clock, p.samConfigure())).toMatchObject({ code: 'pn532_timeout', detail: { stage: 'ack' } });
  });

  it('reads again when the ready bit drops during the response', async () => {
    const p = chip(() => [ACK_FRAME, 'not-ready', resp(0x15)]);
    await value(clock, p.samConfigure());
  });

  it('reports a chip that stops answering while re-sending its response', async () => {
    // The header is read, then the chip ignores the NACK that asks for the whole frame.
    const t = new ScriptedChip(() => []);
    t.write = async (frame) => {
      const f = decodeFrame(frame);
      if (f.type === 'data') (t as unknown as { outputs: Buffer[] }).outputs.push(ACK_FRAME, resp(0x15));
    };
    const q = new Pn532(t, clock, { retries: 1 });
    expect(await failure(clock, q.samConfigure())).toMatchObject({ code: 'pn532_timeout', detail: { stage: 'response' } });
  });
});

describe('PN532 reply parsing', () => {
  it('finds the whole frame length in the first bytes read', () => {
    expect(frameLengthFromHeader(hex('00 00 FF 06 FA D5'))).toBe(13);
    expect(frameLengthFromHeader(ACK_FRAME)).toBe(6);
    expect(frameLengthFromHeader(NACK_FRAME)).toBe(6);
    expect(frameLengthFromHeader(hex('00 00 FF FF FF 01'))).toBeNull();
    expect(frameLengthFromHeader(hex('00 00 FF 06 FB D5'))).toBeNull();
    expect(frameLengthFromHeader(hex('00 00 FF 00 00 00'))).toBeNull();
    expect(frameLengthFromHeader(hex('00 FF 06 FA D5 03'))).toBeNull();
    expect(frameLengthFromHeader(hex('00 00 FF'))).toBeNull();
  });

  it('reads the targets of InListPassiveTarget', () => {
    expect(parseListPassiveTarget(hex('00'))).toBeNull();
    expect(parseListPassiveTarget(hex('01 01 00 04 08 04 DE AD BE EF'))).toEqual({ uid: hex('DEADBEEF'), sensRes: 0x0004, selRes: 0x08 });
  });

  const bad: [string, string, string][] = [
    ['an empty reply', '', 'pn532_unexpected_response'],
    ['two targets when one was asked for', '02 01 00 04 08 04 DE AD BE EF', 'pn532_unexpected_response'],
    ['a description cut before the UID length', '01 01 00 04 08', 'pn532_bad_uid'],
    ['a 5-byte UID', '01 01 00 04 08 05 DE AD BE EF 00', 'pn532_bad_uid'],
    ['a UID cut short', '01 01 00 44 00 07 04 A1 B2', 'pn532_bad_uid'],
  ];
  for (const [what, bytes, code] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => parseListPassiveTarget(hex(bytes))).toThrow(expect.objectContaining({ code }));
    });
  }

  it('ignores an ATS whose length byte runs past the reply', () => {
    expect(parseListPassiveTarget(hex('01 01 00 04 20 04 DE AD BE EF 09 78'))!.ats).toBeUndefined();
  });
});
