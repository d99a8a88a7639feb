import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SitegateError } from '../../src/core/errors.js';
import { idNumberFrom } from '../../src/core/id-number.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { IdCardReader, type IdCardCredential, type IdCardReaderOptions } from '../../src/gate/hw/idcard-reader.js';
import { IdCardSim, sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';

const ID = '11010519491231002X';
const OTHER = idNumberFrom('31010119900101123');

describe('ID card reader polling cycle (simulated SAM, injected clock)', () => {
  let clock: ManualClock;
  let sim: IdCardSim;
  let reader: IdCardReader;
  let creds: IdCardCredential[];
  let faults: SitegateError[];
  let recovered: number;
  let logLines: string[];

  function make(options: Partial<IdCardReaderOptions> = {}) {
    logLines = [];
    const sink = new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) });
    reader = new IdCardReader(clock, {
      path: '/dev/serial/by-id/usb-SAM-if00',
      open: () => sim.openMemoryLink(),
      log: pino({ level: 'info' }, sink),
      ...options,
    });
    creds = [];
    faults = [];
    recovered = 0;
    reader.on('credential', (c) => creds.push(c));
    reader.on('fault', (e) => faults.push(e));
    reader.on('recovered', () => recovered++);
  }

  beforeEach(() => {
    clock = new ManualClock();
    sim = new IdCardSim(clock, { baud: null });
    make();
  });

  afterEach(async () => {
    await reader.stop();
  });

  it('starts, checks the SAM id, and reports ok', async () => {
    expect(reader.health()).toEqual({ state: 'starting', faults: 0 });
    reader.start();
    await clock.advance(10);
    expect(reader.health()).toEqual({ state: 'ok', samId: '05.01-20101010-0012345678-1234567890', faults: 0 });
  });

  it('reports a card held on the reader once, with the decoded card and the raw photo', async () => {
    const photo = Buffer.alloc(1024, 0x77);
    sim.insert(sampleCard(), photo);
    reader.start();
    await clock.advance(5000);
    expect(creds).toHaveLength(1);
    const { card, ...rest } = creds[0];
    expect(rest).toEqual({ kind: 'idcard', number: ID, readAtMono: expect.any(Number), photo });
    expect(card).toMatchObject({ name: '张三', idNumber: ID, validTo: null, nation: '汉' });
    expect(card).not.toHaveProperty('photo');
    expect(reader.stats().suppressed).toBeGreaterThan(5);
    expect(reader.health().lastReadAtMs).toBe(clock.now() - 5000 + creds[0].readAtMono);
  });

  it('reports the card again after it was taken away and put back, and a different card at once', async () => {
    sim.insert(sampleCard());
    reader.start();
    await clock.advance(1000);
    sim.remove();
    await clock.advance(1000);
    sim.insert(sampleCard());
    await clock.advance(1000);
    sim.insert(sampleCard({ idNumber: OTHER, birth: '19900101' }));
    await clock.advance(1000);
    expect(creds.map((c) => c.number)).toEqual([ID, ID, OTHER]);
  });

  it('does not take a single missed find for a removed card', async () => {
    sim.insert(sampleCard());
    reader.start();
    await clock.advance(1000);
    sim.inject({ kind: 'sw3', sw3: 0x80, command: 'find' });
    await clock.advance(1000);
    expect(creds).toHaveLength(1);
  });

  it('never logs a bare ID number, only the masked one', async () => {
    sim.insert(sampleCard());
    reader.start();
    await clock.advance(1000);
    const all = logLines.join('');
    expect(all).toContain('1101**********002X');
    expect(all).not.toContain(ID);
  });

  it('counts a SAM error during a read, reports no fault, and reads the card on the next poll', async () => {
    sim.insert(sampleCard());
    sim.inject({ kind: 'sw3', sw3: 0x41, command: 'read' });
    reader.start();
    await clock.advance(2000);
    expect(creds).toHaveLength(1);
    expect(faults).toEqual([]);
    expect(reader.stats().samErrors).toBe(1);
  });

  it('rejects a card whose text does not check out, without a credential or a fault', async () => {
    sim.insert(sampleCard({ idNumber: '110105194912310021' }));
    reader.start();
    await clock.advance(1000);
    expect(creds).toEqual([]);
    expect(faults).toEqual([]);
    expect(reader.stats().badCards).toBeGreaterThan(0);
    expect(reader.health().lastError).toMatch(/check character/);
  });

  it('rides out one lost reply without a fault', async () => {
    reader.start();
    await clock.advance(10);
    sim.inject({ kind: 'drop' });
    await clock.advance(3000);
    expect(faults).toEqual([]);
    expect(reader.health().state).toBe('ok');
  });

  it('notices a silent SAM, reports one fault while it stays silent, and recovers when it answers', async () => {
    reader.start();
    await clock.advance(10);
    sim.setSilent(true);
    await clock.advance(10_000);
    expect(faults.map((f) => f.code)).toEqual(['idcard_silent']);
    expect(faults[0].message).toMatch(/stopped answering \(2 exchanges failed, last: no \w+ reply within 500 ms\)/);
    expect(reader.health()).toMatchObject({ state: 'fault', faults: 1, lastError: 'no samId reply within 500 ms' });
    sim.setSilent(false);
    await clock.advance(3000);
    expect(recovered).toBe(1);
    expect(reader.health()).toMatchObject({ state: 'ok', faults: 1 });
    expect(reader.health().lastError).toBeUndefined();
  });

  it('notices a heartbeat failure even when no card is ever presented', async () => {
    make({ heartbeatMs: 500 });
    reader.start();
    await clock.advance(10);
    sim.setSilent(true);
    await clock.advance(4000);
    expect(faults).toHaveLength(1);
  });

  it('notices a reader that vanished mid-frame on its next write, and re-opens it when it is back', async () => {
    sim.insert(sampleCard());
    reader.start();
    await clock.advance(1000);
    sim.inject({ kind: 'vanish', command: 'read' });
    await clock.advance(5000);
    expect(faults.map((f) => f.code)).toEqual(['idcard_io']);
    expect(reader.health().state).toBe('fault');
    sim.plug();
    await clock.advance(2000);
    expect(recovered).toBe(1);
    expect(reader.health().state).toBe('ok');
    // the card never left: it is not reported a second time
    expect(creds).toHaveLength(1);
  });

  it('reports a fault when the port cannot be opened at start, then recovers', async () => {
    sim.unplug();
    reader.start();
    await clock.advance(3000);
    expect(faults.map((f) => f.code)).toEqual(['idcard_open_failed']);
    sim.plug();
    await clock.advance(1500);
    expect(recovered).toBe(1);
  });

  it('treats a SAM that answers its id with 0x66 (not authorised) as a fault', async () => {
    sim.inject({ kind: 'sw3', sw3: 0x66, command: 'samId' });
    reader.start();
    await clock.advance(10);
    expect(faults).toEqual([expect.objectContaining({ code: 'idcard_sam_failed', message: expect.stringMatching(/not authorised/) })]);
    await clock.advance(1500);
    expect(recovered).toBe(1);
  });

  it('self-tests over the running link', async () => {
    reader.start();
    await clock.advance(10);
    const st = reader.selftest();
    await clock.advance(10);
    expect(await st).toEqual({ ok: true, detail: 'SAM 05.01-20101010-0012345678-1234567890' });
  });

  it('self-tests without the polling loop by opening the port itself', async () => {
    const st = reader.selftest();
    await clock.advance(10);
    expect(await st).toEqual({ ok: true, detail: 'SAM 05.01-20101010-0012345678-1234567890' });
    sim.inject({ kind: 'sw3', sw3: 0x60, command: 'samId' });
    const bad = reader.selftest();
    await clock.advance(10);
    expect(await bad).toEqual({ ok: false, detail: 'SAM answered SAM self-test failed, it accepts no commands' });
    sim.setSilent(true);
    const silent = reader.selftest();
    await clock.advance(600);
    expect(await silent).toEqual({ ok: false, detail: 'no samId reply within 500 ms' });
    sim.unplug();
    expect(await reader.selftest()).toEqual({ ok: false, detail: 'simulated ID card reader is unplugged' });
  });

  it('stops promptly while an exchange waits, and reads nothing after', async () => {
    sim.insert(sampleCard());
    reader.start();
    await clock.advance(10);
    sim.setSilent(true);
    await clock.advance(100);
    await reader.stop();
    sim.setSilent(false);
    await clock.advance(2000);
    expect(creds).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});
