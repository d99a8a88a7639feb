import { sleep, type Clock } from '../../core/clock.js';
import { SitegateError } from '../../core/errors.js';
import {
  ACK_FRAME,
  NACK_FRAME,
  TFI_CHIP,
  decodeFrame,
  encodeCommand,
  hex2,
  toHex,
  type Pn532FrameResult,
} from './pn532-frame.js';

/**
 * The PN532 protocol, written once over a tiny transport (ESPHome's split): commands, ACK/NACK,
 * the ready bit, time-outs and retries. I2C, SPI or a simulator only move bytes.
 */
export interface Pn532Transport {
  /** Opens the bus; rejects with a SitegateError naming what is missing. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** One harmless transaction that wakes a sleeping chip; errors while it wakes are swallowed. */
  wakeup(): Promise<void>;
  /** Writes one whole frame. */
  write(frame: Uint8Array): Promise<void>;
  /** Whether the chip has a frame ready for the host (I2C: status byte bit 0). */
  isReady(): Promise<boolean>;
  /** Reads `length` frame bytes, or null when the chip says nothing is ready. */
  read(length: number): Promise<Buffer | null>;
}

export const CMD = {
  GetFirmwareVersion: 0x02,
  SAMConfiguration: 0x14,
  RFConfiguration: 0x32,
  InListPassiveTarget: 0x4a,
} as const;

/** IC byte every PN532 reports in GetFirmwareVersion. */
export const PN532_IC = 0x32;

export interface FirmwareVersion {
  ic: number;
  version: number;
  revision: number;
  /** Bit 0 ISO14443A, bit 1 ISO14443B, bit 2 ISO18092. */
  support: number;
}

export interface Iso14443aTarget {
  uid: Buffer;
  /** SENS_RES (ATQA) as sent by the chip, high byte first. */
  sensRes: number;
  /** SEL_RES (SAK). */
  selRes: number;
  /** ATS of an ISO14443-4 card (SAK bit 0x20), when the chip sent one. */
  ats?: Buffer;
}

export interface Pn532Options {
  /** How long the chip may take to ACK a command, ms. Default 30. */
  ackTimeoutMs?: number;
  /** How long a response may take once ACKed, ms (per command unless given). Default 100. */
  responseTimeoutMs?: number;
  /** Pause between two ready-bit polls, ms. Default 2. */
  readyPollMs?: number;
  /** Re-sends of a command that got no ACK, and NACKs for a damaged response. Default 2. */
  retries?: number;
  /** Time the chip needs after a wake-up transaction, ms. Default 5. */
  wakeupDelayMs?: number;
}

const DEFAULTS: Required<Pn532Options> = { ackTimeoutMs: 30, responseTimeoutMs: 100, readyPollMs: 2, retries: 2, wakeupDelayMs: 5 };

export function firmwareText(fw: FirmwareVersion): string {
  const modes = [fw.support & 1 ? 'ISO14443A' : '', fw.support & 2 ? 'ISO14443B' : '', fw.support & 4 ? 'ISO18092' : ''].filter(Boolean);
  return `PN5${hex2(fw.ic)} firmware ${fw.version}.${fw.revision} (${modes.join(', ') || 'no modes'})`;
}

/**
 * One PN532. Exchanges are serialised: the poller, the heartbeat and a technician's selftest may
 * call at once and each waits its turn.
 */
