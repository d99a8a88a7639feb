import { SerialPort } from 'serialport';
import { sleep, type Clock } from '../../../core/clock.js';
import { SitegateError } from '../../../core/errors.js';
import { COMMANDS, PHOTO_BYTES, SAM_ID_BYTES, type SamCommand } from '../idcard.js';
import { Ga467FrameParser, replyFrame } from '../idcard-frame.js';
import type { SamLink } from '../idcard-serial.js';
import { LONG_TERM, TEXT_BYTES, TEXT_LAYOUT, type TextField } from '../idcard-text.js';

/**
 * A resident ID card reader (GA 467 SAM) on the wire: answers find, select, read and SAM id
 * with real frames, paced at the configured baud rate, over a serial port (one end of a socat
 * pty pair) or an in-memory link, with faults on demand.
 */

/** A card's printed fields, as raw strings (so tests can write bad ones). Dates are yyyyMMdd. */
export interface SimCardFields {
  name: string;
  /** GB/T 2261.1: '1' male, '2' female. */
  sex: string;
  /** GB 3304, e.g. '01'. */
  nation: string;
  birth: string;
  address: string;
  idNumber: string;
  authority: string;
  validFrom: string;
  /** yyyyMMdd or 长期. */
  validTo: string;
}

/** A valid card around DESIGN.md's test vector ID number. */
export function sampleCard(overrides: Partial<SimCardFields> = {}): SimCardFields {
  return {
    name: '张三',
    sex: '1',
    nation: '01',
    birth: '19491231',
    address: '北京市东城区景山前街4号',
    idNumber: '11010519491231002X',
    authority: '北京市公安局东城分局',
    validFrom: '20160101',
    validTo: LONG_TERM,
    ...overrides,
  };
}

/** Encodes fields into the 256-byte UCS-2LE text block, each padded with spaces to its width. */
export function encodeIdText(card: SimCardFields): Buffer {
  const out = Buffer.alloc(TEXT_BYTES);
  let at = 0;
  for (const [field, width] of TEXT_LAYOUT) {
    const value = field === 'reserved' ? '' : card[field as Exclude<TextField, 'reserved'>];
    const bytes = Buffer.from(value.padEnd(width / 2, ' '), 'utf16le');
    if (bytes.length > width) throw new RangeError(`${field} is longer than its ${width} bytes`);
    bytes.copy(out, at);
    at += width;
  }
  return out;
}

/** SAM id in its printed form → the 16 bytes a SAM sends. */
export function encodeSamId(id: string): Buffer {
  const m = /^(\d+)\.(\d+)-(\d+)-(\d+)-(\d+)$/.exec(id);
  if (!m) throw new TypeError(`SAM id ${id} is not like 05.01-20101010-0012345678-1234567890`);
  const out = Buffer.alloc(SAM_ID_BYTES);
  out.writeUInt16LE(Number(m[1]), 0);
  out.writeUInt16LE(Number(m[2]), 2);
  out.writeUInt32LE(Number(m[3]), 4);
  out.writeUInt32LE(Number(m[4]), 8);
  out.writeUInt32LE(Number(m[5]), 12);
  return out;
}

/** One-shot faults, applied to the next reply (to the named command's, when given). */
export type SimFault = (
  | { kind: 'bad_checksum' }
  /** The reply stops after `keep` bytes (default: half); the rest is never sent. */
  | { kind: 'truncate'; keep?: number }
  /** Bytes on the line before the reply (default: 7 bytes of noise). */
  | { kind: 'garbage'; bytes?: Buffer }
  /** The reply carries this SW3 and no data. */
  | { kind: 'sw3'; sw3: number }
  /** No reply at all to this one command. */
  | { kind: 'drop' }
  /** Half the reply, then the reader's end is closed (USB pulled mid-frame). */
  | { kind: 'vanish' }
) & { command?: SamCommand };

export interface IdCardSimOptions {
  /** Default 05.01-20101010-0012345678-1234567890. */
  samId?: string;
  /** Pace every byte as a UART at this rate would (also the host's command bytes); null: no pacing. Default 115200. */
  baud?: number | null;
}

