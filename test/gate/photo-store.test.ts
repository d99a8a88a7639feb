import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PhotoStore } from '../../src/gate/punch/photo-store.js';

describe('photo store', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  function store(maxBytes: number, clock = { t: 1000 }) {
    const dir = mkdtempSync(join(tmpdir(), 'photos-'));
    dirs.push(dir);
    return { dir, clock, s: new PhotoStore({ dir, maxBytes, wallClock: () => clock.t++ }) };
  }

  it('keeps a photo under its SHA-256 and gives back exactly its bytes', () => {
    const { s } = store(1_000_000);
    const jpeg = randomBytes(5000);
    const hash = s.put(jpeg);
    expect(hash).toBe(createHash('sha256').update(jpeg).digest('hex'));
    expect(s.get(hash)!.equals(jpeg)).toBe(true);
    expect(s.put(jpeg)).toBe(hash); // the same photo twice is one photo
    expect(s.stats().photos).toBe(1);
    expect(s.get('00'.repeat(32))).toBeNull();
    expect(s.get('../../etc/passwd')).toBeNull();
    s.close();
  });

  it('evicts only uploaded photos, oldest first, under the size cap', () => {
    const { s } = store(10_000);
    const hashes = Array.from({ length: 4 }, () => s.put(randomBytes(4000)));
    // nothing uploaded: all four kept although they exceed the cap
    expect(s.stats()).toMatchObject({ photos: 4, bytes: 16_000, overCap: true });
    expect(s.pendingUpload(10)).toEqual(hashes);
    s.markUploaded(hashes[2]);
    expect(s.get(hashes[2])).toBeNull(); // the only evictable one
    s.markUploaded(hashes[0]);
    s.markUploaded(hashes[1]);
    // 8,000 bytes left: hashes[0] went (oldest uploaded), hashes[1] fits under the cap
    expect(s.get(hashes[0])).toBeNull();
    expect(s.get(hashes[1])).not.toBeNull();
    expect(s.get(hashes[3])).not.toBeNull();
    expect(s.stats()).toMatchObject({ photos: 2, bytes: 8000, pendingBytes: 4000, overCap: false });
    expect(s.pendingUpload(10)).toEqual([hashes[3]]);
    s.close();
  });

  it('a photo file damaged on disk is not handed out as the photo', () => {
    const { s, dir } = store(1_000_000);
    const hash = s.put(randomBytes(100));
    writeFileSync(join(dir, `${hash}.jpg`), 'scribbled over');
    expect(s.get(hash)).toBeNull();
    expect(existsSync(join(dir, `${hash}.jpg`))).toBe(true);
    s.close();
  });
});
