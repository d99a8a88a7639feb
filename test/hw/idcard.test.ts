import { beforeEach, describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import {
  formatSamId,
  IdCardSam,
  parseReply,
  PHOTO_BYTES,
  samStatus,
  type SamStatusKind,
} from '../../src/gate/hw/idcard.js';
import { commandFrame, replyFrame } from '../../src/gate/hw/idcard-frame.js';
import { encodeIdText, encodeSamId, IdCardSim, sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const LISTED: [number, SamStatusKind][] = [
  [0x90, 'ok'],
  [0x9f, 'found'],
  [0x80, 'no_card'],
  [0x81, 'no_card'],
  [0x91, 'no_content'],
  [0x10, 'checksum_error'],
  [0x11, 'length_error'],
  [0x21, 'command_error'],
  [0x23, 'not_permitted'],
  [0x24, 'unrecognised_error'],
  [0x31, 'sam_auth_failed'],
  [0x32, 'card_auth_failed'],
  [0x33, 'verify_failed'],
  [0x40, 'wrong_card'],
  [0x41, 'read_failed'],
  [0x47, 'random_failed'],
  [0x60, 'self_test_failed'],
  [0x66, 'sam_not_authorised'],
];

/** A SAM over a transport that records what the host wrote; replies are fed by hand. */
function wired() {
  const clock = new ManualClock();
  const written: Buffer[] = [];
  const sam = new IdCardSam({ write: async (b) => void written.push(b) }, clock);
  return { clock, written, sam };
}

describe('GA 467 SW3 codes', () => {
  for (const [sw3, kind] of LISTED) {
    it(`maps SW3 0x${sw3.toString(16).toUpperCase()} to ${kind}`, () => {
      const s = samStatus(sw3);
      expect(s.kind).toBe(kind);
      expect(s.sw3).toBe(sw3);
      expect(s.message.length).toBeGreaterThan(5);
    });
  }

  it('maps every other byte to a typed unknown carrying it', () => {
    const listed = new Set(LISTED.map(([c]) => c));
    for (let b = 0; b < 256; b++) {
      if (listed.has(b)) continue;
      expect(samStatus(b)).toEqual({ kind: 'unknown', sw3: b, message: `unknown SW3 0x${b.toString(16).padStart(2, '0').toUpperCase()}` });
    }
  });

  it('splits a reply body into SW1, SW2, status and data, and refuses one without SW3', () => {
    expect(parseReply(h('01 02 9F AABB'))).toEqual({ sw1: 1, sw2: 2, status: samStatus(0x9f), data: h('AABB') });
    expect(() => parseReply(h('0000'))).toThrow(/no SW1 SW2 SW3/);
  });

  it('prints the SAM id the way reader tools do', () => {
    const id = '05.01-20101010-0012345678-1234567890';
    expect(formatSamId(encodeSamId(id))).toBe(id);
    expect(() => encodeSamId('not an id')).toThrow(TypeError);
  });
});

describe('GA 467 exchanges, byte for byte', () => {
  let t: ReturnType<typeof wired>;
  beforeEach(() => {
    t = wired();
  });

  it('sends find and reads the found reply', async () => {
    const p = t.sam.find();
    await t.clock.advance(0);
    expect(t.written).toEqual([h('AAAAAA9669 0003 2001 22')]);
    t.sam.feed(h('AAAAAA9669 0008 00009F 00000000 97'));
    expect(await p).toMatchObject({ kind: 'found', sw3: 0x9f });
  });

  it('sends select and reads the selected reply', async () => {
    const p = t.sam.select();
    await t.clock.advance(0);
    expect(t.written).toEqual([h('AAAAAA9669 0003 2002 21')]);
    t.sam.feed(h('AAAAAA9669 000C 000090 0000000000000000 9C'));
    expect((await p).kind).toBe('ok');
  });

  it('sends the SAM id command and formats the id', async () => {
    const p = t.sam.samId();
    await t.clock.advance(0);
    expect(t.written).toEqual([h('AAAAAA9669 0003 12FF EE')]);
    t.sam.feed(replyFrame(0x90, encodeSamId('05.01-20101010-0012345678-1234567890')));
    expect(await p).toMatchObject({ samId: '05.01-20101010-0012345678-1234567890' });
  });

  it('returns the SAM id reply status when it is not ok', async () => {
    const p = t.sam.samId();
    await t.clock.advance(0);
    t.sam.feed(replyFrame(0x60));
    expect(await p).toEqual({ status: samStatus(0x60) });
  });

  it('refuses a SAM id of the wrong size', async () => {
    const p = t.sam.samId();
    await t.clock.advance(0);
    t.sam.feed(replyFrame(0x90, Buffer.alloc(8)));
    await expect(p).rejects.toMatchObject({ code: 'idcard_bad_reply' });
  });

  it('sends read and splits the 1295-byte reply into text and photo', async () => {
    const text = encodeIdText(sampleCard());
    const photo = Buffer.alloc(PHOTO_BYTES, 0x5a);
    const frame = replyFrame(0x90, Buffer.concat([h('0100 0400'), text, photo]));
    expect(frame.length).toBe(1295);
    expect(frame.subarray(0, 12)).toEqual(h('AAAAAA9669 0508 000090 0100'));
    const p = t.sam.read();
    await t.clock.advance(0);
    expect(t.written).toEqual([h('AAAAAA9669 0003 3001 32')]);
    for (let i = 0; i < frame.length; i += 13) t.sam.feed(frame.subarray(i, i + 13)); // as a UART hands it over
    const r = await p;
    expect(r.status.kind).toBe('ok');
    expect(r.text).toEqual(text);
    expect(r.photo).toEqual(photo);
  });

  it('refuses a read reply whose lengths are not 256 and 1024', async () => {
    for (const data of [Buffer.concat([h('0100 0300'), Buffer.alloc(256 + 768)]), h('01')]) {
      const t2 = wired();
      const p = t2.sam.read();
      await t2.clock.advance(0);
      t2.sam.feed(replyFrame(0x90, data));
      await expect(p).rejects.toMatchObject({ code: 'idcard_bad_reply' });
    }
  });

  it('returns a failed read status without text', async () => {
    const p = t.sam.read();
    await t.clock.advance(0);
    t.sam.feed(replyFrame(0x41));
    expect(await p).toEqual({ status: samStatus(0x41) });
  });

  it('times out on the injected clock when nothing answers', async () => {
    const p = t.sam.find();
    let settled = false;
    p.catch(() => (settled = true));
    await t.clock.advance(499);
    expect(settled).toBe(false);
    const failed = expect(p).rejects.toMatchObject({ code: 'idcard_timeout', message: 'no find reply within 500 ms' });
    await t.clock.advance(1);
    await failed;
  });

  it('gives the read reply its own, longer time-out', async () => {
    const p = t.sam.read();
    let settled = false;
    p.catch(() => (settled = true));
    await t.clock.advance(1000);
    expect(settled).toBe(false);
    const failed = expect(p).rejects.toMatchObject({ code: 'idcard_timeout' });
    await t.clock.advance(500);
    await failed;
  });

  it('fails at once on a reply with a bad checksum', async () => {
    const p = t.sam.find();
    await t.clock.advance(0);
    const bad = replyFrame(0x9f, Buffer.alloc(4));
    bad[bad.length - 1] ^= 1;
    t.sam.feed(bad);
    await expect(p).rejects.toMatchObject({ code: 'idcard_bad_frame', detail: { frameError: 'bad_checksum' } });
    expect(t.sam.stats()).toEqual({ frames: 0, frameErrors: 1, unsolicited: 0 });
  });

  it('reports a reply cut short as truncated when the time-out comes', async () => {
    const p = t.sam.find();
    await t.clock.advance(0);
    t.sam.feed(replyFrame(0x9f, Buffer.alloc(4)).subarray(0, 9));
    const failed = expect(p).rejects.toMatchObject({ code: 'idcard_bad_frame', detail: { frameError: 'truncated' } });
    await t.clock.advance(500);
    await failed;
  });

  it('takes a reply that follows line noise', async () => {
    const p = t.sam.find();
    await t.clock.advance(0);
    t.sam.feed(Buffer.concat([h('00FF13'), replyFrame(0x80, Buffer.alloc(4))]));
    expect((await p).kind).toBe('no_card');
    expect(t.sam.stats().frameErrors).toBe(1);
  });

  it('takes the good frame when a spoiled one comes first in the same chunk', async () => {
    const p = t.sam.find();
    await t.clock.advance(0);
    const bad = replyFrame(0x9f, Buffer.alloc(4));
    bad[bad.length - 1] ^= 1;
    t.sam.feed(Buffer.concat([bad, replyFrame(0x9f, Buffer.alloc(4))]));
    expect((await p).kind).toBe('found');
  });

  it('counts a frame that nobody asked for and drops it', () => {
    t.sam.feed(replyFrame(0x90));
    expect(t.sam.stats()).toEqual({ frames: 1, frameErrors: 0, unsolicited: 1 });
  });

  it('queues exchanges: the second command waits for the first reply', async () => {
    const a = t.sam.find();
    const b = t.sam.select();
    await t.clock.advance(0);
    expect(t.written).toHaveLength(1);
    t.sam.feed(replyFrame(0x9f, Buffer.alloc(4)));
    expect((await a).kind).toBe('found');
    await t.clock.advance(0);
    expect(t.written).toHaveLength(2);
    t.sam.feed(replyFrame(0x90, Buffer.alloc(8)));
    expect((await b).kind).toBe('ok');
  });

  it('queues after a failed exchange too', async () => {
    const a = t.sam.find();
    const b = t.sam.find();
    const failed = expect(a).rejects.toMatchObject({ code: 'idcard_timeout' });
    await t.clock.advance(500);
    await failed;
    t.sam.feed(replyFrame(0x80, Buffer.alloc(4)));
    expect((await b).kind).toBe('no_card');
  });

  it('turns a failed write into idcard_io, keeping a SitegateError as it is', async () => {
    const clock = new ManualClock();
    const plain = new IdCardSam({ write: () => Promise.reject(new Error('EIO')) }, clock);
    await expect(plain.find()).rejects.toMatchObject({ code: 'idcard_io', message: 'writing the find command failed: Error: EIO' });
    const typed = new IdCardSam({ write: () => Promise.reject(new SitegateError('idcard_io', 'port gone')) }, clock);
    await expect(typed.find()).rejects.toMatchObject({ code: 'idcard_io', message: 'port gone' });
  });

  it('fails the waiting exchange and all later ones after abort', async () => {
    const p = t.sam.find();
    t.sam.abort(new SitegateError('idcard_disconnected', 'gone'));
    await expect(p).rejects.toMatchObject({ code: 'idcard_disconnected' });
    await expect(t.sam.select()).rejects.toMatchObject({ code: 'idcard_disconnected' });
  });
});

describe('GA 467 find → select → read against the simulated SAM', () => {
  let clock: ManualClock;
  let sim: IdCardSim;
  let sam: IdCardSam;
  beforeEach(async () => {
    clock = new ManualClock();
    sim = new IdCardSim(clock, { baud: null });
    const link = await sim.openMemoryLink();
    sam = new IdCardSam(link, clock);
    link.onData((c) => sam.feed(c));
  });

  const run = async <T>(p: Promise<T>, ms = 2000): Promise<T> => {
    let done = false;
    void p.then(() => (done = true), () => (done = true));
    await clock.runUntil(() => done, ms, 1);
    return p;
  };

  it('reads and decodes a card, keeping the WLT photo raw', async () => {
    const photo = Buffer.from(Array.from({ length: PHOTO_BYTES }, (_, i) => i & 0xff));
    sim.insert(sampleCard(), photo);
    const r = await run(sam.readCard());
    expect(r.kind).toBe('card');
    if (r.kind !== 'card') return;
    expect(r.card.idNumber).toBe('11010519491231002X');
    expect(r.card.validTo).toBeNull();
    expect(r.photo).toEqual(photo);
    expect(sim.stats().commands).toEqual({ find: 1, select: 1, read: 1, samId: 0, other: 0 });
  });

  it('says no card at find when the reader is empty', async () => {
    expect(await run(sam.readCard())).toMatchObject({ kind: 'no_card', step: 'find', status: { sw3: 0x80 } });
  });

  it('says no card at select when the card left between find and select', async () => {
    sim.insert(sampleCard());
    sim.inject({ kind: 'sw3', sw3: 0x81, command: 'select' });
    expect(await run(sam.readCard())).toMatchObject({ kind: 'no_card', step: 'select', status: { sw3: 0x81 } });
  });

  it('reports a SAM error at find and at select with its step', async () => {
    sim.insert(sampleCard());
    sim.inject({ kind: 'sw3', sw3: 0x60, command: 'find' });
    expect(await run(sam.readCard())).toMatchObject({ kind: 'sam_error', step: 'find', status: { kind: 'self_test_failed' } });
    sim.inject({ kind: 'sw3', sw3: 0x32, command: 'select' });
    expect(await run(sam.readCard())).toMatchObject({ kind: 'sam_error', step: 'select', status: { kind: 'card_auth_failed' } });
  });

  for (const [sw3, kind] of LISTED.filter(([c]) => c !== 0x90)) {
    it(`reports SW3 0x${sw3.toString(16).toUpperCase()} on read as ${kind}`, async () => {
      sim.insert(sampleCard());
      sim.inject({ kind: 'sw3', sw3, command: 'read' });
      expect(await run(sam.readCard())).toMatchObject({ kind: 'sam_error', step: 'read', status: { sw3, kind } });
    });
  }

  it('reports an unknown SW3 on read as unknown, carrying the byte', async () => {
    sim.insert(sampleCard());
    sim.inject({ kind: 'sw3', sw3: 0x5c, command: 'read' });
    expect(await run(sam.readCard())).toMatchObject({ kind: 'sam_error', step: 'read', status: { kind: 'unknown', sw3: 0x5c } });
  });

  it('reports a card whose text does not check out as bad_card', async () => {
    sim.insert(sampleCard({ idNumber: '110105194912310021' }));
    expect(await run(sam.readCard())).toMatchObject({ kind: 'bad_card', code: 'bad_id_number' });
  });

  it('refuses a read reply whose text block is not 256 bytes', async () => {
    sim.insertRaw(Buffer.alloc(200));
    await expect(run(sam.readCard())).rejects.toMatchObject({ code: 'idcard_bad_reply', message: expect.stringMatching(/text 200/) });
  });

  it('answers a command it does not know with 0x21 and a corrupted command with 0x10', async () => {
    const replies: Buffer[] = [];
    const link = await sim.openMemoryLink();
    link.onData((c) => replies.push(c));
    await link.write(commandFrame(0x99, 0x01));
    const bad = commandFrame(0x20, 0x01);
    bad[9] ^= 0xff;
    await link.write(bad);
    await link.write(Buffer.concat([h('AAAAAA9669 0001'), h('00')])); // LEN 1 is below any command
    await clock.advance(1);
    expect(Buffer.concat(replies)).toEqual(Buffer.concat([replyFrame(0x21), replyFrame(0x10), replyFrame(0x11)]));
    expect(sim.stats()).toMatchObject({ commands: { other: 1 }, badFrames: 2 });
  });

  it('paces a whole read at 115200 baud: about 118 ms of wire on the injected clock', async () => {
    const paced = new IdCardSim(clock);
    paced.insert(sampleCard());
    const link = await paced.openMemoryLink();
    const s = new IdCardSam(link, clock);
    link.onData((c) => s.feed(c));
    let done = false;
    const r = s.readCard().finally(() => (done = true));
    await clock.runUntil(() => done, 115, 1);
    expect(done).toBe(false);
    await clock.runUntil(() => done, 10, 1);
    expect(done).toBe(true);
    expect((await r).kind).toBe('card');
  });
});
