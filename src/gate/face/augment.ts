// Degraded copies of a face photo for evaluation: what a gate camera meets on a site.
import sharp, { type Sharp } from 'sharp';

export const AUGMENTATIONS = ['low_light', 'blur', 'jpeg_q30', 'rotate_plus15', 'rotate_minus15', 'hardhat_shadow'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** One degraded copy of an image (path or encoded bytes), as JPEG (quality 92 unless the copy is about JPEG). */
export async function augmentImage(input: string | Buffer, kind: Augmentation): Promise<Buffer> {
  const img = sharp(input).autoOrient();
  const { width, height } = (await sharp(input).metadata()).autoOrient;
  const jpeg = (s: Sharp, quality = 92) => s.jpeg({ quality }).toBuffer();
  switch (kind) {
    case 'low_light':
      // A third of the light, and the sensor's noise floor lifted a little.
      return jpeg(img.linear(0.3, 4).gamma(1.2));
    case 'blur':
      return jpeg(img.blur(Math.max(1.5, Math.min(width, height) / 150)));
    case 'jpeg_q30':
      return jpeg(img, 30);
    case 'rotate_plus15':
    case 'rotate_minus15':
      return jpeg(img.rotate(kind === 'rotate_plus15' ? 15 : -15, { background: { r: 128, g: 128, b: 128 } }));
    case 'hardhat_shadow':
      return jpeg(img.composite([{ input: shadowSvg(width, height), blend: 'multiply' }]));
  }
}

/** A hard hat's brim shadow: dark at the top, fading out over the upper 40 % of the picture. */
function shadowSvg(width: number, height: number): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="rgb(30,30,30)"/><stop offset="0.25" stop-color="rgb(70,70,70)"/>
<stop offset="0.4" stop-color="rgb(255,255,255)"/><stop offset="1" stop-color="rgb(255,255,255)"/>
</linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`,
  );
}
