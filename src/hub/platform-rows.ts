import type { CredentialKind, JournalEntry, PunchEntry } from '../core/entries.js';
import type { RegistryWorker } from '../core/worker.js';
import type { PlatformRow } from './upload-queue.js';

export interface RowPolicy {
  rowsFrom: 'confirmed' | 'confirmed-or-timeout';
  attendTypes: Partial<Record<CredentialKind, string>>;
  location?: { lng: number; lat: number };
}

export type RowDecision =
  /** `row.timeMs` is the punch's time as the gate saw it: the caller corrects an unsynchronised one */
  | { kind: 'row'; row: PlatformRow; punch: PunchEntry }
  | { kind: 'skip'; reason: 'not_a_passage' | 'passage_not_counted' | 'punch_missing' | 'punch_denied' }
  | { kind: 'unknown_worker'; punchId: string };

/**
 * A platform row is a granted punch whose passage is confirmed (a site policy may add timeouts).
 * Denied attempts stay on the gate and hub and never become platform rows.
 */
export function platformRowFor(
  passage: JournalEntry,
  findPunch: (punchId: string) => PunchEntry | null,
  findWorker: (workerId: string) => RegistryWorker | undefined,
  policy: RowPolicy,
): RowDecision {
  if (passage.type !== 'passage') return { kind: 'skip', reason: 'not_a_passage' };
  const counted = passage.outcome === 'confirmed' || (policy.rowsFrom === 'confirmed-or-timeout' && passage.outcome === 'timeout');
  if (!counted) return { kind: 'skip', reason: 'passage_not_counted' };
  const punch = findPunch(passage.punchId);
  if (!punch) return { kind: 'skip', reason: 'punch_missing' };
  // a technician's manual open is journalled as a granted punch, but it is nobody's attendance
  if (punch.decision !== 'granted' || !punch.workerId || punch.credential.kind === 'manual') return { kind: 'skip', reason: 'punch_denied' };
  const worker = findWorker(punch.workerId);
  if (!worker) return { kind: 'unknown_worker', punchId: punch.punchId };
  const attendType = policy.attendTypes[punch.credential.kind];
  return {
    kind: 'row',
    row: {
      rowId: punch.punchId,
      gateId: punch.gateId,
      workerId: worker.workerId,
      projectCode: worker.projectCode,
      teamSysNo: worker.teamSysNo,
      idCardType: worker.idCardType,
      idNumber: worker.idNumber,
      timeMs: punch.time.ms,
      direction: punch.direction,
      channel: punch.lane,
      ...(attendType ? { attendType } : {}),
      ...(policy.location ? { lng: policy.location.lng, lat: policy.location.lat } : {}),
      credentialKind: punch.credential.kind,
    },
    punch,
  };
}
