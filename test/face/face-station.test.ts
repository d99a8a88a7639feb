// The gate-side face station with a scripted face processor (no models): policies, events, the
// cooldown and the roster's templates. Runs on a ManualClock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { createFaceIndex } from '../../src/gate/face/face-index.js';
import { FaceStation, type FaceCredential, type FaceNoMatch, type FaceProcessor, type FaceSpoof } from '../../src/gate/face/face-station.js';
import { decodeTemplate, encodeTemplate, loadRosterTemplates } from '../../src/gate/face/face-templates.js';
import type { FaceResult, RgbFrame } from '../../src/gate/face/face-types.js';
import { unit } from '../gate-integration/face-helpers.js';

const frame: RgbFrame = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(90) };

// A frontal face whose mouth opens by `open` (inter-ocular distance 20 px).
function landmarks(open: number): Float32Array {
  const l = new Float32Array(136);
  for (let i = 0; i < 68; i++) {
    l[2 * i] = 22 + (i % 17) * 1.3;
    l[2 * i + 1] = 14 + Math.floor(i / 17) * 5;
  }
  const set = (i: number, x: number, y: number) => ((l[2 * i] = x), (l[2 * i + 1] = y));
  [[36, 20, 20], [37, 22, 19], [38, 24, 19], [39, 26, 20], [40, 24, 21], [41, 22, 21]].forEach(([i, x, y]) => set(i, x + 0, y));
  [[42, 38, 20], [43, 40, 19], [44, 42, 19], [45, 44, 20], [46, 42, 21], [47, 40, 21]].forEach(([i, x, y]) => set(i, x, y));
  for (let i = 60; i <= 67; i++) set(i, 28 + ((i - 60) % 4) * 3, 34);
  set(60, 26, 34); set(64, 38, 34);
  for (const i of [61, 62, 63]) l[2 * i + 1] = 34 - open;
  for (const i of [65, 66, 67]) l[2 * i + 1] = 34 + open;
  return l;
}

function scripted(results: Array<Partial<FaceResult> & { open?: number; d?: Float32Array; antispoof?: number }>): FaceProcessor & { calls: number } {
  const p = {
    calls: 0,
    async process(): Promise<FaceResult> {
      const r = results[Math.min(p.calls++, results.length - 1)];
      const box = { x: 10, y: 5, width: 44, height: 40 };
      return {
        faces: r.faces ?? 1,
        boxes: [{ box, score: 0.9 }],
        timings: { detectMs: 0, landmarksMs: 0, embedMs: 0, livenessMs: 0, totalMs: 0 },
        ...(r.refused ? { refused: r.refused } : {}),
        ...(r.faces === 0 || r.refused ? {} : {
          chosen: {
            box, landmarks: landmarks(r.open ?? 0), descriptor: r.d ?? unit(1), eyeDistancePx: 20, detScore: 0.9,
            liveness: { antispoof: r.antispoof ?? 0.9, liveness: 0.9 }, pose: { yaw: 0, pitch: 0, roll: 0 }, sharpness: 100,
          },
        }),
      };
    },
  };
  return p;
}

async function station(p: FaceProcessor, policy: 'model-only' | 'model+motion' | 'model+motion+ir', clock = new ManualClock()) {
  const index = await createFaceIndex({ threshold: 0.9, margin: 0.01, kernel: 'js' });
  index.add('W1', [unit(1)]);
  index.add('W2', [unit(2)]);
  const s = new FaceStation(p, index, { lane: 'L1', direction: 'in', policy, clock, burstFrames: 6 });
  const events: Array<['credential', FaceCredential] | ['spoof', FaceSpoof] | ['no_match', FaceNoMatch]> = [];
  s.on('credential', (e) => events.push(['credential', e]));
  s.on('spoof', (e) => events.push(['spoof', e]));
  s.on('no_match', (e) => events.push(['no_match', e]));
  s.start();
  return { s, events, clock };
}

