import { sleep, type Clock, type TimerHandle } from '../../../core/clock.js';
import { ACK_FRAME, TFI_CHIP, TFI_HOST, ERROR_FRAME, decodeFrame, encodeFrame } from '../pn532-frame.js';
import { CMD, type FirmwareVersion } from '../pn532.js';
import type { I2cBus } from '../pn532-i2c.js';

/**
 * A PN532 on an I2C bus, byte for byte: it parses the host's frames, ACKs them, answers
 * GetFirmwareVersion, SAMConfiguration, RFConfiguration and InListPassiveTarget with real frames,
 * resends its last frame on a NACK, aborts on an ACK, and puts the status byte (bit 0 = ready) in
 * front of every read. It implements the I2cBus interface, so pn532-i2c.ts runs on it unchanged.
 * A status-only read (1 byte) leaves a ready frame waiting; a read of frame bytes hands it over and
 * clears the ready bit, so reading a frame twice takes a NACK in between, as ESPHome's driver does.
 *
 * Faults: damaged frames (`injectFault`, counted per delivery, so the header read of the
 * NACK-and-read-again dance uses one up), a silent chip (never ready), a chip that vanishes after
 * N more bytes (EREMOTEIO, mid-transaction if N falls inside one) and comes back power-cycled,
 * and an asleep chip whose first transaction is NAKed.
 *
 * Timing on its clock: ACK after `ackDelayMs`; the response after the ACK is read plus the
 * command's processing time. With `byteTimeUs` every transaction also costs its bytes on the wire
 * (address byte included): at 100 kHz a byte plus its ACK bit is 9 bit times, 90 µs.
 */
export interface Pn532SimOptions {
  /** 7-bit address. Default 0x24. */
  address?: number;
  firmware?: FirmwareVersion;
  /** Wire time per byte, µs. Default 0 (instant). 90 models 100 kHz. */
  byteTimeUs?: number;
  /** How wire time is spent; default a timer on the clock. The bench passes a busy-wait (timers are too coarse). */
  wait?: (ms: number) => Promise<void>;
  /** Command received → ACK ready, ms. Default 0.5. */
  ackDelayMs?: number;
  /** Processing time of firmware / SAM / RF commands, ms. Default 1. */
  commandDelayMs?: number;
  /** InListPassiveTarget with a card in the field: activation and anticollision, ms. Default 6. */
  listPresentMs?: number;
  /** InListPassiveTarget without a card: time of one activation attempt, ms. Default 2.5. */
  listAttemptMs?: number;
}

export interface SimCard {
  uid: Buffer;
  sensRes: number;
  selRes: number;
  ats?: Buffer;
}

export type Pn532SimFaultKind = 'bad_lcs' | 'bad_dcs' | 'truncated' | 'garbage';

export interface Pn532SimStats {
  /** Commands received (and ACKed), by command code. */
  commands: Record<number, number>;
  nacks: number;
  aborts: number;
  badHostFrames: number;
  /** Transactions answered with EREMOTEIO. */
  remoteIoErrors: number;
  reads: number;
  writes: number;
  wireBytes: number;
}

/** Garbage the sim puts in front of a frame: never a start code. */
const GARBAGE = [0xa5, 0x5a, 0x13];

function remoteIoError(op: string): Error {
  return Object.assign(new Error(`${op} failed: Remote I/O error`), { code: 'EREMOTEIO', errno: -121, syscall: op });
}

export function simCard(uid: string | Uint8Array, opts: Partial<Omit<SimCard, 'uid'>> = {}): SimCard {
  const bytes = typeof uid === 'string' ? Buffer.from(uid.replace(/[\s:]/g, ''), 'hex') : Buffer.from(uid);
  const sensRes = opts.sensRes ?? (bytes.length === 4 ? 0x0004 : bytes.length === 7 ? 0x0044 : 0x0084);
  const selRes = opts.selRes ?? (bytes.length === 4 ? 0x08 : 0x00);
  return { uid: bytes, sensRes, selRes, ...(opts.ats ? { ats: opts.ats } : {}) };
}

export class Pn532Sim implements I2cBus {
  readonly address: number;
  private readonly firmware: FirmwareVersion;
  private readonly byteTimeUs: number;
  private readonly wait: (ms: number) => Promise<void>;
  private readonly ackDelayMs: number;
  private readonly commandDelayMs: number;
  private readonly listPresentMs: number;
  private readonly listAttemptMs: number;

  private out: Buffer | null = null;
  private ready = false;
  private last: Buffer | null = null;
  /** Command ACKed, waiting for its ACK to be read before it runs. */
  private pending: Buffer | null = null;
  /** InListPassiveTarget with infinite retries and no card: answered when a card arrives. */
  private waitingForCard = false;
  private timer: TimerHandle | null = null;

