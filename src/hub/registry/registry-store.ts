import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import { SitegateError } from '../../core/errors.js';
import { shanghaiDate } from '../../core/shanghai-time.js';
import { DEFAULT_SITE_RULES, siteRulesSchema, type SiteRules, type SiteRulesInput } from '../../core/site-rules.js';
import type { RegistryWorker, RosterWorker, SiteStatus } from '../../core/worker.js';
import { normalizeCardUid, normalizeWiegand } from './credential-numbers.js';
import type { ImportRow, RowError } from './import-file.js';
import { registryWorkerOf, rosterWorkerOf } from './roster-worker.js';

/** Where the hub keeps its registry database. */
export function registryPath(stateDir: string): string {
  return join(stateDir, 'registry.db');
}
import type { FaceEnrolment, WorkerInput, WorkerRecord } from './worker-record.js';

/** What one registry version changed: a roster delta is built from the rows after a version. */
export interface RegistryChange {
  version: number;
  atMs: number;
  subject: 'worker' | 'rules';
  workerId: string | null;
  action: ChangeAction;
}

export type ChangeAction =
  | 'added' | 'updated' | 'entered' | 'left' | 'blocked' | 'unblocked' | 'card_bound' | 'face_enrolled' | 'face_template' | 'rules';

export interface ImportResult {
  /** registry version after the import */
  version: number;
  added: { row: number; workerId: string }[];
  updated: { row: number; workerId: string }[];
  unchanged: { row: number; workerId: string }[];
  /** rows refused by the registry itself (e.g. a workerId already used by someone else) */
  rejected: RowError[];
}

/** An enrolment asked of a gate (capture-face): the hub stores a gate's answer only for one of these. */
export interface FaceCaptureRequest {
  requestId: string;
  workerId: string;
  gateId: string;
  createdMs: number;
  expiresMs: number;
  state: 'waiting' | 'done';
  /** how it ended (mqtt/enrol.ts ENROL_RESULT_CODES) */
  code: string | null;
  message: string | null;
  faceId: string | null;
}

export interface WorkerSummary {
  workerId: string;
  name: string;
  idType: string;
  idNumber: string;
  status: SiteStatus;
  team: string;
  trade: string;
  cards: number;
  faces: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    id_type TEXT NOT NULL,
    id_number TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    team TEXT NOT NULL,
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    UNIQUE (id_type, id_number)
  );
  CREATE INDEX IF NOT EXISTS workers_version ON workers (version);
  CREATE TABLE IF NOT EXISTS credentials (
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    worker_id TEXT NOT NULL REFERENCES workers (worker_id),
    PRIMARY KEY (kind, number)
  );
  CREATE TABLE IF NOT EXISTS face_requests (
    request_id TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    code TEXT,
    message TEXT,
    face_id TEXT
  );
  CREATE TABLE IF NOT EXISTS changes (
    version INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    subject TEXT NOT NULL,
    worker_id TEXT,
    action TEXT NOT NULL
  );
