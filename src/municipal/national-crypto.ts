import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SitegateError } from '../core/errors.js';

const CIPHER_BY_KEY_LENGTH: Record<number, string> = { 16: 'aes-128-cbc', 24: 'aes-192-cbc', 32: 'aes-256-cbc' };

interface IdCipher {
  algorithm: string;
  key: Buffer;
  iv: Buffer;
}

/**
 * The national standard's ID-number cipher: AES-CBC-PKCS7, key = the app secret's UTF-8 bytes,
 * IV = its first 16 bytes. The key length picks AES-128/192/256.
 */
export function idCipherFor(appSecret: string): IdCipher {
  const key = Buffer.from(appSecret, 'utf8');
  const algorithm = CIPHER_BY_KEY_LENGTH[key.length];
  if (!algorithm) {
    throw new SitegateError(
      'municipal.bad_secret_length',
      `the app secret is ${key.length} bytes; the ID-number cipher needs 16, 24 or 32 (AES-128/192/256)`,
    );
  }
  return { algorithm, key, iv: key.subarray(0, 16) };
}

/** base64 of AES-CBC-PKCS7(plain) under the app secret. */
export function encryptIdNumber(plain: string, appSecret: string): string {
  const { algorithm, key, iv } = idCipherFor(appSecret);
  const cipher = createCipheriv(algorithm, key, iv);
  return Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
}

/** Inverse of encryptIdNumber; throws `municipal.decrypt_failed` on anything that is not our ciphertext. */
export function decryptIdNumber(base64: string, appSecret: string): string {
  const { algorithm, key, iv } = idCipherFor(appSecret);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0 || bytes.length % 16 !== 0 || bytes.toString('base64') !== base64) {
    throw new SitegateError('municipal.decrypt_failed', 'the ID number is not base64 of whole AES blocks');
  }
  try {
    const decipher = createDecipheriv(algorithm, key, iv);
    return Buffer.concat([decipher.update(bytes), decipher.final()]).toString('utf8');
  } catch {
    throw new SitegateError('municipal.decrypt_failed', 'the ID number does not decrypt under this app secret (bad padding)');
  }
}
