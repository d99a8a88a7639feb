// Image bytes → one fixed-size RGB frame, with sharp. The format is read from the content, not a
// file name (a ".jpg" may be WebP); the picture is letterboxed (aspect kept, black bars) so the
// WASM heap, which grows to the largest frame it has seen and never shrinks, stays the same size.
import sharp, { type OutputInfo } from 'sharp';
import { SitegateError } from '../../core/errors.js';
import type { RgbFrame } from './face-types.js';
import { releasePixels } from './release-pixels.js';

// Each frame is decoded once: libvips' operation cache (up to 50 MB by default) only holds memory.
sharp.cache(false);

export interface FrameSize {
  width: number;
  height: number;
}

export const defaultFrameSize: FrameSize = { width: 640, height: 480 };

/** Where the original picture sits in the letterboxed frame: frame = offset + original × scale. */
export interface Letterbox {
  scale: number;
  offsetX: number;
  offsetY: number;
  sourceWidth: number;
  sourceHeight: number;
}

export interface DecodedFrame extends RgbFrame {
  letterbox: Letterbox;
}

export interface DecodeOptions {
  /**
   * Grey margin added around the picture before letterboxing, as a share of its larger side on
   * each edge: a tight face crop (ID-card photo) needs context for the landmark crop.
   */
  pad?: number;
  /** Only this part of the (oriented, padded) picture, in its pixels: a zoom on one face. */
  region?: { left: number; top: number; width: number; height: number };
}

/** Decodes `bytes` (JPEG, PNG, WebP…; EXIF orientation applied) into a size.width × size.height RGB frame. */
export async function decodeFrame(bytes: Uint8Array, size: FrameSize = defaultFrameSize, opts: DecodeOptions = {}): Promise<DecodedFrame> {
  let img: ReturnType<typeof sharp>;
  let sw: number;
  let sh: number;
  // Each stage's raw pixels are freed as soon as the next stage has read them (release-pixels.ts).
  const stages: Buffer[] = [];
  try {
    // Orientation first (raw pixels, no further metadata), then the size of what we will letterbox.
    const oriented = await sharp(bytes, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    stages.push(oriented.data);
    sw = oriented.info.width;
    sh = oriented.info.height;
    img = sharp(oriented.data, { raw: { width: sw, height: sh, channels: oriented.info.channels as 1 | 2 | 3 | 4 } });
    const pad = Math.round(Math.max(sw, sh) * (opts.pad ?? 0));
    if (pad > 0) {
      const padded = await img.extend({ top: pad, bottom: pad, left: pad, right: pad, background: { r: 128, g: 128, b: 128 } }).raw().toBuffer({ resolveWithObject: true });
      stages.push(padded.data);
      sw = padded.info.width;
      sh = padded.info.height;
      img = sharp(padded.data, { raw: { width: sw, height: sh, channels: padded.info.channels as 1 | 2 | 3 | 4 } });
    }
    if (opts.region) {
      const left = Math.max(0, Math.round(opts.region.left));
      const top = Math.max(0, Math.round(opts.region.top));
      const width = Math.min(sw - left, Math.round(opts.region.width));
      const height = Math.min(sh - top, Math.round(opts.region.height));
      if (width < 1 || height < 1) throw new Error('the region lies outside the picture');
      const part = await img.extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
      stages.push(part.data);
      sw = part.info.width;
      sh = part.info.height;
      img = sharp(part.data, { raw: { width: sw, height: sh, channels: part.info.channels as 1 | 2 | 3 | 4 } });
    }
  } catch (err) {
    stages.forEach((b) => releasePixels(b));
    throw new SitegateError('frame_corrupt', `cannot decode image: ${(err as Error).message}`);
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await img
      .resize(size.width, size.height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } finally {
    stages.forEach((b) => releasePixels(b));
  }
  let data: Uint8Array = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (out.info.channels === 1) data = greyToRgb(data);
  else if (out.info.channels !== 3) throw new SitegateError('frame_corrupt', `decoded image has ${out.info.channels} channels`);
  const scale = Math.min(size.width / sw, size.height / sh);
  return {
    width: size.width,
    height: size.height,
    data,
    scale,
    letterbox: { scale, offsetX: Math.round((size.width - sw * scale) / 2), offsetY: Math.round((size.height - sh * scale) / 2), sourceWidth: sw, sourceHeight: sh },
  };
}

function greyToRgb(grey: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
  return rgb;
}
