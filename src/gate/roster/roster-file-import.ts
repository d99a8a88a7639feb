import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { SitegateError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { parseRosterText } from './roster-file.js';
import type { RosterFileStamp, RosterStore } from './roster-store.js';

export type RosterFileImport =
  /** the same bytes as the file last read into the store: not parsed again */
  | { outcome: 'unchanged'; version: number }
  | { outcome: 'applied'; version: number; workers: number }
  /** parsed, but the stored roster is as new or newer (the hub moved it on): the store stays */
  | { outcome: 'not_newer'; version: number; have: number };

export interface RosterFileImportOptions {
  log?: Logger;
  /** validates the file's text; parseRosterText unless given (tests count the calls) */
  parse?: typeof parseRosterText;
}

/**
 * Loads the roster file into the store when it is newer, as at every start. The file is read
 * once. Validating a 100,000-worker file takes most of a second, hashing it a small part of that:
 * a file whose bytes (SHA-256 and size) match the one last read into this store is not parsed
 * again. An unreadable or invalid file throws the same error as readRosterFile.
 */
export function importRosterFile(store: RosterStore, path: string, opts: RosterFileImportOptions = {}): RosterFileImport {
  const { log } = opts;
  const parse = opts.parse ?? parseRosterText;
  const { bytes, mtimeMs } = readWhole(path);
  const seen = { size: bytes.length, mtimeMs, sha256: createHash('sha256').update(bytes).digest('hex') };
  const stored = store.rosterFileStamp();
  const have = store.version();
  // store versions only grow, so a file judged once against this store stays judged; an emptied
  // store (have === null) always takes the file again
  if (stored && have !== null && stored.version <= have && stored.size === seen.size && stored.sha256 === seen.sha256) {
    if (stored.mtimeMs !== seen.mtimeMs) store.setRosterFileStamp({ ...stored, mtimeMs: seen.mtimeMs });
    log?.info({ file: path, version: stored.version, have }, 'roster file unchanged since it was last read; not parsed again');
    return { outcome: 'unchanged', version: stored.version };
  }
  // the stamp is the hash of exactly the bytes parsed, even if the file changes meanwhile
  const doc = parse(bytes.toString('utf8'), path);
  const stamp: RosterFileStamp = { ...seen, version: doc.version };
  if (have === null || doc.version > have) {
    store.replace(doc, stamp);
    log?.info({ file: path, version: doc.version, workers: doc.workers.length }, 'roster file applied');
    return { outcome: 'applied', version: doc.version, workers: doc.workers.length };
  }
  store.setRosterFileStamp(stamp);
  log?.info({ file: path, version: doc.version, have }, 'roster file not newer than the stored roster; the stored one stays');
  return { outcome: 'not_newer', version: doc.version, have };
}

/** The file's bytes and its mtime (taken before reading: a later write shows as a changed mtime). */
function readWhole(path: string): { bytes: Buffer; mtimeMs: number } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const { mtimeMs } = fstatSync(fd);
    return { bytes: readFileSync(fd), mtimeMs };
  } catch (err) {
    throw new SitegateError('roster_unreadable', `cannot read roster ${path}: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
