import type { RosterWorkerLike } from '../core/roster-message.js';
import type { RosterInfo, RosterWorkerView } from '../control/views.js';
import type { RosterStore } from './roster/roster-store.js';

/** The technician's view of the gate's roster (`sitegate roster info|find`). */
export class GateRosterView {
  constructor(private readonly store: RosterStore) {}

  info(): RosterInfo {
    return { siteId: this.store.siteId(), version: this.store.version(), size: this.store.size(), credentials: this.store.credentialCounts() };
  }

  /** The worker with this id first, then workers whose name contains the query. */
  find(query: string, limit: number): RosterWorkerView[] {
    const out: RosterWorkerView[] = [];
    const exact = this.store.findWorker(query);
    if (exact) out.push(view(exact));
    for (const w of this.store.searchByName(query, limit + 1)) {
      if (w.workerId !== exact?.workerId) out.push(view(w));
    }
    return out.slice(0, limit);
  }
}

function view(w: RosterWorkerLike): RosterWorkerView {
  return {
    workerId: w.workerId,
    name: w.name,
    status: w.status,
    idValidTo: w.idValidTo ?? null,
    credentials: [...new Set(w.credentials.map((c) => c.kind))],
  };
}
