import type { Clock } from '../core/clock.js';
import type { Direction } from '../core/entries.js';
import { SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { GateConfig } from '../config/gate-config.js';
import type { CredentialRead } from './access-controller.js';
import { describeLine, type GpioProvider } from './hw/gpio.js';
import { GpiomonEdgeSource } from './hw/gpiomon-source.js';
import { IdCardReader } from './hw/idcard-reader.js';
import type { SamLinkOpener } from './hw/idcard-serial.js';
import { Pn532 } from './hw/pn532.js';
import { Pn532I2cTransport, type I2cBusOpener } from './hw/pn532-i2c.js';
import { Pn532Reader } from './hw/pn532-reader.js';
import { GpioEdgeSource, WiegandReader, type EdgeSource } from './hw/wiegand-reader.js';

export type ReaderSpec = GateConfig['readers'][number];
export type ReaderKind = ReaderSpec['kind'];

export interface ReaderHealth {
  /** absent: never answered since start (unplugged, not wired, still starting) */
  state: 'ok' | 'fault' | 'absent';
  /** wall ms of the last credential read */
  lastReadMs: number | null;
  lastError: string | null;
  /** times the reader went into fault */
  faults: number;
}

/** One configured reader, whatever its bus: what the gate, its status and selftest need. */
export interface GateReader {
  readonly spec: ReaderSpec;
  /** `<lane>.<direction>` */
  readonly name: string;
  readonly kind: ReaderKind;
  readonly lane: string;
  readonly direction: Direction;
  /** where it is plugged: GPIO lines, an I2C bus and address, a serial path */
  readonly device: string;
  start(): void;
  stop(): Promise<void>;
  health(): ReaderHealth;
  /** talks to the device once (PN532 firmware, SAM id, Wiegand idle levels) */
  selftest(): Promise<{ ok: boolean; detail: string }>;
}

export interface ReaderHooks {
  credential(reader: GateReader, read: CredentialRead): void;
  fault(reader: GateReader, err: SitegateError): void;
  recovered(reader: GateReader): void;
}

export interface ReaderDeps {
  gpio: GpioProvider;
  clock: Clock;
  log: Logger;
  /** Wiegand pulses from a gpiomon child (kernel timestamps) or from the GPIO driver's edges */
  wiegandEdges: 'gpiomon' | 'driver';
  gpiomonCommands?: { gpiomon?: string; gpiodetect?: string; gpiofind?: string };
  /** opens /dev/i2c-N; tests pass a Pn532Sim */
  i2cOpener?: I2cBusOpener;
  /** opens the ID card reader's serial link; default serialport on the configured path */
  samOpener?: SamLinkOpener;
}

export function readerName(spec: { lane: string; direction: Direction }): string {
  return `${spec.lane}.${spec.direction}`;
}

export function buildReader(spec: ReaderSpec, deps: ReaderDeps, hooks: ReaderHooks): GateReader {
  switch (spec.kind) {
    case 'wiegand':
      return new WiegandGateReader(spec, deps, hooks);
    case 'pn532':
      return new Pn532GateReader(spec, deps, hooks);
    case 'idcard':
      return new IdCardGateReader(spec, deps, hooks);
  }
}

/** Fields a reload may change on a running reader (it is rebuilt with them); anything else needs a restart. */
export const RELOADABLE_READER_KEYS: Record<ReaderKind, readonly string[]> = {
  wiegand: ['frameGapMs'],
  pn532: ['pollIntervalMs'],
  idcard: ['pollMs', 'heartbeatMs'],
};

abstract class BaseReader {
  readonly name: string;
  protected lastReadMs: number | null = null;
  protected lastError: string | null = null;

  constructor(
    readonly spec: ReaderSpec,
    protected readonly deps: ReaderDeps,
    protected readonly hooks: ReaderHooks,
  ) {
    this.name = readerName(spec);
  }

  get kind(): ReaderKind {
    return this.spec.kind;
  }

  get lane(): string {
    return this.spec.lane;
  }

  get direction(): Direction {
    return this.spec.direction;
  }

  protected deliver(self: GateReader, kind: CredentialRead['kind'], number: string, readAtMono: number): void {
    this.lastReadMs = this.deps.clock.now();
    this.hooks.credential(self, { kind, number, lane: this.spec.lane, direction: this.spec.direction, readAtMono });
  }
}

class WiegandGateReader extends BaseReader implements GateReader {
  private readonly reader: WiegandReader;
  private readonly d0;
  private readonly d1;
  private faulted = false;
  private faults = 0;

  constructor(spec: Extract<ReaderSpec, { kind: 'wiegand' }>, deps: ReaderDeps, hooks: ReaderHooks) {
    super(spec, deps, hooks);
    this.d0 = spec.d0;
    this.d1 = spec.d1;
    const source: EdgeSource =
      deps.wiegandEdges === 'driver'
        ? new GpioEdgeSource(deps.gpio, { d0: spec.d0, d1: spec.d1 })
        : new GpiomonEdgeSource({
            d0: spec.d0,
            d1: spec.d1,
            clock: deps.clock,
            commands: deps.gpiomonCommands,
            onFault: (err) => {
              this.lastError = err.message;
              if (!this.faulted) {
                this.faulted = true;
                this.faults++;
                hooks.fault(this, err);
              }
            },
          });
    this.reader = new WiegandReader(source, deps.clock, { name: this.name, frameGapMs: spec.frameGapMs });
    this.reader.on('frame', (f) => {
      if (this.faulted) {
        this.faulted = false;
        hooks.recovered(this);
      }
      this.deliver(this, 'wiegand', String(f.value), deps.clock.monotonic());
    });
    this.reader.on('error', (e) => {
      this.lastError = `frame rejected: ${e.message}`;
      deps.log.warn({ reader: this.name, code: e.code }, `wiegand frame rejected: ${e.message}`);
    });
  }

  get device(): string {
    return `gpio ${describeLine(this.d0)} / ${describeLine(this.d1)}`;
  }

  start(): void {
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.reader.stop();
  }

  health(): ReaderHealth {
    return { state: this.faulted ? 'fault' : 'ok', lastReadMs: this.lastReadMs, lastError: this.lastError, faults: this.faults };
  }

  /** D0 and D1 idle high; a line held low is a short or a reader without power. */
  async selftest(): Promise<{ ok: boolean; detail: string }> {
    const levels: number[] = [];
    for (const spec of [this.d0, this.d1]) {
      const line = this.deps.gpio.input(spec, { edge: 'both' });
      try {
        await this.deps.gpio.settled?.();
        levels.push(line.read());
      } finally {
        line.close();
      }
    }
    const ok = levels[0] === 1 && levels[1] === 1;
    return { ok, detail: `D0=${levels[0]} D1=${levels[1]}${ok ? ' (idle high)' : ': a data line is held low (short, or reader unpowered)'}` };
  }
}

class Pn532GateReader extends BaseReader implements GateReader {
  private readonly reader: Pn532Reader;
  private readonly bus: number;
  private readonly address: number;

  constructor(spec: Extract<ReaderSpec, { kind: 'pn532' }>, deps: ReaderDeps, hooks: ReaderHooks) {
    super(spec, deps, hooks);
    this.bus = spec.i2cBus;
    this.address = spec.address;
    const transport = new Pn532I2cTransport({ bus: spec.i2cBus, address: spec.address, openBus: deps.i2cOpener });
    this.reader = new Pn532Reader(new Pn532(transport, deps.clock), deps.clock, { name: this.name, pollIntervalMs: spec.pollIntervalMs });
    this.reader.on('credential', (c) => this.deliver(this, 'card', c.number, c.readAtMono));
    this.reader.on('fault', (e) => {
      this.lastError = e.message;
      hooks.fault(this, e);
    });
    this.reader.on('recovered', () => hooks.recovered(this));
  }

  get device(): string {
    return `/dev/i2c-${this.bus} @0x${this.address.toString(16)}`;
  }

  start(): void {
    this.reader.start();
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }

  health(): ReaderHealth {
    const h = this.reader.health();
    return {
      state: h.state === 'ok' ? 'ok' : h.state === 'fault' ? 'fault' : 'absent',
      lastReadMs: this.lastReadMs,
      lastError: h.lastError ?? this.lastError,
      faults: h.faults,
    };
  }

  selftest(): Promise<{ ok: boolean; detail: string }> {
    return this.reader.selftest();
  }
}

class IdCardGateReader extends BaseReader implements GateReader {
  private readonly reader: IdCardReader;
  private readonly path: string;

  constructor(spec: Extract<ReaderSpec, { kind: 'idcard' }>, deps: ReaderDeps, hooks: ReaderHooks) {
    super(spec, deps, hooks);
    this.path = spec.path;
    this.reader = new IdCardReader(deps.clock, {
      path: spec.path,
      baudRate: spec.baudRate,
      pollMs: spec.pollMs,
      heartbeatMs: spec.heartbeatMs,
      log: deps.log.child({ reader: this.name }),
      open: deps.samOpener,
    });
    // the ID number goes to the controller (which hashes it) and nowhere else
    this.reader.on('credential', (c) => this.deliver(this, 'idcard', c.number, c.readAtMono));
    this.reader.on('fault', (e) => {
      this.lastError = e.message;
      hooks.fault(this, e);
    });
    this.reader.on('recovered', () => hooks.recovered(this));
  }

  get device(): string {
    return this.path;
  }

  start(): void {
    this.reader.start();
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }

  health(): ReaderHealth {
    const h = this.reader.health();
    const neverOpened = h.samId === undefined;
    return {
      state: h.state === 'ok' ? 'ok' : neverOpened ? 'absent' : h.state === 'fault' ? 'fault' : 'absent',
      lastReadMs: this.lastReadMs,
      lastError: h.lastError ?? null,
      faults: h.faults,
    };
  }

  selftest(): Promise<{ ok: boolean; detail: string }> {
    return this.reader.selftest();
  }
}
