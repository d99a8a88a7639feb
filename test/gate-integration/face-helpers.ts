import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaceResult, RgbFrame } from '../../src/gate/face/face-types.js';
import { encodeTemplate } from '../../src/gate/face/face-templates.js';
import type { GateFaceProcessor } from '../../src/gate/gate-face.js';
import { rosterDoc, type TestSite } from './harness.js';

/** A seeded unit-length descriptor (real ones have lengths near 1: match-threshold.ts). */
export function unit(seed: number): Float32Array {
  const v = new Float32Array(128);
  for (let i = 0; i < 128; i++) {
    const h = Math.sin(seed * 12.9898 + i * 78.233) * 43758.5453;
    v[i] = h - Math.floor(h) - 0.5;
  }
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export const frame: RgbFrame = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(90) };

/** Face workers that answer what the test sets: a face with this descriptor and these liveness scores. */
export function scripted(): GateFaceProcessor & { next: { d: Float32Array; antispoof: number; liveness: number } } {
  const p = {
    next: { d: unit(1), antispoof: 0.9, liveness: 0.9 },
    async process(): Promise<FaceResult> {
      const box = { x: 10, y: 5, width: 44, height: 40 };
      return {
        faces: 1,
        boxes: [{ box, score: 0.9 }],
        timings: { detectMs: 0, landmarksMs: 0, embedMs: 0, livenessMs: 0, totalMs: 0 },
        chosen: {
          box, landmarks: new Float32Array(136), descriptor: p.next.d, eyeDistancePx: 60, detScore: 0.9,
          liveness: { antispoof: p.next.antispoof, liveness: p.next.liveness }, pose: { yaw: 0, pitch: 0, roll: 0 }, sharpness: 100,
        },
      };
    },
  };
  return p;
}

/** The harness roster plus face templates: W1 (unit 1), W3 (unit 3). */
export function faceRoster(site: TestSite) {
  const doc = rosterDoc(site.siteKey, 1);
  const w1 = doc.workers[0] as Record<string, unknown>;
  w1.faceTemplates = [encodeTemplate(unit(1))];
  doc.workers.push({ workerId: 'W3', name: '李娜', status: 'entered', idValidTo: null, credentials: [], faceTemplates: [encodeTemplate(unit(3))] } as never);
  const file = join(site.dir, 'roster-faces.json');
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** A face section: model-only, no cooldown, the camera a directory (empty: the test offers frames itself). */
export function faceConfig(dir: string, over: Record<string, unknown> = {}, camera: Record<string, unknown> = {}) {
  mkdirSync(dir, { recursive: true });
  return {
    enabled: true,
    workers: 1,
    livenessPolicy: 'model-only',
    cooldownMs: 0,
    camera: { lane: 'L1', direction: 'in', directory: dir, intervalMs: 50, ...camera },
    ...over,
  };
}

