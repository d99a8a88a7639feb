import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Temporary file, fsync, rename, fsync of the directory: after a crash or a power cut the file
 * is whole or absent, never half written.
 */
export function writeFileDurably(path: string, bytes: Buffer, modes: { file?: number; dir?: number } = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: modes.dir ?? 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', modes.file ?? 0o600);
  try {
    writeFileSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
