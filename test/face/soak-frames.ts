// The camera stream of the face soak: the shared photos as a camera would send them (640×480
// JPEGs), a few frames without a face, and a few byte strings framed as JPEGs that do not decode,
// all as one MJPEG byte stream for the gate's splitter.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeFrame, defaultFrameSize } from '../../src/gate/face/frame-decode.js';
import { seeded } from './frame-warp.js';

export type SoakFrameKind = 'face' | 'empty' | 'corrupt';

export interface SoakFrame {
  kind: SoakFrameKind;
  /** Where it came from (a photo's path under the faces directory, or what was made). */
  name: string;
  jpeg: Buffer;
}

const { width, height } = defaultFrameSize;

async function cameraJpeg(rgb: Uint8Array): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

/**
 * Every photo of people/ and groups/, letterboxed to the camera's size once and sent as the
 * camera's JPEG from then on. The tight grey PNG crops get the grey margin enrolment gives them,
 * or the detector sees no face in them.
 */
export async function facePhotoFrames(facesDir: string): Promise<SoakFrame[]> {
  const files: string[] = [];
  const people = join(facesDir, 'people');
  for (const person of readdirSync(people).sort()) for (const f of readdirSync(join(people, person)).sort()) files.push(join('people', person, f));
  for (const f of readdirSync(join(facesDir, 'groups')).sort()) files.push(join('groups', f));
  return Promise.all(
    files.map(async (name) => {
      const bytes = readFileSync(join(facesDir, name));
      const tightCrop = name.endsWith('.png') && bytes.length < 64 * 1024;
      const frame = await decodeFrame(bytes, defaultFrameSize, tightCrop ? { pad: 0.25 } : {});
      return { kind: 'face' as const, name, jpeg: await cameraJpeg(frame.data) };
    }),
  );
}

/** A black frame, a grey gradient (an empty turnstile lane) and sensor noise. */
export async function emptyFrames(): Promise<SoakFrame[]> {
  const black = new Uint8Array(width * height * 3);
  const gradient = new Uint8Array(width * height * 3);
  const noise = new Uint8Array(width * height * 3);
  const rnd = seeded(5);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      gradient[i] = gradient[i + 1] = gradient[i + 2] = Math.round((255 * (x + y)) / (width + height));
      noise[i] = Math.floor(rnd() * 256);
      noise[i + 1] = Math.floor(rnd() * 256);
      noise[i + 2] = Math.floor(rnd() * 256);
    }
  }
  return [
    { kind: 'empty', name: 'black', jpeg: await cameraJpeg(black) },
    { kind: 'empty', name: 'gradient', jpeg: await cameraJpeg(gradient) },
    { kind: 'empty', name: 'noise', jpeg: await cameraJpeg(noise) },
  ];
}

/**
 * Byte strings the splitter frames as JPEGs (SOI … EOI) but the decoder refuses: a garbage scan,
 * a real frame cut short, and a real frame whose header is zeroed.
 */
export function corruptFrames(real: Buffer): SoakFrame[] {
  const soi = Buffer.from([0xff, 0xd8]);
  const eoi = Buffer.from([0xff, 0xd9]);
  const garbageScan = Buffer.concat([soi, Buffer.from([0xff, 0xda, 0x00, 0x02]), Buffer.alloc(100, 0x55), eoi]);
  // The headers and tables, cut just before the scan (start of scan, FF DA): no picture at all.
  const sos = real.indexOf(Buffer.from([0xff, 0xda]));
  if (sos < 0) throw new Error('the real frame has no start of scan');
  const cut = Buffer.concat([real.subarray(0, sos), eoi]);
  const zeroedHeader = Buffer.concat([soi, Buffer.alloc(600, 0), real.subarray(real.length - 2000)]);
  return [
    { kind: 'corrupt', name: 'garbage scan', jpeg: garbageScan },
    { kind: 'corrupt', name: 'cut short', jpeg: cut },
    { kind: 'corrupt', name: 'zeroed header', jpeg: zeroedHeader },
  ];
}

/**
 * One pass of the stream: the face photos in order, with an empty frame after every 10th photo
 * and a corrupt one after every 20th, so every kind recurs all through the soak.
 */
export function interleave(faces: SoakFrame[], empty: SoakFrame[], corrupt: SoakFrame[]): SoakFrame[] {
  const out: SoakFrame[] = [];
  faces.forEach((f, i) => {
    out.push(f);
    if (i % 10 === 9) out.push(empty[(i / 10) % empty.length | 0]);
    if (i % 20 === 19) out.push(corrupt[(i / 20) % corrupt.length | 0]);
  });
  for (const e of empty) if (!out.includes(e)) out.push(e);
  for (const c of corrupt) if (!out.includes(c)) out.push(c);
  return out;
}

/**
 * The pass as an MJPEG byte stream in pipe-sized chunks, with a few bytes of line noise between
 * some frames (which the splitter skips): what a camera's stdout looks like to the gate.
 */
export function mjpegChunks(pass: SoakFrame[], chunkBytes = 64 * 1024): Buffer[] {
  const parts: Buffer[] = [];
  pass.forEach((f, i) => {
    parts.push(f.jpeg);
    if (i % 7 === 3) parts.push(Buffer.from('\r\n--frame\r\n'));
  });
  const stream = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += chunkBytes) chunks.push(stream.subarray(at, at + chunkBytes));
  return chunks;
}
