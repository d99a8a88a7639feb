// The demo's faces: every face found in face-api's own sample photos
// (node_modules/@vladmandic/face-api/demo/sample*.jpg, always installed), cut out one per file,
// enrolled through the gate's own pipeline. Each crop is one demo person; a demo gate's camera
// replays the crops from a directory.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { enrolFromPhoto } from '../gate/face/enrol.js';
import type { FacePool } from '../gate/face/face-pool.js';
import { decodeFrame } from '../gate/face/frame-decode.js';
import { encodeTemplate } from '../gate/face/face-templates.js';
import { repoRoot } from '../gate/face/models.js';

export interface DemoFace {
  /** the crop's file in the camera directory */
  file: string;
  /** where it was cut from */
  sample: string;
  /** the roster template (base64 of the scaled descriptor, face-templates.ts) */
  template: string;
}

/** Side of a crop: large enough that the eyes are far enough apart for the gate's camera rule. */
const CROP_SIDE = 400;

/** face-api's demo folder, found the way Node finds the package. */
export function sampleDir(): string {
  const req = createRequire(join(repoRoot, 'package.json'));
  for (const nm of req.resolve.paths('@vladmandic/face-api') ?? []) {
    const dir = join(nm, '@vladmandic', 'face-api', 'demo');
    try {
      if (readdirSync(dir).some((f) => /^sample\d+\.jpg$/.test(f))) return dir;
    } catch {
      // not here
    }
  }
  return join(dirname(req.resolve('@vladmandic/face-api')), '..', 'demo');
}

/**
 * Cuts every face of the sample photos into `outDir` (face-01.jpg…) and enrols each crop; a
 * crop the enrolment rules refuse (too small, blurred, turned away) is left out. At most `max`.
 */
export async function cutSampleFaces(pool: FacePool, outDir: string, max = 50): Promise<DemoFace[]> {
  mkdirSync(outDir, { recursive: true });
  const dir = sampleDir();
  const samples = readdirSync(dir).filter((f) => /^sample\d+\.jpg$/.test(f)).sort();
  const out: DemoFace[] = [];
  for (const name of samples) {
    const bytes = readFileSync(join(dir, name));
    const frame = await decodeFrame(bytes);
    const r = await pool.process(frame, { options: { choose: { minEyeDistancePx: 0, nearlyLargest: 0.8 } } });
    const { scale, offsetX, offsetY, sourceWidth, sourceHeight } = frame.letterbox;
    for (const { box } of r.boxes) {
      if (out.length >= max) return out;
      const side = (Math.max(box.width, box.height) * 2.2) / scale;
      const cx = (box.x + box.width / 2 - offsetX) / scale;
      const cy = (box.y + box.height / 2 - offsetY) / scale;
      const left = Math.max(0, Math.round(cx - side / 2));
      const top = Math.max(0, Math.round(cy - side / 2));
      const width = Math.min(sourceWidth - left, Math.round(side));
      const height = Math.min(sourceHeight - top, Math.round(side));
      if (width < 24 || height < 24) continue;
      const crop = await sharp(bytes).rotate().extract({ left, top, width, height }).resize(CROP_SIDE, CROP_SIDE, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer();
      const enrolled = await enrolFromPhoto(pool, crop);
      if (!enrolled.ok) continue;
      const file = join(outDir, `face-${String(out.length + 1).padStart(2, '0')}.jpg`);
      writeFileSync(file, crop);
      out.push({ file, sample: name, template: encodeTemplate(enrolled.descriptor) });
    }
  }
  return out;
}
