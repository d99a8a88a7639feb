import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { Pn532I2cTransport, openI2cBus, type I2cBus } from '../../src/gate/hw/pn532-i2c.js';

/** A bus whose chip answers every read with the given bytes (status byte first). */
function fakeBus(answer: number[], opts: { shortBy?: number; fail?: Error } = {}) {
  const calls: string[] = [];
  const bus: I2cBus = {
    async i2cWrite(address, length, buffer) {
      calls.push(`W@${address.toString(16)} ${buffer.subarray(0, length).toString('hex')}`);
      if (opts.fail) throw opts.fail;
      return { bytesWritten: length - (opts.shortBy ?? 0), buffer };
    },
    async i2cRead(address, length, buffer) {
      calls.push(`R@${address.toString(16)} ${length}`);
      if (opts.fail) throw opts.fail;
      Buffer.from(answer).copy(buffer, 0, 0, length);
      return { bytesRead: length - (opts.shortBy ?? 0), buffer };
    },
    async close() {
      calls.push('close');
      throw new Error('already closed');
    },
  };
  return { bus, calls };
}

describe('PN532 I2C transport', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  it('names the missing /dev/i2c-N instead of failing later in silence', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pn532-i2c-'));
    const err = await openI2cBus(7, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SitegateError);
    expect(err).toMatchObject({ code: 'pn532_i2c_bus_missing', detail: { node: `${dir}/i2c-7` } });
    expect((err as Error).message).toContain('dtparam=i2c_arm=on');
  });

  it.skipIf(existsSync('/dev/i2c-1'))('refuses to open bus 1 on a machine without /dev/i2c-1', async () => {
    const t = new Pn532I2cTransport({ bus: 1 });
    await expect(t.open()).rejects.toMatchObject({ code: 'pn532_i2c_bus_missing' });
  });

  it.skipIf(existsSync('/dev/i2c-5'))('reports an I/O error of the real i2c-bus library as a PN532 I/O error', async () => {
    // The node exists in our directory but not in /dev: i2c-bus opens lazily and fails on first use.
    dir = mkdtempSync(join(tmpdir(), 'pn532-i2c-'));
    writeFileSync(join(dir, 'i2c-5'), '');
    const t = new Pn532I2cTransport({ bus: 5, openBus: (n) => openI2cBus(n, dir!) });
    await t.open();
    const err = await t.isReady().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'pn532_io', detail: { errno: 'ENOENT' } });
    await t.close();
  });

  it('checks its options', () => {
    expect(() => new Pn532I2cTransport({ bus: -1 })).toThrow(TypeError);
    expect(() => new Pn532I2cTransport({ bus: 1, address: 0x80 })).toThrow(TypeError);
    expect(new Pn532I2cTransport({ bus: 1 }).address).toBe(0x24);
  });

  it('refuses to talk before it is opened', async () => {
    const t = new Pn532I2cTransport({ bus: 1, openBus: async () => fakeBus([1]).bus });
    await expect(t.write(Buffer.from([0]))).rejects.toMatchObject({ code: 'pn532_closed' });
  });

  it('reads the status byte and strips it from the frame', async () => {
    const { bus, calls } = fakeBus([0x01, 0x00, 0x00, 0xff, 0x00, 0xff, 0x00]);
    const t = new Pn532I2cTransport({ bus: 1, openBus: async () => bus });
    await t.open();
    await t.open(); // once is enough
    expect(await t.isReady()).toBe(true);
    expect((await t.read(6))!.toString('hex')).toBe('0000ff00ff00');
    await t.write(Buffer.from([0x00, 0x00, 0xff, 0xff, 0x00, 0x00]));
    expect(calls).toEqual(['R@24 1', 'R@24 7', 'W@24 0000ffff0000']);
  });

  it('returns nothing when the status byte says not ready', async () => {
    const t = new Pn532I2cTransport({ bus: 1, address: 0x25, openBus: async () => fakeBus([0xfe, 0x00, 0x00, 0xff]).bus });
    await t.open();
    expect(await t.isReady()).toBe(false);
    expect(await t.read(3)).toBeNull();
  });

  it('reports short transfers', async () => {
    const t = new Pn532I2cTransport({ bus: 1, openBus: async () => fakeBus([0x01, 0x00], { shortBy: 1 }).bus });
    await t.open();
    await expect(t.read(6)).rejects.toMatchObject({ code: 'pn532_io' });
    await expect(t.write(Buffer.alloc(6))).rejects.toMatchObject({ code: 'pn532_io' });
  });

  it('swallows the error of the wake-up transaction and of closing', async () => {
    const remote = Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' });
    const { bus, calls } = fakeBus([], { fail: remote });
    const t = new Pn532I2cTransport({ bus: 1, openBus: async () => bus });
    await t.wakeup();
    await expect(t.isReady()).rejects.toMatchObject({ code: 'pn532_io', detail: { errno: 'EREMOTEIO' } });
    await t.close();
    await t.close();
    expect(calls.filter((c) => c === 'close')).toHaveLength(1);
  });
});
