import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../core/canonical.js';
import { SitegateError } from '../../core/errors.js';

const MAX_PHOTO_BYTES = 8 * 1024 * 1024;

/** The image type by content (a ".jpg" is sometimes really WebP), or null. */
export function photoTypeOf(bytes: Uint8Array): 'jpg' | 'png' | 'webp' | null {
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpg';
  if (bytes.length > 8 && Buffer.from(bytes.subarray(0, 8)).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (bytes.length > 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'webp';
  return null;
}

/**
 * Stores an enrolment photo under `<stateDir>/photos/<workerId>/<sha256>.<ext>` (0600) and
 * returns its reference relative to the state directory. Same bytes, same file.
 */
export function storeEnrolmentPhoto(stateDir: string, workerId: string, bytes: Uint8Array): { photoRef: string; photoSha256: string } {
  if (bytes.length > MAX_PHOTO_BYTES) throw new SitegateError('photo_too_large', `the photo has ${bytes.length} bytes; at most ${MAX_PHOTO_BYTES} are accepted`);
  const type = photoTypeOf(bytes);
  if (!type) throw new SitegateError('photo_type', 'the photo is not a JPEG, PNG or WebP image');
  const photoSha256 = sha256Hex(Buffer.from(bytes));
  const photoRef = join('photos', workerId, `${photoSha256}.${type}`);
  mkdirSync(join(stateDir, 'photos', workerId), { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, photoRef), bytes, { mode: 0o600 });
  return { photoRef, photoSha256 };
}
