import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SitegateError, errorMessage } from '../../core/errors.js';
import type { Pn532Transport } from './pn532.js';

/**
 * PN532 transport over I2C. Only bytes: every read begins with the chip's status byte (bit 0 =
 * a frame is ready), which is checked and stripped here; the protocol lives in pn532.ts.
 */
export const PN532_I2C_ADDRESS = 0x24;

/**
 * The part of i2c-bus's PromisifiedBus used here. The simulator implements the same interface,
 * so tests run this file's code unchanged.
 */
export interface I2cBus {
  i2cWrite(address: number, length: number, buffer: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }>;
  i2cRead(address: number, length: number, buffer: Buffer): Promise<{ bytesRead: number; buffer: Buffer }>;
  close(): Promise<void>;
}

export type I2cBusOpener = (busNumber: number) => Promise<I2cBus>;

interface I2cBusModule {
  openPromisified(busNumber: number): Promise<I2cBus>;
}

/**
 * Opens /dev/i2c-N with i2c-bus. i2c-bus opens lazily and `scanSync()` on a missing bus returns []
 * silently, so the device node is checked first and a missing one is reported by name.
 */
export async function openI2cBus(busNumber: number, devDir = '/dev'): Promise<I2cBus> {
  const node = `${devDir}/i2c-${busNumber}`;
  if (!existsSync(node)) {
    throw new SitegateError('pn532_i2c_bus_missing', `${node} does not exist: enable I2C (dtparam=i2c_arm=on, or the sitegate overlay) and check the bus number`, { node });
  }
  const mod = createRequire(import.meta.url)('i2c-bus') as I2cBusModule;
  try {
    return await mod.openPromisified(busNumber);
  } catch (err) {
    throw new SitegateError('pn532_i2c_open_failed', `cannot open ${node}: ${errorMessage(err)}`, { node });
  }
}

export interface Pn532I2cOptions {
  /** Bus number N of /dev/i2c-N (1 on a Raspberry Pi header). */
  bus: number;
  /** 7-bit address. Default 0x24. */
  address?: number;
  /** How the bus is opened; default i2c-bus on /dev/i2c-N. Tests pass the simulator. */
  openBus?: I2cBusOpener;
}

export class Pn532I2cTransport implements Pn532Transport {
  readonly address: number;
  private bus: I2cBus | null = null;

  constructor(private readonly options: Pn532I2cOptions) {
    if (!Number.isInteger(options.bus) || options.bus < 0) throw new TypeError('Pn532I2cTransport: bus must be an integer >= 0');
    this.address = options.address ?? PN532_I2C_ADDRESS;
    if (!Number.isInteger(this.address) || this.address < 0x03 || this.address > 0x77) throw new TypeError('Pn532I2cTransport: address must be a 7-bit I2C address');
  }

  async open(): Promise<void> {
    if (this.bus) return;
    this.bus = await (this.options.openBus ?? openI2cBus)(this.options.bus);
  }

  async close(): Promise<void> {
    const bus = this.bus;
    this.bus = null;
    if (bus) await bus.close().catch(() => undefined);
  }

  /** The chip wakes on its address; while it wakes it may stretch the clock or NAK, so errors are expected. */
  async wakeup(): Promise<void> {
    await this.open();
    await this.ready().i2cRead(this.address, 1, Buffer.alloc(1)).catch(() => undefined);
  }

  async write(frame: Uint8Array): Promise<void> {
    const buf = Buffer.from(frame);
    const { bytesWritten } = await this.io('write', () => this.ready().i2cWrite(this.address, buf.length, buf));
    if (bytesWritten !== buf.length) throw new SitegateError('pn532_io', `PN532 I2C write sent ${bytesWritten} of ${buf.length} bytes`);
  }

  async isReady(): Promise<boolean> {
    const { buffer } = await this.io('status read', () => this.ready().i2cRead(this.address, 1, Buffer.alloc(1)));
    return (buffer[0] & 0x01) === 0x01;
  }

  async read(length: number): Promise<Buffer | null> {
    const { bytesRead, buffer } = await this.io('read', () => this.ready().i2cRead(this.address, length + 1, Buffer.alloc(length + 1)));
    if (bytesRead !== length + 1) throw new SitegateError('pn532_io', `PN532 I2C read got ${bytesRead} of ${length + 1} bytes`);
    if ((buffer[0] & 0x01) === 0) return null;
    return Buffer.from(buffer.subarray(1));
  }

  private ready(): I2cBus {
    if (!this.bus) throw new SitegateError('pn532_closed', 'PN532 I2C bus is not open');
    return this.bus;
  }

  private async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SitegateError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'EREMOTEIO' ? ' (no answer at the address: chip asleep or gone; on a Pi 4 and older the I2C clock-stretching bug looks like this)' : '';
      throw new SitegateError('pn532_io', `PN532 I2C ${what} at 0x${this.address.toString(16)} failed: ${errorMessage(err)}${hint}`, { errno: code });
    }
  }
}
