import { copyFileSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { installModels, manifestFromNodeModules, readModelManifest, verifyModels } from '../../src/gate/face/models.js';

const dir = mkdtempSync(join(tmpdir(), 'face-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('face model manifest', () => {
  const manifest = readModelManifest();

  it('lists every model file the pipeline loads, as node_modules holds them now', () => {
    expect(manifest.files.map((f) => f.file).sort()).toEqual(manifestFromNodeModules().files.map((f) => f.file).sort());
    expect(manifestFromNodeModules()).toEqual(manifest);
  });

  it('installs the files from node_modules and verifies them', () => {
    const dest = join(dir, 'ok');
    expect(installModels(manifest, dest)).toHaveLength(manifest.files.length);
    expect(readdirSync(dest).sort()).toEqual(manifest.files.map((f) => f.file).sort());
    expect(() => verifyModels(manifest, dest)).not.toThrow();
  });

  it('refuses a tampered copy and names the file', () => {
    const dest = join(dir, 'tampered');
    installModels(manifest, dest);
    const p = join(dest, 'face_recognition_model.bin');
    const bytes = readFileSync(p);
    bytes[1000] ^= 0xff;
    writeFileSync(p, bytes);
    expect(() => verifyModels(manifest, dest)).toThrow(/face_recognition_model\.bin does not match/);
  });

  it('refuses a missing file and names it', () => {
    const dest = join(dir, 'missing');
    installModels(manifest, dest);
    unlinkSync(join(dest, 'blazeface.bin'));
    expect(() => verifyModels(manifest, dest)).toThrow(/blazeface\.bin is missing/);
  });

  it('refuses a package version other than the manifest names', () => {
    const other = { ...manifest, files: manifest.files.map((f, i) => (i === 0 ? { ...f, version: '0.0.1' } : f)) };
    expect(() => installModels(other, join(dir, 'v'))).toThrow(/wants @vladmandic\/human@0\.0\.1/);
  });

  it('the face pool does not start on a tampered model and says which file', async () => {
    const dest = join(dir, 'pool');
    installModels(manifest, dest);
    copyFileSync(join(dest, 'liveness.json'), join(dest, 'antispoof.json'));
    const pool = new FacePool({ workers: 1, modelsDir: dest });
    await expect(pool.start()).rejects.toMatchObject({ code: 'face_model_mismatch', message: expect.stringContaining('antispoof.json') });
    expect(pool.size).toBe(0);
  });
});
