// Synthetic changes of a decoded frame for the replay tests: a whole-picture similarity move with
// noise (a photo held in front of the camera), and a landmark-driven mouth movement that moves
// only the lips (the "live" positive control: no live video exists here, so live is synthetic).
import type { RgbFrame } from '../../src/gate/face/face-types.js';

function sample(src: RgbFrame, x: number, y: number, c: number): number {
  const x0 = Math.max(0, Math.min(src.width - 2, Math.floor(x)));
  const y0 = Math.max(0, Math.min(src.height - 2, Math.floor(y)));
  const fx = Math.max(0, Math.min(1, x - x0));
  const fy = Math.max(0, Math.min(1, y - y0));
  const at = (xx: number, yy: number) => src.data[(yy * src.width + xx) * 3 + c];
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** The frame scaled by `scale` about its centre, shifted by (dx, dy), with uniform noise ±noise. */
export function moved(src: RgbFrame, dx: number, dy: number, scale: number, noise: number, rnd: () => number): RgbFrame {
  const out = new Uint8Array(src.data.length);
  const cx = src.width / 2, cy = src.height / 2;
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const sx = (x - cx - dx) / scale + cx, sy = (y - cy - dy) / scale + cy;
      for (let c = 0; c < 3; c++) {
        const v = sample(src, sx, sy, c) + (rnd() * 2 - 1) * noise;
        out[(y * src.width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { ...src, data: out };
}

/**
 * The mouth opened by `amount` (0 .. 1): below the line between the lips (landmarks 60–67) the
 * picture is pulled down by up to `amount` × the mouth's width / 3, under a smooth bump, and the
 * gap between the lips is darkened as a mouth's inside is; the rest of the picture is untouched.
 */
export function mouthOpen(src: RgbFrame, landmarks: Float32Array, amount: number): RgbFrame {
  const out = new Uint8Array(src.data);
  const px = (i: number) => landmarks[2 * i], py = (i: number) => landmarks[2 * i + 1];
  const x0 = px(48), x1 = px(54);
  const cx = (x0 + x1) / 2, w = x1 - x0;
  const lipLine = (py(62) + py(66)) / 2;
  const shift = (w / 3) * amount;
  const rx = w * 0.75, ry = w * 0.9;
  for (let y = Math.max(0, Math.floor(lipLine)); y <= Math.min(src.height - 1, Math.ceil(lipLine + ry)); y++) {
    for (let x = Math.max(0, Math.floor(cx - rx)); x <= Math.min(src.width - 1, Math.ceil(cx + rx)); x++) {
      const u = (x - cx) / rx, v = (y - lipLine) / ry;
      const r2 = u * u + v * v;
      if (r2 >= 1) continue;
      const d = shift * (1 - r2) ** 2;
      const inside = Math.abs(u) < 0.55 && y - lipLine < d;
      for (let c = 0; c < 3; c++) {
        out[(y * src.width + x) * 3 + c] = inside ? [45, 20, 20][c] : Math.round(sample(src, x, y - d, c));
      }
    }
  }
  return { ...src, data: out };
}
