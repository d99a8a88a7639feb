import { z } from 'zod';

/**
 * Retained status documents. The LWT of each publisher is `{"online":false}` on the same topic,
 * so `online` is the one field every status has.
 */

/** A lane's mode: normal operation, locked down by an operator, or opened once right now. */
export const LANE_MODES = ['normal', 'lockdown', 'open'] as const;

/** What a gate publishes, retained, on `gate/<gateId>/status` (the gate fills it; the hub and HA read it). */
export const gateStatusSchema = z.object({
  online: z.boolean(),
  atMs: z.number().int().optional(),
  /** lane → its mode; a lock entity per lane in Home Assistant */
  lanes: z.record(z.string(), z.strictObject({ mode: z.enum(LANE_MODES) })).optional(),
  fireAlarm: z.boolean().optional(),
  /** true while any fault is active (HA binary sensor) */
  fault: z.boolean().optional(),
  faults: z.array(z.string().max(200)).max(50).optional(),
  /** journal entries not yet acknowledged by the hub */
  unacked: z.number().int().min(0).optional(),
  certNotAfterMs: z.number().int().optional(),
  rosterVersion: z.number().int().optional(),
});
export type GateStatus = z.infer<typeof gateStatusSchema>;

export interface HubPlatformError {
  kind: string;
  code: number | null;
  message: string;
  atMs: number;
}

/** What the hub publishes, retained, on `hub/status`. */
export interface HubStatus {
  online: true;
  atMs: number;
  mode: 'auto' | 'joint-test';
  profile: string;
  /** true while a fault stops platform calls (HA binary sensor) */
  faulted: boolean;
  queue: { pending: number; inFlight: number; delivered: number; rejected: number };
  /** punch time of the oldest row still waiting for the platform, or null */
  oldestWaitingMs: number | null;
  lastUploadMs: number | null;
  lastPlatformError: HubPlatformError | null;
  faults: HubPlatformError[];
  pacer: { requestsToday: number; dailyBudget: number | null; haltedReason: string | null; nextAllowedMs: number | null };
  /** the most recent rejected rows, ID numbers masked */
  rejected: { rowId: string; workerId: string; teamSysNo: number; reason: string; idNumberMasked: string }[];
  gates: { gateId: string; online: boolean | null; certNotAfterMs: number; certDaysLeft: number }[];
  /** earliest certificate expiry among the pinned gates */
  certExpiryMs: number | null;
  securityToken: { fingerprint: string | null; installedMs: number | null } | null;
  ingest: Record<string, number>;
}