export interface IdCardSimStats {
  commands: Record<SamCommand | 'other', number>;
  badFrames: number;
}

type Sink = (bytes: Buffer) => void;

export class IdCardSim {
  private readonly parser = new Ga467FrameParser({ minLength: 3 });
  private readonly samIdBytes: Buffer;
  /** Milliseconds per byte on the wire (10 bits a byte), 0 when not pacing. */
  readonly byteMs: number;
  private card: { text: Buffer; photo: Buffer } | null = null;
  private faults: SimFault[] = [];
  private silent = false;
  private plugged = true;
  private sink: Sink | null = null;
  private vanishLink: (() => Promise<void>) | null = null;
  private work: Promise<void> = Promise.resolve();
  private port: SerialPort | null = null;
  private readonly counts: IdCardSimStats = {
    commands: { find: 0, select: 0, read: 0, samId: 0, other: 0 },
    badFrames: 0,
  };

  constructor(
    private readonly clock: Clock,
    options: IdCardSimOptions = {},
  ) {
    this.samIdBytes = encodeSamId(options.samId ?? '05.01-20101010-0012345678-1234567890');
    const baud = options.baud === undefined ? 115200 : options.baud;
    this.byteMs = baud ? 10_000 / baud : 0;
  }

  /** Puts a card on the reader (photo: 1024 bytes, default a fixed pattern). */
  insert(card: SimCardFields, photo?: Buffer): void {
    const p = photo ?? Buffer.from(Array.from({ length: PHOTO_BYTES }, (_, i) => (i * 7 + 3) & 0xff));
    if (p.length !== PHOTO_BYTES) throw new RangeError(`a WLT photo is ${PHOTO_BYTES} bytes`);
    this.card = { text: encodeIdText(card), photo: p };
  }

  /** Puts a raw text block on the reader (e.g. one no encoder would write). */
  insertRaw(text: Buffer, photo: Buffer = Buffer.alloc(PHOTO_BYTES)): void {
    this.card = { text, photo };
  }

  remove(): void {
    this.card = null;
  }

  inject(fault: SimFault): void {
    this.faults.push(fault);
  }

  /** A silent SAM hears commands and answers nothing. */
  setSilent(silent: boolean): void {
    this.silent = silent;
  }

  stats(): IdCardSimStats {
    return { commands: { ...this.counts.commands }, badFrames: this.counts.badFrames };
  }

  /** The reply frame to a command body (CMD PARA DATA), before faults. */
  answer(body: Buffer): Buffer {
    const name = commandName(body);
    this.counts.commands[name ?? 'other']++;
    const c = this.card;
    switch (name) {
      case 'find':
        return replyFrame(c ? 0x9f : 0x80, Buffer.alloc(4));
      case 'select':
        return replyFrame(c ? 0x90 : 0x81, Buffer.alloc(8));
      case 'read': {
        if (!c) return replyFrame(0x41);
        const lengths = Buffer.alloc(4);
        lengths.writeUInt16BE(c.text.length, 0);
        lengths.writeUInt16BE(c.photo.length, 2);
        return replyFrame(0x90, Buffer.concat([lengths, c.text, c.photo]));
      }
      case 'samId':
        return replyFrame(0x90, this.samIdBytes);
      default:
        return replyFrame(0x21);
    }
  }

  /** Bytes from the host. Replies go out in order, paced. */
  receive(chunk: Uint8Array): void {
    for (const r of this.parser.push(chunk)) {
      if (!r.ok) {
        this.counts.badFrames++;
        if (r.code === 'garbage') continue;
        const sw3 = r.code === 'bad_checksum' ? 0x10 : 0x11;
        this.enqueue(() => this.reply(null, replyFrame(sw3), 10));
        continue;
      }
      const body = r.body;
      this.enqueue(() => this.reply(commandName(body), this.answer(body), body.length + 8));
    }
  }

