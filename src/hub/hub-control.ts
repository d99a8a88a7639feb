import { readFileSync } from 'node:fs';
import type { FaultView, HubStatusView } from '../control/views.js';
import type { HealthResult } from '../daemon/health.js';
import type { HubStatus } from '../mqtt/status.js';

/** What the control socket's status is made of, as the hub knows it. */
export interface HubViewInput {
  siteId: string;
  uptimeS: number;
  health: HealthResult;
  brokerConnected: boolean;
  status: HubStatus;
  lastSeenMs: ReadonlyMap<string, number>;
  rowsHeld: { clock: number; photo: number };
}

/**
 * The hub's answer to `sitegate status`: one screen for the technician, built from the same
 * status the hub publishes retained. ok: nothing wrong; degraded: the hub takes and holds
 * punches but something needs the operator (a halted platform, a gate refused for its epoch,
 * the broker away); fault: the hub's database does not answer.
 */
export function hubStatusView(i: HubViewInput): HubStatusView {
  const s = i.status;
  const faults: FaultView[] = s.faults.map((f) => ({ code: f.code === null ? f.kind : `${f.kind}:${f.code}`, message: f.message, atMs: f.atMs }));
  if (!i.health.ok) faults.unshift({ code: 'database', message: i.health.reason ?? 'the hub database does not answer', atMs: s.atMs });
  if (!i.brokerConnected) faults.push({ code: 'broker', message: 'not connected to the MQTT broker; punches wait at the gates', atMs: s.atMs });
  const degraded = s.faulted || !i.brokerConnected || s.faults.length > 0;
  return {
    kind: 'hub',
    siteId: i.siteId,
    version: packageVersion(),
    uptimeS: Math.max(0, Math.round(i.uptimeS)),
    health: !i.health.ok ? 'fault' : degraded ? 'degraded' : 'ok',
    broker: { connected: i.brokerConnected },
    gates: s.gates.map((g) => ({
      gateId: g.gateId,
      online: g.online === true,
      lastSeenMs: i.lastSeenMs.get(g.gateId) ?? null,
      certExpiresInDays: g.certDaysLeft,
    })),
    queue: {
      pending: s.queue.pending,
      in_flight: s.queue.inFlight,
      delivered: s.queue.delivered,
      rejected: s.queue.rejected,
      waiting_for_clock: i.rowsHeld.clock,
      waiting_for_photo: i.rowsHeld.photo,
    },
    platform: { mode: s.mode, lastOkMs: s.lastUploadMs },
    faults,
  };
}

let version: string | null = null;

/** The installed sitegate's version (package.json two levels up from src/hub or dist/hub). */
export function packageVersion(): string {
  if (version === null) {
    try {
      version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
