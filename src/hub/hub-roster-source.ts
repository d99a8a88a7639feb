import type { RosterWorkerLike } from '../core/roster-message.js';
import type { RosterChanges, RosterSnapshotData, RosterSource } from './roster-publisher.js';
import type { RegistryStore } from './registry/registry-store.js';
import { rosterWorkerOf } from './registry/roster-worker.js';
import type { WorkerRecord } from './registry/worker-record.js';

/** A delta naming more workers than this goes out as a snapshot instead. */
const MAX_DELTA_CHANGES = 20_000;

/**
 * The registry as the roster publisher reads it: every worker as the gates see them, with the
 * templates of their ready face enrolments, and deltas built from the registry's change log.
 * Each read is one read transaction, so a version and the workers it names agree.
 */
export class RegistryRosterSource implements RosterSource {
  private readonly allDocs;

  constructor(private readonly registry: RegistryStore, private readonly siteId: string) {
    this.allDocs = registry.db.prepare('SELECT doc FROM workers ORDER BY worker_id');
  }

  version(): number {
    return this.registry.version();
  }

  snapshot(): RosterSnapshotData {
    return this.registry.db.transaction((): RosterSnapshotData => {
      const key = this.registry.siteKey();
      const workers = (this.allDocs.all() as { doc: string }[]).map((r) => withFaces(JSON.parse(r.doc) as WorkerRecord, key));
      return { version: this.registry.version(), siteId: this.siteId, siteKey: key, rules: this.registry.rules(), workers };
    })();
  }

  changesSince(version: number): RosterChanges | null {
    return this.registry.db.transaction((): RosterChanges | null => {
      const changes = this.registry.changesSince(version, MAX_DELTA_CHANGES + 1);
      if (changes.length > MAX_DELTA_CHANGES) return null;
      const current = this.registry.version();
      if (!changes.length) return { version: current, upserts: [], removes: [] };
      const key = this.registry.siteKey();
      const ids = [...new Set(changes.filter((c) => c.subject === 'worker' && c.workerId !== null).map((c) => c.workerId!))];
      const upserts: RosterWorkerLike[] = [];
      const removes: string[] = [];
      for (const id of ids) {
        const w = this.registry.get(id);
        if (w) upserts.push(withFaces(w, key));
        else removes.push(id);
      }
      return {
        version: changes[changes.length - 1].version,
        upserts,
        removes,
        ...(changes.some((c) => c.subject === 'rules') ? { rules: this.registry.rules() } : {}),
      };
    })();
  }
}

/** The roster worker plus the templates of its ready face enrolments (a new gate needs no re-enrolment). */
function withFaces(record: WorkerRecord, siteKey: Buffer): RosterWorkerLike {
  const worker: RosterWorkerLike = { ...rosterWorkerOf(record, siteKey) };
  const templates = record.credentials.faces.filter((f) => f.state === 'ready' && f.template).map((f) => f.template!);
  if (templates.length) worker.faceTemplates = templates;
  return worker;
}