  private card: SimCard | null = null;
  private asleep = false;
  private vanished = false;
  private vanishAfter: number | null = null;
  private silent = false;
  private faults: { kind: Pn532SimFaultKind; left: number; on: 'response' | 'any' }[] = [];
  /** State the host configured; reset by a power cycle. */
  samConfigured = false;
  passiveRetries = 0xff;
  private readonly counts: Pn532SimStats = { commands: {}, nacks: 0, aborts: 0, badHostFrames: 0, remoteIoErrors: 0, reads: 0, writes: 0, wireBytes: 0 };

  constructor(
    private readonly clock: Clock,
    options: Pn532SimOptions = {},
  ) {
    this.address = options.address ?? 0x24;
    this.firmware = options.firmware ?? { ic: 0x32, version: 1, revision: 6, support: 0x07 };
    this.byteTimeUs = options.byteTimeUs ?? 0;
    this.wait = options.wait ?? ((ms) => sleep(clock, ms));
    this.ackDelayMs = options.ackDelayMs ?? 0.5;
    this.commandDelayMs = options.commandDelayMs ?? 1;
    this.listPresentMs = options.listPresentMs ?? 6;
    this.listAttemptMs = options.listAttemptMs ?? 2.5;
  }

  stats(): Pn532SimStats {
    return { ...this.counts, commands: { ...this.counts.commands } };
  }

  // --- the card in the field -------------------------------------------------------------

  placeCard(card: SimCard | string | Uint8Array): void {
    this.card = typeof card === 'string' || card instanceof Uint8Array ? simCard(card) : card;
    if (this.waitingForCard) {
      this.waitingForCard = false;
      this.later(this.listPresentMs, () => this.respond(this.listResponse()));
    }
  }

  removeCard(): void {
    this.card = null;
  }

  // --- faults ----------------------------------------------------------------------------

  /** Damages the next `count` deliveries of a response frame (or of any frame, ACKs included). */
  injectFault(kind: Pn532SimFaultKind, count = 1, on: 'response' | 'any' = 'response'): void {
    this.faults.push({ kind, left: count, on });
  }

  /** A chip that takes every write and never sets its ready bit. */
  setSilent(silent: boolean): void {
    this.silent = silent;
  }

  /** The chip disappears after `afterBytes` more bytes on the wire (mid-transaction if they fall inside one). */
  vanish(afterBytes = 0): void {
    this.vanishAfter = afterBytes;
  }

  /** The chip is back. With `reset` (default) it has lost power: asleep, unconfigured, chip defaults. */
  reappear(reset = true): void {
    this.vanished = false;
    this.vanishAfter = null;
    if (reset) this.powerCycle();
  }

  /** Power-on state: the first transaction only wakes the chip (address NAKed). */
  powerCycle(): void {
    this.cancel();
    this.out = null;
    this.ready = false;
    this.last = null;
    this.asleep = true;
    this.samConfigured = false;
    this.passiveRetries = 0xff;
  }

  // --- I2cBus ----------------------------------------------------------------------------

  async i2cWrite(address: number, length: number, buffer: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }> {
    this.counts.writes++;
    await this.transfer(address, length, 'write');
    if (!this.silent) this.receive(Buffer.from(buffer.subarray(0, length)));
    return { bytesWritten: length, buffer };
  }

  async i2cRead(address: number, length: number, buffer: Buffer): Promise<{ bytesRead: number; buffer: Buffer }> {
    this.counts.reads++;
    await this.transfer(address, length, 'read');
    buffer.fill(0x00, 0, length);
    if (!this.ready || this.silent || !this.out || length === 0) return { bytesRead: length, buffer };
    buffer[0] = 0x01;
    if (length === 1) return { bytesRead: length, buffer }; // a status poll leaves the frame waiting
    const frame = this.out;
    const delivered = this.damage(frame);
    delivered.copy(buffer, 1, 0, Math.min(delivered.length, length - 1));
    this.ready = false;
    if (frame === ACK_FRAME && this.pending) this.run(this.pending);
    return { bytesRead: length, buffer };
  }

  async close(): Promise<void> {
    this.cancel();
  }

  // --- the chip --------------------------------------------------------------------------

  private async transfer(address: number, length: number, op: string): Promise<void> {
    let bytes = length + 1;
    let fail = false;
    if (this.vanished || address !== this.address) {
      bytes = 1; // the address byte, NAKed
      fail = true;
    } else if (this.vanishAfter !== null) {
      if (bytes > this.vanishAfter) {
        bytes = Math.max(1, this.vanishAfter);
        this.vanished = true;
        this.vanishAfter = null;
        fail = true;
      } else this.vanishAfter -= bytes;
    }
    if (!fail && this.asleep) {
      bytes = 1; // the address woke the chip; this transaction was NAKed while it woke
      fail = true;
      this.asleep = false;
    }
    this.counts.wireBytes += bytes;
    if (this.byteTimeUs > 0) await this.wait((bytes * this.byteTimeUs) / 1000);
    if (fail) {
      this.counts.remoteIoErrors++;
      throw remoteIoError(op);
    }
  }