export class Pn532 {
  private readonly o: Required<Pn532Options>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly transport: Pn532Transport,
    private readonly clock: Clock,
    options: Pn532Options = {},
  ) {
    this.o = { ...DEFAULTS, ...options };
    for (const [k, v] of Object.entries(this.o)) {
      if (!Number.isFinite(v) || v < 0) throw new TypeError(`Pn532: ${k} must be a number >= 0`);
    }
  }

  open(): Promise<void> {
    return this.transport.open();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /** Wakes the chip (from power-down or after a reset) and gives it time to start. */
  wakeup(): Promise<void> {
    return this.serial(async () => {
      await this.transport.wakeup();
      await sleep(this.clock, this.o.wakeupDelayMs);
    });
  }

  async getFirmwareVersion(): Promise<FirmwareVersion> {
    const d = await this.command(CMD.GetFirmwareVersion);
    if (d.length < 4) throw new SitegateError('pn532_unexpected_response', `PN532 firmware version reply has ${d.length} bytes, expected 4`);
    const fw = { ic: d[0], version: d[1], revision: d[2], support: d[3] };
    if (fw.ic !== PN532_IC) throw new SitegateError('pn532_wrong_ic', `chip at the PN532 address reports IC 0x${hex2(fw.ic)}, not 0x32: is it a PN532?`, { ...fw });
    return fw;
  }

  /** Normal mode (the SAM is not used), virtual-card time-out 1 s, IRQ pin driven. */
  async samConfigure(): Promise<void> {
    await this.command(CMD.SAMConfiguration, [0x01, 0x14, 0x01]);
  }

  /**
   * MxRtyPassiveActivation: how many times InListPassiveTarget tries before answering "no card".
   * The chip's default (FF) waits for a card forever, which would block polling and the heartbeat.
   */
  async setPassiveActivationRetries(retries: number): Promise<void> {
    if (!Number.isInteger(retries) || retries < 0 || retries > 0xfe) throw new TypeError('Pn532: passive activation retries must be 0-254');
    await this.command(CMD.RFConfiguration, [0x05, 0xff, 0x01, retries]);
  }

  /** InListPassiveTarget `D4 4A 01 00`: one ISO14443A target at 106 kbps, or null when none answered. */
  async listPassiveTarget(timeoutMs?: number): Promise<Iso14443aTarget | null> {
    return parseListPassiveTarget(await this.command(CMD.InListPassiveTarget, [0x01, 0x00], timeoutMs));
  }

  /** Sends a command and returns the response's data after its response code (command + 1). */
  command(code: number, params: readonly number[] = [], timeoutMs = this.o.responseTimeoutMs): Promise<Buffer> {
    return this.serial(() => this.exchange(code, params, timeoutMs));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange(code: number, params: readonly number[], timeoutMs: number): Promise<Buffer> {
    const frame = encodeCommand(code, params);
    let lastError: SitegateError | null = null;
    let acked = false;
    for (let attempt = 0; attempt <= this.o.retries && !acked; attempt++) {
      await this.transport.write(frame);
      const ack = await this.readAck(code);
      if (ack === null) acked = true;
      else lastError = ack;
    }
    if (!acked) throw lastError!;
    return this.readResponse(code, timeoutMs);
  }

  /** null when ACKed; otherwise the error to report if no re-send succeeds. */
  private async readAck(code: number): Promise<SitegateError | null> {
    if (!(await this.waitReady(this.o.ackTimeoutMs))) {
      return new SitegateError('pn532_timeout', `PN532 did not acknowledge command 0x${hex2(code)} within ${this.o.ackTimeoutMs} ms`, { stage: 'ack' });
    }
    const bytes = await this.transport.read(ACK_FRAME.length);
    if (bytes === null) return new SitegateError('pn532_timeout', `PN532 dropped its ready bit before the ACK of command 0x${hex2(code)}`, { stage: 'ack' });
    const f = decodeFrame(bytes);
    if (f.type === 'ack') return null;
    if (f.type === 'nack') return new SitegateError('pn532_nack', `PN532 answered command 0x${hex2(code)} with NACK`);
    return new SitegateError('pn532_bad_frame', `PN532 sent ${describe(f)} instead of an ACK for command 0x${hex2(code)} (${toHex(bytes, ' ')})`, { stage: 'ack' });
  }

  /**
   * Response read as ESPHome does on I2C: the 5-byte header gives the length, a NACK makes the chip
   * send the frame again, and the whole frame is read. A damaged frame is NACKed and read again.
   */
  private async readResponse(code: number, timeoutMs: number): Promise<Buffer> {
    if (!(await this.waitReady(timeoutMs))) {
      await this.transport.write(ACK_FRAME).catch(() => undefined); // abort the command in the chip
      throw new SitegateError('pn532_timeout', `PN532 did not answer command 0x${hex2(code)} within ${timeoutMs} ms`, { stage: 'response' });
    }
    let lastError: SitegateError | null = null;
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0) {
        await this.transport.write(NACK_FRAME);
        if (!(await this.waitReady(this.o.ackTimeoutMs))) break;
      }
      const head = await this.transport.read(6);
      if (head === null) continue;
      const total = frameLengthFromHeader(head);
      if (total === null) {
        lastError = new SitegateError('pn532_bad_frame', `PN532 response to command 0x${hex2(code)} has a bad header (${toHex(head, ' ')})`);
        continue;
      }
      await this.transport.write(NACK_FRAME);
      if (!(await this.waitReady(this.o.ackTimeoutMs))) break;
      const bytes = await this.transport.read(total);
      if (bytes === null) continue;
      const f = decodeFrame(bytes);
      if (f.type === 'error') throw new SitegateError('pn532_application_error', `PN532 rejected command 0x${hex2(code)} with an error frame`);
      if (f.type === 'data' && f.tfi === TFI_CHIP && f.data.length > 0 && f.data[0] === code + 1) return f.data.subarray(1);
      if (f.type === 'bad') lastError = new SitegateError('pn532_bad_frame', `PN532 response to command 0x${hex2(code)} damaged: ${f.message}`, { frameError: f.code });
      else throw new SitegateError('pn532_unexpected_response', `PN532 sent ${describe(f)} in answer to command 0x${hex2(code)}`);
    }
    throw lastError ?? new SitegateError('pn532_timeout', `PN532 stopped answering while re-sending its response to command 0x${hex2(code)}`, { stage: 'response' });
  }

  private async waitReady(timeoutMs: number): Promise<boolean> {
    const start = this.clock.monotonic();
    for (;;) {
      if (await this.transport.isReady()) return true;
      if (this.clock.monotonic() - start >= timeoutMs) return false;
      await sleep(this.clock, this.o.readyPollMs);
    }
  }
}

