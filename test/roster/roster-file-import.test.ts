import { createHash } from 'node:crypto';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { importRosterFile } from '../../src/gate/roster/roster-file-import.js';
import { parseRosterText, readRosterFile, type RosterDocument } from '../../src/gate/roster/roster-file.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { cardHmac, SITE, SITE_KEY, tempDir, worker } from './helpers.js';

// The roster file at gate start: a file with the same bytes as the one last read into the store
// is not parsed again; anything else is parsed and applied (when newer) as it always was.
const dir = await tempDir();
afterAll(() => dir.remove());
let seq = 0;

function doc(version: number, workers = 5): RosterDocument {
  return { version, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: Array.from({ length: workers }, (_, i) => worker(i)) };
}

/** A store and a roster file, and importRosterFile with a parser that counts its calls. */
function setup() {
  const n = seq++;
  const file = join(dir.path, `roster-${n}.json`);
  const dbPath = join(dir.path, `roster-${n}.db`);
  const store = new RosterStore(dbPath);
  let parses = 0;
  const load = () =>
    importRosterFile(store, file, {
      parse: (text, p) => {
        parses++;
        return parseRosterText(text, p);
      },
    });
  return { file, dbPath, store, load, parses: () => parses };
}

function thrown(f: () => unknown): SitegateError {
  try {
    f();
  } catch (err) {
    return err as SitegateError;
  }
  throw new Error('expected an error');
}