  private receive(bytes: Buffer): void {
    const f = decodeFrame(bytes);
    if (f.type === 'ack') {
      this.counts.aborts++;
      this.cancel();
      this.out = null;
      this.ready = false;
      return;
    }
    if (f.type === 'nack') {
      this.counts.nacks++;
      if (this.last) this.later(0, () => this.offer(this.last!));
      return;
    }
    if (f.type !== 'data' || f.tfi !== TFI_HOST || f.data.length === 0) {
      this.counts.badHostFrames++;
      return; // the chip does not ACK a frame it cannot read; the host times out
    }
    this.cancel();
    this.counts.commands[f.data[0]] = (this.counts.commands[f.data[0]] ?? 0) + 1;
    this.pending = f.data;
    this.later(this.ackDelayMs, () => this.offer(ACK_FRAME));
  }

  private run(cmd: Buffer): void {
    this.pending = null;
    const code = cmd[0];
    const p = cmd.subarray(1);
    switch (code) {
      case CMD.GetFirmwareVersion: {
        const fw = this.firmware;
        return this.later(this.commandDelayMs, () => this.respond(this.data(code, [fw.ic, fw.version, fw.revision, fw.support])));
      }
      case CMD.SAMConfiguration:
        if (p.length < 1 || p[0] < 1 || p[0] > 4) return this.later(this.commandDelayMs, () => this.respond(ERROR_FRAME));
        this.samConfigured = p[0] === 0x01;
        return this.later(this.commandDelayMs, () => this.respond(this.data(code, [])));
      case CMD.RFConfiguration:
        if (p[0] === 0x05 && p.length >= 4) this.passiveRetries = p[3];
        return this.later(this.commandDelayMs, () => this.respond(this.data(code, [])));
      case CMD.InListPassiveTarget: {
        if (p.length < 2 || p[0] < 1 || p[0] > 2) return this.later(this.commandDelayMs, () => this.respond(ERROR_FRAME));
        if (p[1] !== 0x00) return this.later(this.commandDelayMs, () => this.respond(this.data(code, [0])));
        const tries = this.passiveRetries + 1;
        if (this.card) return this.later(this.listPresentMs, () => this.respond(this.listResponse()));
        if (this.passiveRetries === 0xff) {
          this.waitingForCard = true;
          return;
        }
        return this.later(this.listAttemptMs * tries, () => this.respond(this.listResponse()));
      }
      default:
        return this.later(this.commandDelayMs, () => this.respond(ERROR_FRAME));
    }
  }

  /** The card is sampled when the activation ends: a card placed during a poll is seen by it. */
  private listResponse(): Buffer {
    const c = this.card;
    if (!c) return this.data(CMD.InListPassiveTarget, [0]);
    const ats = c.ats ? [...c.ats] : [];
    return this.data(CMD.InListPassiveTarget, [1, 1, c.sensRes >> 8, c.sensRes & 0xff, c.selRes, c.uid.length, ...c.uid, ...ats]);
  }

  private data(code: number, bytes: number[]): Buffer {
    return encodeFrame(TFI_CHIP, Uint8Array.from([code + 1, ...bytes]));
  }

  private respond(frame: Buffer): void {
    this.waitingForCard = false;
    this.offer(frame);
  }

  private offer(frame: Buffer): void {
    this.out = frame;
    this.last = frame;
    this.ready = true;
  }

  private damage(frame: Buffer): Buffer {
    const i = this.faults.findIndex((f) => f.on === 'any' || frame !== ACK_FRAME);
    if (i < 0) return frame;
    const fault = this.faults[i];
    if (--fault.left <= 0) this.faults.splice(i, 1);
    const f = Buffer.from(frame);
    switch (fault.kind) {
      case 'bad_lcs':
        f[4] ^= 0x01;
        return f;
      case 'bad_dcs':
        f[f.length - 2] ^= 0x01;
        return f;
      case 'truncated': {
        // The chip stops driving SDA: the host clocks in 0xFF for the rest of the read.
        const cut = Math.max(3, f.length >> 1);
        return Buffer.concat([f.subarray(0, cut), Buffer.alloc(f.length - cut + 4, 0xff)]);
      }
      case 'garbage':
        return Buffer.concat([Buffer.from(GARBAGE), f]);
    }
  }

  private later(ms: number, fn: () => void): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
  }

  /** Drops whatever the chip was doing. */
  private cancel(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.waitingForCard = false;
  }
}
