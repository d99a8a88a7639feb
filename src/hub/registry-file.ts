import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { registryPath } from './registry/registry-store.js';
import { systemClock, type Clock } from '../core/clock.js';
import { loadJsonFile } from '../config/load.js';
import { SitegateError } from '../core/errors.js';
import type { RegistryWorker } from '../core/worker.js';
import { parseImportFile, type ImportRow, type RowError } from './registry/import-file.js';
import { RegistryStore } from './registry/registry-store.js';
import { workerInputSchema } from './registry/worker-record.js';

/**
 * The workers file of hubs from before the registry database: just what platform rows need.
 * `registry.workersFile` may still name one; it is imported into the registry once.
 */
export const registrySchema = z.strictObject({
  workers: z.array(z.strictObject({
    workerId: z.string().min(1).max(64),
    name: z.string().max(64),
    idCardType: z.string().default('01'),
    idNumber: z.string().regex(/^\d{17}[\dX]$/, 'must be an 18-character resident ID number'),
    projectCode: z.string().min(1),
    teamSysNo: z.number().int(),
  })),
});

/**
 * Reads a workers file of the older form. The daily report still reads it for names; it should
 * read the registry database instead (readRegistryWorkers).
 */
export function readRegistryFile(path: string | undefined): Map<string, RegistryWorker> {
  if (path === undefined) throw new SitegateError('registry_file_unset', 'registry.workersFile is not set: workers live in the registry database');
  const doc = loadJsonFile(registrySchema, path, 'registry');
  return new Map(doc.workers.map((w) => [w.workerId, w]));
}

/** Every worker of the hub's registry database as platform rows and reports need them (empty when there is none yet). */
export function readRegistryWorkers(stateDir: string, clock: Clock = systemClock): Map<string, RegistryWorker> {
  const path = registryPath(stateDir);
  const out = new Map<string, RegistryWorker>();
  if (!existsSync(path)) return out;
  const store = new RegistryStore(path, clock);
  try {
    for (const w of store.list()) {
      const r = store.registryWorker(w.workerId);
      if (r) out.set(w.workerId, r);
    }
  } finally {
    store.close();
  }
  return out;
}

export interface WorkersFileImport {
  /** false: this very content was imported before (nothing done) */
  imported: boolean;
  sha256: string;
  format: 'csv' | 'json' | 'legacy-json';
  added: number;
  updated: number;
  unchanged: number;
  rejected: RowError[];
  /** registry version afterwards */
  version: number;
}

/** Placeholders for what an older workers file never held (the operator completes them with an import). */
const NOT_GIVEN = '(not given)';

/**
 * Imports `path` into the registry unless this very content (by SHA-256) was imported before, so
 * a hub that starts with the same file every time imports it once and later edits made with
 * `sitegate hub workers …` stand. Takes what `sitegate hub workers import` takes (CSV, JSON) and
 * the older `{ workers: [...] }` list, whose missing employer and trade are marked "(not given)"
 * and whose ID validity is taken as 长期. Rows that fail are reported; the good ones go in.
 */
export function importWorkersFileOnce(registry: RegistryStore, path: string, clock: Clock): WorkersFileImport {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new SitegateError('registry_file_unreadable', `cannot read registry.workersFile ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const db = registry.db;
  db.exec('CREATE TABLE IF NOT EXISTS hub_imported_files (sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, at_ms INTEGER NOT NULL, version INTEGER NOT NULL)');
  const before = db.prepare('SELECT version FROM hub_imported_files WHERE sha256 = ?').get(sha256) as { version: number } | undefined;
  if (before) {
    return { imported: false, sha256, format: 'json', added: 0, updated: 0, unchanged: 0, rejected: [], version: registry.version() };
  }
  const legacy = legacyRows(bytes);
  const parsed = legacy ? { format: 'legacy-json' as const, ...legacy } : parseImportFile(bytes, path);
  const result = registry.importRows(parsed.rows);
  db.prepare('INSERT OR REPLACE INTO hub_imported_files (sha256, path, at_ms, version) VALUES (?, ?, ?, ?)').run(sha256, path, clock.now(), result.version);
  return {
    imported: true,
    sha256,
    format: parsed.format,
    added: result.added.length,
    updated: result.updated.length,
    unchanged: result.unchanged.length,
    rejected: [...parsed.errors, ...result.rejected].sort((a, b) => a.row - b.row),
    version: result.version,
  };
}

/** The older `{ workers: [{ workerId, name, idNumber, … }] }` form, row by row; null when the file is not one. */
function legacyRows(bytes: Buffer): { rows: ImportRow[]; errors: RowError[] } | null {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return null;
  }
  const list = (doc as { workers?: unknown })?.workers;
  if (!Array.isArray(list) || list.some((w) => typeof w !== 'object' || w === null || 'identity' in w)) return null;
  const rowSchema = registrySchema.shape.workers.element;
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  list.forEach((raw, i) => {
    const row = i + 1;
    const name = typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : undefined;
    const old = rowSchema.safeParse(raw);
    if (!old.success) {
      const issue = old.error.issues[0];
      errors.push({ row, field: issue.path.join('.') || '(row)', message: issue.message, name });
      return;
    }
    const w = old.data;
    const input = workerInputSchema.safeParse({
      workerId: w.workerId,
      identity: { name: w.name, idType: w.idCardType, idNumber: w.idNumber, idValidTo: '长期' },
      employment: { employer: NOT_GIVEN, team: `team ${w.teamSysNo}`, teamSysNo: w.teamSysNo, projectCode: w.projectCode, trade: NOT_GIVEN },
    });
    if (!input.success) {
      const issue = input.error.issues[0];
      errors.push({ row, field: issue.path.join('.'), message: issue.message, name });
      return;
    }
    rows.push({ row, input: input.data });
  });
  return { rows, errors };
}