/**
 * Whole frame length from the first 6 bytes read (`00 00 FF LEN LCS …`), or null when these bytes
 * are not a frame header. The chip's reply starts at the first byte: no garbage is skipped here.
 */
export function frameLengthFromHeader(head: Uint8Array): number | null {
  if (head.length < 5 || head[0] !== 0x00 || head[1] !== 0x00 || head[2] !== 0xff) return null;
  const len = head[3];
  const lcs = head[4];
  if ((len === 0x00 && lcs === 0xff) || (len === 0xff && lcs === 0x00)) return 6;
  if (len === 0xff && lcs === 0xff) return null; // extended: never sent for the commands used here
  if (len === 0 || ((len + lcs) & 0xff) !== 0) return null;
  return len + 7;
}

/** InListPassiveTarget data after the response code: NbTg [Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1… ATS…]. */
export function parseListPassiveTarget(d: Buffer): Iso14443aTarget | null {
  if (d.length < 1) throw new SitegateError('pn532_unexpected_response', 'PN532 InListPassiveTarget reply is empty');
  const count = d[0];
  if (count === 0) return null;
  if (count !== 1) throw new SitegateError('pn532_unexpected_response', `PN532 listed ${count} targets, one was asked for`);
  if (d.length < 6) throw new SitegateError('pn532_bad_uid', `PN532 target description cut short (${d.length} bytes)`);
  const sensRes = (d[2] << 8) | d[3];
  const selRes = d[4];
  const uidLength = d[5];
  if (uidLength !== 4 && uidLength !== 7 && uidLength !== 10) {
    throw new SitegateError('pn532_bad_uid', `PN532 reported a ${uidLength}-byte UID; ISO14443A UIDs have 4, 7 or 10 bytes`);
  }
  if (d.length < 6 + uidLength) throw new SitegateError('pn532_bad_uid', `PN532 UID cut short: ${d.length - 6} of ${uidLength} bytes`);
  const uid = Buffer.from(d.subarray(6, 6 + uidLength));
  const rest = d.subarray(6 + uidLength);
  const target: Iso14443aTarget = { uid, sensRes, selRes };
  if (rest.length > 0 && rest[0] <= rest.length) target.ats = Buffer.from(rest.subarray(0, rest[0]));
  return target;
}

function describe(f: Pn532FrameResult): string {
  switch (f.type) {
    case 'ack':
      return 'an ACK';
    case 'nack':
      return 'a NACK';
    case 'error':
      return 'an error frame';
    case 'data':
      return `a frame (TFI ${hex2(f.tfi)}, ${f.data.length} data bytes)`;
    case 'bad':
      return `a damaged frame: ${f.message}`;
  }
}