describe('face station', () => {
  it("'model-only' recognises an enrolled worker from one frame, with score, margin, liveness and a JPEG photo", async () => {
    const { s, events } = await station(scripted([{}]), 'model-only');
    await s.offer(frame);
    expect(events).toHaveLength(1);
    const [kind, e] = events[0];
    expect(kind).toBe('credential');
    const c = e as FaceCredential;
    expect(c).toMatchObject({ kind: 'face', workerId: 'W1', lane: 'L1', direction: 'in', liveness: { policy: 'model-only', antispoof: 0.9 } });
    expect(c.score).toBeGreaterThan(0.99);
    expect(c.margin).toBeGreaterThan(0.01);
    expect(c.photo.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it('a low antispoof score is a spoof, an unknown face no match', async () => {
    const a = await station(scripted([{ antispoof: 0.1 }]), 'model-only');
    await a.s.offer(frame);
    expect(a.events.map(([k, e]) => [k, (e as FaceSpoof).reason])).toEqual([['spoof', 'model_antispoof']]);
    const b = await station(scripted([{ d: unit(7) }]), 'model-only');
    await b.s.offer(frame);
    expect(b.events[0][0]).toBe('no_match');
    expect((b.events[0][1] as FaceNoMatch).reason).toBe('below_threshold');
  });

  it("'model+motion' waits for a burst: a still face is a spoof, a moving mouth passes", async () => {
    const still = await station(scripted([{}]), 'model+motion');
    for (let i = 0; i < 5; i++) await still.s.offer(frame);
    expect(still.events).toHaveLength(0);
    await still.s.offer(frame);
    expect(still.events.map(([k, e]) => [k, (e as FaceSpoof).reason])).toEqual([['spoof', 'motion']]);

    const live = await station(scripted([0, 0, 2, 4, 2, 0].map((open) => ({ open }))), 'model+motion');
    for (let i = 0; i < 6; i++) await live.s.offer(frame);
    expect(live.events.map(([k]) => k)).toEqual(['credential']);
    expect((live.events[0][1] as FaceCredential).liveness.motion).toEqual({ live: true, reason: 'mouth_movement' });
  });

  it('rests after an event, then judges again', async () => {
    const { s, events, clock } = await station(scripted([{}]), 'model-only');
    await s.offer(frame);
    await s.offer(frame);
    expect(events).toHaveLength(1);
    expect(s.counters.cooldown).toBe(1);
    await clock.advance(3000);
    await s.offer(frame);
    expect(events).toHaveLength(2);
  });

  it("'model+motion+ir' without a face in the IR frame is a spoof", async () => {
    const { s, events } = await station(scripted([{ refused: 'no_ir_face', faces: 1 }]), 'model+motion+ir');
    await s.offer(frame);
    expect(events.map(([k, e]) => [k, (e as FaceSpoof).reason])).toEqual([['spoof', 'no_ir_face']]);
  });

  it('card + face: verifies the newest live face against one worker', async () => {
    const { s } = await station(scripted([{}]), 'model-only');
    expect(s.verifyRecent('W1')).toBeNull();
    await s.offer(frame);
    expect(s.verifyRecent('W1')).toMatchObject({ accepted: true });
    expect(s.verifyRecent('W2')).toMatchObject({ accepted: false });
  });
});

describe('roster face templates', () => {
  it('round-trip through base64, and bad ones are counted and skipped', async () => {
    const t = encodeTemplate(unit(3));
    expect(t).toHaveLength(684);
    expect(Array.from(decodeTemplate(t))).toEqual(Array.from(unit(3)).map((v) => expect.closeTo(v, 6)));
    expect(() => decodeTemplate('AAAA')).toThrow(/512 bytes/);
    expect(() => decodeTemplate(encodeTemplate(new Float32Array(128).fill(1)))).toThrow(/length must be between 0.5 and 1.5, this one's is 11.314/);
    expect(() => decodeTemplate(encodeTemplate(new Float32Array(128)))).toThrow(/this one's is 0.000/);
    // Descriptors are not unit vectors: a length of 1.1 is a face's and is kept as it is.
    const longer = unit(4).map((v) => v * 1.1);
    expect(Array.from(decodeTemplate(encodeTemplate(longer)))).toEqual(Array.from(longer));
    const index = await createFaceIndex({ threshold: 0.9, margin: 0.01, kernel: 'js' });
    index.add('GONE', [unit(9)]);
    const load = loadRosterTemplates(index, [
      { workerId: 'W1', templates: [encodeTemplate(unit(1)), 'AAAA'] },
      { workerId: 'W2', templates: ['not base64 at all!'] },
    ]);
    expect(load).toEqual({ workers: 1, templates: 1, bad: 2, badWorkers: ['W1', 'W2'] });
    expect(index.workerIds()).toEqual(['W1']);
  });
});