  /** Opens the SAM's end of a serial line (the other end of a socat pair). */
  async openSerial(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('error', () => undefined);
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    this.port = port;
    this.parser.reset();
    this.sink = (bytes) => {
      if (port.isOpen) port.write(bytes);
    };
    this.vanishLink = () => this.closeSerial();
  }

  async closeSerial(): Promise<void> {
    const port = this.port;
    this.port = null;
    this.sink = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Unplugs the in-memory reader: links fail on their next write, opening fails until plug(). */
  unplug(): void {
    this.plugged = false;
    void this.vanishLink?.();
  }

  plug(): void {
    this.plugged = true;
  }

  /**
   * An in-memory link to this reader (the `open` of IdCardReader in tests). Like a pty, a
   * vanished reader is noticed on the next write.
   */
  openMemoryLink(): Promise<SamLink> {
    if (!this.plugged) return Promise.reject(new SitegateError('idcard_open_failed', 'simulated ID card reader is unplugged'));
    let gone = false;
    let dataCb: ((chunk: Buffer) => void) | null = null;
    this.parser.reset();
    this.sink = (bytes) => {
      if (!gone) dataCb?.(Buffer.from(bytes));
    };
    this.vanishLink = async () => {
      gone = true;
      this.sink = null;
    };
    const sim = this;
    return Promise.resolve({
      device: 'sim',
      onData: (cb) => (dataCb = cb),
      onClose: () => undefined,
      async write(bytes: Buffer) {
        if (gone) throw new SitegateError('idcard_io', 'simulated ID card reader went away (EIO)');
        sim.receive(bytes);
      },
      async close() {
        gone = true;
      },
    });
  }

  private enqueue(job: () => Promise<void>): void {
    this.work = this.work.then(job).catch(() => undefined);
  }

  private async reply(command: SamCommand | null, frame: Buffer, commandBytes: number): Promise<void> {
    await this.wire(commandBytes);
    if (this.silent) return;
    const i = this.faults.findIndex((f) => f.command === undefined || f.command === command);
    const fault = i >= 0 ? this.faults.splice(i, 1)[0] : null;
    if (!fault) return this.send(frame);
    switch (fault.kind) {
      case 'drop':
        return;
      case 'bad_checksum': {
        const bad = Buffer.from(frame);
        bad[bad.length - 1] ^= 0xff;
        return this.send(bad);
      }
      case 'truncate':
        return this.send(frame.subarray(0, fault.keep ?? Math.floor(frame.length / 2)));
      case 'garbage':
        return this.send(Buffer.concat([fault.bytes ?? Buffer.from([0x13, 0x37, 0x00, 0xff, 0xaa, 0x55, 0x96]), frame]));
      case 'sw3':
        return this.send(replyFrame(fault.sw3));
      case 'vanish':
        await this.send(frame.subarray(0, Math.floor(frame.length / 2)));
        this.plugged = false;
        await this.vanishLink?.();
        return;
    }
  }

  /** Writes bytes as the UART would: each byte leaves after its 10 bits of wire time. */
  private async send(bytes: Buffer): Promise<void> {
    if (this.byteMs === 0) {
      this.sink?.(bytes);
      return;
    }
    const start = this.clock.monotonic();
    let sent = 0;
    while (sent < bytes.length) {
      await sleep(this.clock, Math.max(1, (sent + 1) * this.byteMs - (this.clock.monotonic() - start)));
      const due = Math.min(bytes.length, Math.floor((this.clock.monotonic() - start) / this.byteMs));
      if (due > sent) {
        this.sink?.(bytes.subarray(sent, due));
        sent = due;
      }
    }
  }

  /** The host's command takes wire time to arrive, though a pty delivers it at once. */
  private async wire(bytes: number): Promise<void> {
    if (this.byteMs > 0) await sleep(this.clock, bytes * this.byteMs);
  }
}

function commandName(body: Buffer): SamCommand | null {
  for (const [name, [cmd, para]] of Object.entries(COMMANDS)) {
    if (body[0] === cmd && body[1] === para) return name as SamCommand;
  }
  return null;
}