describe('roster file at gate start', () => {
  it('applies a file into an empty store and remembers its size, mtime and SHA-256', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    expect(s.load()).toEqual({ outcome: 'applied', version: 1, workers: 5 });
    expect(s.parses()).toBe(1);
    expect(s.store.size()).toBe(5);
    const st = statSync(s.file);
    expect(s.store.rosterFileStamp()).toEqual({
      size: st.size,
      mtimeMs: st.mtimeMs,
      sha256: createHash('sha256').update(readFileSync(s.file)).digest('hex'),
      version: 1,
    });
    s.store.close();
  });

  it('does not parse an unchanged file again, across a restart of the store, nor a file only touched', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    s.load();
    expect(s.load()).toEqual({ outcome: 'unchanged', version: 1 });
    s.store.close();
    const again = new RosterStore(s.dbPath);
    const parse = (_text: string, p: string): never => {
      throw new Error(`parsed ${p}`);
    };
    expect(importRosterFile(again, s.file, { parse })).toEqual({ outcome: 'unchanged', version: 1 });
    const later = new Date(Date.now() + 60_000);
    utimesSync(s.file, later, later);
    expect(importRosterFile(again, s.file, { parse })).toEqual({ outcome: 'unchanged', version: 1 });
    expect(again.rosterFileStamp()!.mtimeMs).toBe(statSync(s.file).mtimeMs);
    expect(again.version()).toBe(1);
    expect(again.size()).toBe(5);
    again.close();
  });

  it('parses and applies a changed file', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    s.load();
    writeFileSync(s.file, JSON.stringify(doc(2, 8)));
    expect(s.load()).toEqual({ outcome: 'applied', version: 2, workers: 8 });
    expect(s.parses()).toBe(2);
    expect(s.store.findByCredential('card', cardHmac('card-7'))?.workerId).toBe('W000007');
    expect(s.load()).toEqual({ outcome: 'unchanged', version: 2 });
    expect(s.parses()).toBe(2);
    s.store.close();
  });

  it('detects a file rewritten in place with the same size and mtime by its hash', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(2)));
    const t = Math.floor(Date.now() / 1000) - 3600; // whole seconds: utimes keeps them exactly
    utimesSync(s.file, t, t);
    s.load();
    const before = statSync(s.file);
    const next = JSON.stringify(doc(3, 5)).replace('"name":"工人4"', '"name":"工人X"');
    expect(Buffer.byteLength(next)).toBe(before.size);
    writeFileSync(s.file, next);
    utimesSync(s.file, t, t);
    const after = statSync(s.file);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    expect(s.load()).toEqual({ outcome: 'applied', version: 3, workers: 5 });
    expect(s.parses()).toBe(2);
    expect(s.store.findWorker('W000004')?.name).toBe('工人X');
    s.store.close();
  });

  it('parses the bytes it hashed: a file rewritten while it is parsed is parsed again at the next start', () => {
    const s = setup();
    const first = JSON.stringify(doc(1));
    writeFileSync(s.file, first);
    let parsed = '';
    const rewriteWhileParsing = (text: string, p: string) => {
      parsed = text;
      writeFileSync(p, JSON.stringify(doc(2, 7)));
      return parseRosterText(text, p);
    };
    expect(importRosterFile(s.store, s.file, { parse: rewriteWhileParsing })).toEqual({ outcome: 'applied', version: 1, workers: 5 });
    expect(parsed).toBe(first);
    expect(s.store.rosterFileStamp()).toMatchObject({ size: Buffer.byteLength(first), sha256: createHash('sha256').update(first).digest('hex'), version: 1 });
    expect(s.load()).toEqual({ outcome: 'applied', version: 2, workers: 7 });
    expect(s.parses()).toBe(1);
    s.store.close();
  });

  it('a file older than the stored roster is parsed once, kept out, and not parsed again while unchanged', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    s.load();
    // the hub moved the roster on
    s.store.applyDelta({ siteId: SITE, fromVersion: 1, version: 10, upserts: [worker(40)], removes: [] });
    expect(s.load()).toEqual({ outcome: 'unchanged', version: 1 });
    writeFileSync(s.file, JSON.stringify(doc(4, 2)));
    expect(s.load()).toEqual({ outcome: 'not_newer', version: 4, have: 10 });
    expect(s.parses()).toBe(2);
    expect(s.load()).toEqual({ outcome: 'unchanged', version: 4 });
    expect(s.parses()).toBe(2);
    expect(s.store.version()).toBe(10);
    expect(s.store.size()).toBe(6);
    s.store.close();
  });

  it('a store that lost its roster takes the unchanged file again', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    s.load();
    s.store.close();
    const db = new Database(s.dbPath);
    db.exec("DELETE FROM roster_meta WHERE key = 'version'; DELETE FROM workers; DELETE FROM credentials;");
    db.close();
    const again = new RosterStore(s.dbPath);
    expect(importRosterFile(again, s.file)).toEqual({ outcome: 'applied', version: 1, workers: 5 });
    expect(again.size()).toBe(5);
    again.close();
  });

  it('a corrupt, invalid or missing file gives the same error as ever and leaves the store and its stamp alone', () => {
    const s = setup();
    writeFileSync(s.file, JSON.stringify(doc(1)));
    s.load();
    const stamp = s.store.rosterFileStamp();
    const cases = [
      () => writeFileSync(s.file, '{"version": 2, "siteId": '),
      () => writeFileSync(s.file, JSON.stringify({ ...doc(2), siteKey: 'not hex' })),
      () => writeFileSync(s.file, JSON.stringify({ ...doc(2), workers: [{ workerId: 'W1' }] })),
    ];
    for (const write of cases) {
      write();
      const expected = thrown(() => readRosterFile(s.file));
      const got = thrown(() => s.load());
      expect(got).toBeInstanceOf(SitegateError);
      expect({ code: got.code, message: got.message }).toEqual({ code: expected.code, message: expected.message });
      expect(got.code).toMatch(/^roster_(unreadable|invalid)$/);
      expect(got.message).toContain(s.file);
      expect(s.store.version()).toBe(1);
      expect(s.store.size()).toBe(5);
      expect(s.store.rosterFileStamp()).toEqual(stamp);
    }
    const missing = join(dir.path, 'no-such-roster.json');
    const expected = thrown(() => readRosterFile(missing));
    expect(thrown(() => importRosterFile(s.store, missing)).message).toBe(expected.message);
    s.store.close();
  });
});
