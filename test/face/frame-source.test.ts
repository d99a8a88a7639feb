import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { CommandFrameSource, DirectoryFrameSource, MjpegFileSource, type SourceFrame } from '../../src/gate/face/frame-source.js';

const sample = (i: number) => readFileSync(`node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);
const dir = mkdtempSync(join(tmpdir(), 'face-src-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A well-framed JPEG whose scan is garbage: the splitter passes it on, the decoder refuses it.
const corrupt = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]), Buffer.alloc(100, 0x55), Buffer.from([0xff, 0xd9])]);
const size = { width: 320, height: 240 };

function mjpegFile(): string {
  const p = join(dir, 'cam.mjpeg');
  writeFileSync(p, Buffer.concat([sample(1), corrupt, sample(2), sample(3)]));
  return p;
}

describe('frame decoding', () => {
  it('letterboxes any picture to the fixed size, reading the format from the content', async () => {
    const png = await sharp({ create: { width: 100, height: 50, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const f = await decodeFrame(png, size); // PNG bytes, whatever a file name would say
    expect([f.width, f.height, f.data.length]).toEqual([320, 240, 320 * 240 * 3]);
    expect(f.letterbox).toMatchObject({ scale: 3.2, offsetX: 0, offsetY: 40 });
    const mid = (120 * 320 + 160) * 3;
    expect([f.data[mid], f.data[mid + 1]]).toEqual([255, 0]);
    expect(f.data[(5 * 320 + 160) * 3]).toBe(0); // the black bar above
  });

  it('turns grey-scale pictures into RGB', async () => {
    const grey = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 90, g: 90, b: 90 } } }).greyscale().png().toBuffer();
    const f = await decodeFrame(grey, size);
    expect(f.data.length).toBe(320 * 240 * 3);
    const mid = (120 * 320 + 160) * 3;
    expect([f.data[mid], f.data[mid + 1], f.data[mid + 2]]).toEqual([90, 90, 90]);
  });

  it('refuses bytes that are no image with a frame_corrupt error', async () => {
    await expect(decodeFrame(corrupt, size)).rejects.toMatchObject({ code: 'frame_corrupt' });
  });
});

describe('frame sources', () => {
  it('an MJPEG file delivers its good frames and counts the corrupt one', async () => {
    const got: SourceFrame[] = [];
    const src = new MjpegFileSource(mjpegFile(), { size, onFrame: async (f) => void got.push(f) });
    src.start();
    await src.ended();
    // Newest-wins may drop frames while the handler decodes, but nothing is lost uncounted.
    expect(src.stats.delivered + src.stats.dropped + src.stats.corrupt).toBe(4);
    expect(src.stats.delivered).toBeGreaterThanOrEqual(1);
    expect(got.length).toBe(src.stats.delivered);
    expect(got.every((f) => f.width === 320 && f.height === 240)).toBe(true);
  });

  it('a child process writing MJPEG on stdout is a camera (here: cat of an MJPEG file)', async () => {
    const got: number[] = [];
    const src = new CommandFrameSource({ command: ['cat', mjpegFile()], size, onFrame: (f) => void got.push(f.seq) });
    src.start();
    await src.ended();
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(src.stats.delivered + src.stats.dropped + src.stats.corrupt).toBe(4);
    await src.stop();
  });

  it('a directory is read one image per interval on the injected clock', async () => {
    const d = join(dir, 'imgs');
    rmSync(d, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(d);
    copyFileSync('node_modules/@vladmandic/face-api/demo/sample1.jpg', join(d, 'a.jpg'));
    writeFileSync(join(d, 'b.jpg'), corrupt);
    copyFileSync('node_modules/@vladmandic/face-api/demo/sample2.jpg', join(d, 'c.png')); // a JPEG named .png
    const clock = new ManualClock();
    const got: number[] = [];
    let arrived: () => void = () => {};
    const next = () => new Promise<void>((r) => (arrived = r));
    let wait = next();
    const src = new DirectoryFrameSource({ dir: d, clock, intervalMs: 500, size, onFrame: (f) => { got.push(f.seq); arrived(); } });
    src.start();
    await wait; // decoding is real work on sharp's threads: wait for the frame, not for time
    expect(got).toHaveLength(1);
    wait = next();
    await clock.advance(500); // b.jpg: corrupt, counted
    await clock.advance(500); // c.png: decoded by content
    await wait;
    expect(got).toEqual([0, 1]);
    await clock.advance(500);
    await src.ended();
    expect(src.stats).toEqual({ delivered: 2, corrupt: 1, dropped: 0 });
  });
});