`;

/**
 * The hub's worker registry in SQLite (WAL). Every change is one transaction that bumps the
 * registry version and records what changed, so a roster delta from any earlier version can be
 * built. The site key that turns credential numbers into HMACs is made here on first open and
 * never leaves except inside the roster.
 */
export class RegistryStore {
  readonly db: Database.Database;
  private readonly stmt;

  constructor(path: string, private readonly clock: Clock) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.stmt = {
      meta: this.db.prepare('SELECT value FROM registry_meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO registry_meta (key, value) VALUES (?, ?)'),
      byId: this.db.prepare('SELECT doc FROM workers WHERE worker_id = ?'),
      byIdNumber: this.db.prepare('SELECT doc FROM workers WHERE id_type = ? AND id_number = ?'),
      byIdNumberAnyType: this.db.prepare('SELECT doc FROM workers WHERE id_number = ?'),
      insert: this.db.prepare('INSERT INTO workers (worker_id, id_type, id_number, name, status, team, doc, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      update: this.db.prepare('UPDATE workers SET id_type = ?, id_number = ?, name = ?, status = ?, team = ?, doc = ?, version = ? WHERE worker_id = ?'),
      change: this.db.prepare('INSERT INTO changes (version, at_ms, subject, worker_id, action) VALUES (?, ?, ?, ?, ?)'),
      credOwner: this.db.prepare('SELECT worker_id FROM credentials WHERE kind = ? AND number = ?'),
      bindCred: this.db.prepare('INSERT INTO credentials (kind, number, worker_id) VALUES (?, ?, ?)'),
      changesSince: this.db.prepare('SELECT version, at_ms, subject, worker_id, action FROM changes WHERE version > ? ORDER BY version LIMIT ?'),
      all: this.db.prepare('SELECT doc FROM workers ORDER BY worker_id'),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM workers'),
      addRequest: this.db.prepare("INSERT INTO face_requests (request_id, worker_id, gate_id, created_ms, expires_ms, state) VALUES (?, ?, ?, ?, ?, 'waiting')"),
      request: this.db.prepare('SELECT * FROM face_requests WHERE request_id = ?'),
      closeRequest: this.db.prepare("UPDATE face_requests SET state = 'done', code = ?, message = ?, face_id = ? WHERE request_id = ?"),
      pruneRequests: this.db.prepare('DELETE FROM face_requests WHERE created_ms < ?'),
    };
    this.db.transaction(() => {
      if (!this.stmt.meta.get('siteKey')) this.stmt.setMeta.run('siteKey', randomBytes(32).toString('hex'));
      if (!this.stmt.meta.get('version')) this.stmt.setMeta.run('version', '0');
    })();
  }

  /** The registry version: bumped by every change. */
  version(): number {
    return Number(this.meta('version'));
  }

  /** The key credential numbers are HMAC'd with. Secret: never log or print it. */
  siteKey(): Buffer {
    return Buffer.from(this.meta('siteKey')!, 'hex');
  }

  rules(): SiteRules {
    const raw = this.meta('rules');
    return raw ? siteRulesSchema.parse(JSON.parse(raw)) : DEFAULT_SITE_RULES;
  }

  /** Replaces the site's rules; they reach the gates with the next roster version. */
  setRules(input: SiteRulesInput): number {
    const rules = siteRulesSchema.parse(input);
    return this.db.transaction(() => {
      this.stmt.setMeta.run('rules', JSON.stringify(rules));
      return this.bump('rules', null, 'rules');
    })();
  }

  /** Makes the stored rules equal the configured ones (hub start); a new version only when they differ. */
  syncRules(input: SiteRulesInput): number {
    const rules = siteRulesSchema.parse(input);
    return JSON.stringify(rules) === JSON.stringify(this.rules()) ? this.version() : this.setRules(rules);
  }

  count(): number {
    return (this.stmt.count.get() as { n: number }).n;
  }

  get(workerId: string): WorkerRecord | null {
    return docOf(this.stmt.byId.get(workerId));
  }

  /** By workerId, or by ID number (any ID type). */
  find(ref: string): WorkerRecord | null {
    return this.get(ref) ?? docOf(this.stmt.byIdNumberAnyType.get(ref.trim().toUpperCase()));
  }

  list(filter: { status?: SiteStatus; team?: string } = {}): WorkerSummary[] {
    const out: WorkerSummary[] = [];
    for (const r of this.stmt.all.iterate() as Iterable<{ doc: string }>) {
      const w = JSON.parse(r.doc) as WorkerRecord;
      if (filter.status && w.site.status !== filter.status) continue;
      if (filter.team && w.employment.team !== filter.team) continue;
      out.push({
        workerId: w.workerId, name: w.identity.name, idType: w.identity.idType, idNumber: w.identity.idNumber, status: w.site.status,
        team: w.employment.team, trade: w.employment.trade, cards: w.credentials.cards.length + w.credentials.wiegand.length, faces: w.credentials.faces.length,
      });
    }
    return out;
  }

  /**
   * Imports validated rows in one transaction: a new ID number adds a worker, a known one updates
   * identity, employment and certificates (site status and credentials stay). A row the registry
   * refuses is reported and skipped whole; nothing else is half-written.
   */
  importRows(rows: readonly ImportRow[]): ImportResult {
    const result: ImportResult = { version: 0, added: [], updated: [], unchanged: [], rejected: [] };
    this.db.transaction(() => {
      for (const { row, input } of rows) {
        const existing = docOf(this.stmt.byIdNumber.get(input.identity.idType, input.identity.idNumber));
        if (existing) {
          if (input.workerId !== undefined && input.workerId !== existing.workerId) {
            result.rejected.push({ row, field: 'workerId', message: `this ID number is already registered as ${existing.workerId}`, name: input.identity.name });
            continue;
          }
          const merged = mergeImport(existing, input);
          if (sameImportedParts(existing, merged)) {
            result.unchanged.push({ row, workerId: existing.workerId });
            continue;
          }
          merged.updatedAtMs = this.clock.now();
          this.write(merged, 'updated');
          result.updated.push({ row, workerId: existing.workerId });
        } else {
          if (input.workerId !== undefined && this.get(input.workerId)) {
            result.rejected.push({ row, field: 'workerId', message: `${input.workerId} is already used by another worker`, name: input.identity.name });
            continue;
          }
          const record = this.newRecord(input.workerId ?? this.nextWorkerId(), input);
          this.write(record, 'added', true);
          result.added.push({ row, workerId: record.workerId });
        }
      }
      result.version = this.version();
    })();
    return result;
  }

  /** Marks the worker as entered on this site (进场) from `day` (Shanghai; default today). */
  enter(ref: string, day?: string): WorkerRecord {
    return this.edit(ref, 'entered', (w) => {
      refuseBlocked(w, 'enter');
      if (w.site.status === 'entered') throw new SitegateError('worker_state', `${w.workerId} is already entered (since ${w.site.enteredOn})`);
      w.site = { ...w.site, status: 'entered', enteredOn: day ?? this.today(), leftOn: null };
    });
  }

  /** Marks the worker as having left this site (退场) on `day` (Shanghai; default today). */
  leave(ref: string, day?: string): WorkerRecord {
    return this.edit(ref, 'left', (w) => {
      refuseBlocked(w, 'leave');
      if (w.site.status !== 'entered') throw new SitegateError('worker_state', `${w.workerId} is not entered on this site (status ${w.site.status})`);
      w.site = { ...w.site, status: 'left', leftOn: day ?? this.today() };
    });
  }

  /** Blacklists or suspends a worker; the reason is kept and shown to operators. */
  block(ref: string, kind: 'blacklisted' | 'suspended', reason: string, day?: string): WorkerRecord {
    if (!reason.trim()) throw new SitegateError('usage', 'a block needs a reason');
    return this.edit(ref, 'blocked', (w) => {
      const before = isBlocked(w.site.status) ? w.site.statusBefore : w.site.status;
      w.site = { ...w.site, status: kind, blockedOn: day ?? this.today(), reason: reason.trim(), statusBefore: before };
    });
  }

  /** Lifts a block: the worker returns to the status they had before it. */
  unblock(ref: string): WorkerRecord {
    return this.edit(ref, 'unblocked', (w) => {
      if (!isBlocked(w.site.status)) throw new SitegateError('worker_state', `${w.workerId} is not blocked (status ${w.site.status})`);
      w.site = { ...w.site, status: w.site.statusBefore ?? 'registered', blockedOn: null, reason: null, statusBefore: undefined };
    });
  }

  /** Binds an IC card UID or a Wiegand number; a number bound to someone else is refused. */
  bindCard(ref: string, kind: 'card' | 'wiegand', raw: string): { record: WorkerRecord; alreadyBound: boolean } {
    const number = kind === 'card' ? normalizeCardUid(raw) : normalizeWiegand(raw);
    return this.db.transaction(() => {
      const w = this.mustFind(ref);
      const owner = (this.stmt.credOwner.get(kind, number) as { worker_id: string } | undefined)?.worker_id;
      if (owner === w.workerId) return { record: w, alreadyBound: true };
      if (owner) throw new SitegateError('credential_in_use', `this ${kind === 'card' ? 'card' : 'Wiegand number'} is already bound to ${owner}`);
      const list = kind === 'card' ? w.credentials.cards : w.credentials.wiegand;
      list.push({ number, boundAtMs: this.clock.now() });
      this.stmt.bindCred.run(kind, number, w.workerId);
      w.updatedAtMs = this.clock.now();
      this.write(w, 'card_bound');
      return { record: w, alreadyBound: false };
    })();
  }

  /**
   * Records an enrolment photo (already stored under the state directory): with its template when
   * the face pipeline has made it (one version, reaching the gates with the next roster delta),
   * otherwise pending, for pendingFaces() and setFaceTemplate(). The same photo again is the same
   * enrolment (given a template now, it becomes ready).
   */
  enrolFace(ref: string, photo: { photoRef: string; photoSha256: string }, ready?: { template: Buffer; modelId: string }): { record: WorkerRecord; face: FaceEnrolment } {
    return this.db.transaction(() => {
      const w = this.mustFind(ref);
      const same = w.credentials.faces.find((f) => f.photoSha256 === photo.photoSha256);
      if (same && (!ready || (same.state === 'ready' && same.template === ready.template.toString('base64')))) return { record: w, face: same };
      const face: FaceEnrolment = same ?? {
        faceId: nextFaceId(w),
        photoRef: photo.photoRef,
        photoSha256: photo.photoSha256,
        state: 'pending',
        modelId: null,
        template: null,
        note: null,
        enrolledAtMs: this.clock.now(),
      };
      if (ready) Object.assign(face, { state: 'ready', template: ready.template.toString('base64'), modelId: ready.modelId, note: null });
      if (!same) w.credentials.faces.push(face);
      w.updatedAtMs = this.clock.now();
      this.write(w, same ? 'face_template' : 'face_enrolled');
      return { record: w, face };
    })();
  }

  /** Notes that a gate was asked to capture this worker's face; its answer is stored only while this waits. */
  requestFaceCapture(ref: string, gateId: string, requestId: string, expiresMs: number): WorkerRecord {
    return this.db.transaction(() => {
      const w = this.mustFind(ref);
      // requests of more than a week ago are of no use to anyone
      this.stmt.pruneRequests.run(this.clock.now() - 7 * 86_400_000);
      this.stmt.addRequest.run(requestId, w.workerId, gateId, this.clock.now(), expiresMs);
      return w;
    })();
  }

  faceCaptureRequest(requestId: string): FaceCaptureRequest | null {
    const r = this.stmt.request.get(requestId) as
      | { request_id: string; worker_id: string; gate_id: string; created_ms: number; expires_ms: number; state: 'waiting' | 'done'; code: string | null; message: string | null; face_id: string | null }
      | undefined;
    return r
      ? { requestId: r.request_id, workerId: r.worker_id, gateId: r.gate_id, createdMs: r.created_ms, expiresMs: r.expires_ms, state: r.state, code: r.code, message: r.message, faceId: r.face_id }
      : null;
  }

  /** Ends a capture request with what became of it; a later answer for it is not stored. */
  closeFaceCapture(requestId: string, outcome: { code: string; message: string; faceId?: string | null }): void {
    this.stmt.closeRequest.run(outcome.code, outcome.message, outcome.faceId ?? null, requestId);
  }

  /** Enrolment photos still waiting for a template (the face pipeline's work list). */
  pendingFaces(): { workerId: string; faceId: string; photoRef: string }[] {
    const out: { workerId: string; faceId: string; photoRef: string }[] = [];
    for (const r of this.stmt.all.iterate() as Iterable<{ doc: string }>) {
      const w = JSON.parse(r.doc) as WorkerRecord;
      for (const f of w.credentials.faces) if (f.state === 'pending') out.push({ workerId: w.workerId, faceId: f.faceId, photoRef: f.photoRef });
    }
    return out;
  }

  /** The face pipeline's answer for one enrolment: a template, or why none could be made. */
  setFaceTemplate(workerId: string, faceId: string, outcome: { template: Buffer; modelId: string } | { failed: string }): WorkerRecord {
    return this.edit(workerId, 'face_template', (w) => {
      const f = w.credentials.faces.find((x) => x.faceId === faceId);
      if (!f) throw new SitegateError('face_not_found', `${workerId} has no face enrolment ${faceId}`);
      if ('failed' in outcome) Object.assign(f, { state: 'failed', template: null, modelId: null, note: outcome.failed });
      else Object.assign(f, { state: 'ready', template: outcome.template.toString('base64'), modelId: outcome.modelId, note: null });
    });
  }

  changesSince(version: number, limit = 10_000): RegistryChange[] {
    return (this.stmt.changesSince.all(version, limit) as { version: number; at_ms: number; subject: 'worker' | 'rules'; worker_id: string | null; action: ChangeAction }[])
      .map((r) => ({ version: r.version, atMs: r.at_ms, subject: r.subject, workerId: r.worker_id, action: r.action }));
  }

  rosterWorker(workerId: string): RosterWorker | null {
    const w = this.get(workerId);
    return w ? rosterWorkerOf(w, this.siteKey()) : null;
  }

  /** Every worker as the gates see them, with the rules and the version they belong to (one read transaction). */
  rosterSnapshot(): { version: number; rules: SiteRules; workers: RosterWorker[] } {
    return this.db.transaction(() => {
      const key = this.siteKey();
      const workers = (this.stmt.all.all() as { doc: string }[]).map((r) => rosterWorkerOf(JSON.parse(r.doc) as WorkerRecord, key));
      return { version: this.version(), rules: this.rules(), workers };
    })();
  }

  registryWorker(workerId: string): RegistryWorker | undefined {
    const w = this.get(workerId);
    return w ? registryWorkerOf(w) : undefined;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private meta(key: string): string | undefined {
    return (this.stmt.meta.get(key) as { value: string } | undefined)?.value;
  }

  private today(): string {
    return shanghaiDate(this.clock.now());
  }

  private mustFind(ref: string): WorkerRecord {
    const w = this.find(ref);
    if (!w) throw new SitegateError('worker_not_found', `no worker ${/^\d{17}[\dX]$/i.test(ref.trim()) ? 'with that ID number' : `"${ref}"`} in the registry`);
    return w;
  }

  private edit(ref: string, action: ChangeAction, change: (w: WorkerRecord) => void): WorkerRecord {
    return this.db.transaction(() => {
      const w = this.mustFind(ref);
      change(w);
      w.site.changedAtMs = this.clock.now();
      w.updatedAtMs = this.clock.now();
      this.write(w, action);
      return w;
    })();
  }

  private bump(subject: 'worker' | 'rules', workerId: string | null, action: ChangeAction): number {
    const version = this.version() + 1;
    this.stmt.change.run(version, this.clock.now(), subject, workerId, action);
    this.stmt.setMeta.run('version', String(version));
    return version;
  }

  private write(w: WorkerRecord, action: ChangeAction, insert = false): void {
    const version = this.bump('worker', w.workerId, action);
    const doc = JSON.stringify(w);
    const id = w.identity;
    if (insert) this.stmt.insert.run(w.workerId, id.idType, id.idNumber, id.name, w.site.status, w.employment.team, doc, version);
    else this.stmt.update.run(id.idType, id.idNumber, id.name, w.site.status, w.employment.team, doc, version, w.workerId);
  }

  private nextWorkerId(): string {
    let n = Number(this.meta('nextWorker') ?? '1');
    while (this.get(`W${String(n).padStart(6, '0')}`)) n++;
    this.stmt.setMeta.run('nextWorker', String(n + 1));
    return `W${String(n).padStart(6, '0')}`;
  }

  private newRecord(workerId: string, input: WorkerInput): WorkerRecord {
    const now = this.clock.now();
    const { workerId: _ignored, ...rest } = input;
    return {
      ...rest,
      workerId,
      site: { status: 'registered', enteredOn: null, leftOn: null, blockedOn: null, reason: null, changedAtMs: now },
      credentials: { cards: [], wiegand: [], idCard: input.identity.idType === '01', faces: [] },
      createdAtMs: now,
      updatedAtMs: now,
    };
  }
}

/** F1, F2…: one past the highest number used, so an id is never reused. */
function nextFaceId(w: WorkerRecord): string {
  const n = Math.max(0, ...w.credentials.faces.map((f) => Number(/-F(\d+)$/.exec(f.faceId)?.[1] ?? 0)));
  return `${w.workerId}-F${n + 1}`;
}

function docOf(row: unknown): WorkerRecord | null {
  return row ? (JSON.parse((row as { doc: string }).doc) as WorkerRecord) : null;
}

function isBlocked(s: SiteStatus): s is 'blacklisted' | 'suspended' {
  return s === 'blacklisted' || s === 'suspended';
}

function refuseBlocked(w: WorkerRecord, what: string): void {
  if (isBlocked(w.site.status)) {
    throw new SitegateError('worker_blocked', `${w.workerId} is ${w.site.status} (${w.site.reason ?? 'no reason given'}): lift the block before ${what}`);
  }
}

/**
 * An import replaces identity and employment; certificates and history entries are matched by
 * number (a new number is added, a known one replaced, none removed), so a file without
 * certificate columns never erases certificates.
 */
function mergeImport(existing: WorkerRecord, input: WorkerInput): WorkerRecord {
  const certs = [...existing.certificates];
  for (const c of input.certificates) {
    const i = certs.findIndex((x) => x.number === c.number);
    if (i >= 0) certs[i] = c;
    else certs.push(c);
  }
  return {
    ...structuredClone(existing),
    identity: { ...input.identity, photoRef: input.identity.photoRef ?? existing.identity.photoRef },
    employment: input.employment,
    certificates: certs,
    history: input.history ?? existing.history,
  };
}

function sameImportedParts(a: WorkerRecord, b: WorkerRecord): boolean {
  const pick = (w: WorkerRecord) => JSON.stringify([sorted(w.identity), sorted(w.employment), w.certificates.map(sorted), w.history ?? null]);
  return pick(a) === pick(b);
}

function sorted(o: object): [string, unknown][] {
  return Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b));
}
