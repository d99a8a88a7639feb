import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { Logger } from '../../core/log.js';
import { readRosterFile } from './roster-file.js';
import type { RosterFileStamp, RosterStore } from './roster-store.js';

export type RosterFileImport =
  /** the same bytes as the file last read into the store: not parsed again */
  | { outcome: 'unchanged'; version: number }
  | { outcome: 'applied'; version: number; workers: number }
  /** parsed, but the stored roster is as new or newer (the hub moved it on): the store stays */
  | { outcome: 'not_newer'; version: number; have: number };

export interface RosterFileImportOptions {
  log?: Logger;
  /** reads and validates the file; readRosterFile unless given (tests count the calls) */
  parse?: typeof readRosterFile;
}

interface Seen {
  size: number;
  mtimeMs: number;
  sha256: string;
  dev: number;
  ino: number;
}

const HASH_BUFFER_BYTES = 1 << 20;

/**
 * Loads the roster file into the store when it is newer, as at every start. Validating a
 * 100,000-worker file takes most of a second, hashing it a small part of that: a file whose bytes
 * (SHA-256 and size) match the one last read into this store is not parsed again. An unreadable
 * or invalid file throws the same error as readRosterFile.
 */
export function importRosterFile(store: RosterStore, path: string, opts: RosterFileImportOptions = {}): RosterFileImport {
  const { log } = opts;
  const parse = opts.parse ?? readRosterFile;
  const seen = fingerprint(path);
  const stored = store.rosterFileStamp();
  const have = store.version();
  // store versions only grow, so a file judged once against this store stays judged; an emptied
  // store (have === null) always takes the file again
  if (seen && stored && have !== null && stored.version <= have && stored.size === seen.size && stored.sha256 === seen.sha256) {
    if (stored.mtimeMs !== seen.mtimeMs) store.setRosterFileStamp({ ...stored, mtimeMs: seen.mtimeMs });
    log?.info({ file: path, version: stored.version, have }, 'roster file unchanged since it was last read; not parsed again');
    return { outcome: 'unchanged', version: stored.version };
  }
  const doc = parse(path);
  // the stamp is kept only when the file stayed the same while it was parsed
  const stamp: RosterFileStamp | undefined = seen && unchangedSince(seen, path) ? { size: seen.size, mtimeMs: seen.mtimeMs, sha256: seen.sha256, version: doc.version } : undefined;
  if (have === null || doc.version > have) {
    store.replace(doc, stamp);
    log?.info({ file: path, version: doc.version, workers: doc.workers.length }, 'roster file applied');
    return { outcome: 'applied', version: doc.version, workers: doc.workers.length };
  }
  if (stamp) store.setRosterFileStamp(stamp);
  log?.info({ file: path, version: doc.version, have }, 'roster file not newer than the stored roster; the stored one stays');
  return { outcome: 'not_newer', version: doc.version, have };
}

/** The file's size, mtime and SHA-256, hashed in 1 MiB reads; null when it cannot be read (parse says why). */
function fingerprint(path: string): Seen | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_BUFFER_BYTES);
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
    return { size, mtimeMs: st.mtimeMs, sha256: hash.digest('hex'), dev: st.dev, ino: st.ino };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function unchangedSince(seen: Seen, path: string): boolean {
  try {
    const st = statSync(path);
    return st.size === seen.size && st.mtimeMs === seen.mtimeMs && st.ino === seen.ino && st.dev === seen.dev;
  } catch {
    return false;
  }
}
