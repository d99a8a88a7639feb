import { X509Certificate } from 'node:crypto';
import { certSha256 } from '../core/cert.js';
import type { Direction } from '../core/entries.js';
import type { GateStatusView, PunchView } from '../control/views.js';
import type { GateStatus } from '../mqtt/status.js';
import type { GateFaceStatus } from './gate-face.js';
import type { GateFault } from './gate-faults.js';
import type { ReaderHealth } from './gate-readers.js';
import type { PunchWithPassage } from './punch/journal.js';
import type { SignerState } from './punch/signer.js';

const DAY_MS = 86_400_000;

export type CertificateView = NonNullable<GateStatusView['token']['certificate']>;
export type LaneMode = 'normal' | 'lockdown' | 'open';

export function certificateView(der: Buffer, nowMs: number): CertificateView {
  const c = new X509Certificate(der);
  const notAfterMs = c.validToDate.getTime();
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    serial: c.serialNumber,
    sha256: certSha256(der),
    notBeforeMs: c.validFromDate.getTime(),
    notAfterMs,
    expiresInDays: Math.floor((notAfterMs - nowMs) / DAY_MS),
  };
}

/** How a technician reads the signer's state: open, absent, wrong_pin, fault. */
export function tokenStateName(state: SignerState): string {
  return state === 'ready' ? 'open' : state === 'no_token' ? 'absent' : state;
}

/** Everything the status documents are made from, gathered by the gate at one moment. */
export interface GateSnapshot {
  siteId: string;
  gateId: string;
  version: string;
  uptimeS: number;
  nowMs: number;
  clockSynced: boolean;
  readers: { name: string; kind: string; lane: string; direction: Direction; device: string; health: ReaderHealth }[];
  relays: { lane: string; direction: Direction; active: boolean; pulses: number; writeErrors: number }[];
  lanes: Record<string, LaneMode>;
  fireAlarm: 'normal' | 'active' | 'not-wired';
  token: { state: SignerState; certDer: Buffer | null };
  roster: { version: number | null; size: number };
  /** roster sync's own status (RosterSync.status()); null without roster.hubPublicKey */
  rosterSync?: Record<string, unknown> | null;
  face?: GateFaceStatus | null;
  photos?: { photos: number; bytes: number; pendingBytes: number; overCap: boolean };
  journal: { headSeq: number; unacked: number; oldestUnackedMs: number | null; accepting: boolean };
  journalCapacity?: { capacity: number; over: boolean; onOverflow: 'keep-open' | 'deny' };
  hub: { connected: boolean; lastAckMs: number | null; inFlight: number };
  faults: GateFault[];
  /** granted passages with two or more people on one release since the gate started */
  tailgating?: { count: number; lastAtMs: number | null; lastLane: string | null };
  /** anti-passback's presence store: own passages, the hub's messages (and rejected ones) */
  presence?: Record<string, number>;
  /** face enrolment at this gate (capture-face): waiting or not, and what the last one did */
  enrol?: Record<string, unknown>;
}

/** ok: nothing raised; fault: punches are refused (the journal takes nothing); degraded: anything else raised. */
export function gateHealth(s: Pick<GateSnapshot, 'faults' | 'journal'>): GateStatusView['health'] {
  if (!s.journal.accepting) return 'fault';
  return s.faults.length ? 'degraded' : 'ok';
}

/** The control socket's `status` answer (views.ts gateStatusViewSchema). */
export function statusView(s: GateSnapshot): GateStatusView {
  return {
    kind: 'gate',
    siteId: s.siteId,
    gateId: s.gateId,
    version: s.version,
    uptimeS: Math.max(0, Math.round(s.uptimeS)),
    health: gateHealth(s),
    readers: s.readers.map((r) => ({
      name: r.name,
      kind: r.kind,
      lane: r.lane,
      direction: r.direction,
      state: r.health.state,
      lastReadMs: r.health.lastReadMs,
      device: r.device,
    })),
    relays: s.relays.map((r) => ({
      lane: r.lane,
      direction: r.direction,
      state: r.writeErrors > 0 ? 'fault' : r.active ? 'open' : 'closed',
      pulses: r.pulses,
    })),
    fireAlarm: s.fireAlarm,
    token: { state: tokenStateName(s.token.state), certificate: s.token.certDer ? certificateView(s.token.certDer, s.nowMs) : null },
    clock: { synced: s.clockSynced, nowMs: s.nowMs },
    roster: s.roster,
    journal: s.journal,
    hub: s.hub,
    faults: s.faults.map((f) => ({ code: f.code, message: f.subject ? `${f.subject}: ${f.message}` : f.message, atMs: f.atMs })),
  };
}

/**
 * The retained `gate/<gateId>/status` document (mqtt/status.ts gateStatusSchema), plus the
 * certificate block the hub and dashboards already read.
 */
export function mqttStatus(s: GateSnapshot, bootId: string): GateStatus & Record<string, unknown> {
  const cert = s.token.certDer ? certificateView(s.token.certDer, s.nowMs) : null;
  return {
    online: true,
    atMs: s.nowMs,
    gateId: s.gateId,
    bootId,
    health: gateHealth(s),
    lanes: Object.fromEntries(Object.entries(s.lanes).map(([lane, mode]) => [lane, { mode }])),
    fireAlarm: s.fireAlarm === 'active',
    fault: s.faults.length > 0,
    faults: s.faults.slice(0, 50).map((f) => `${f.code}${f.subject ? ` ${f.subject}` : ''}: ${f.message}`.slice(0, 200)),
    unacked: s.journal.unacked,
    ...(cert ? { certNotAfterMs: cert.notAfterMs } : {}),
    ...(s.roster.version !== null ? { rosterVersion: s.roster.version } : {}),
    clockSynced: s.clockSynced,
    readers: Object.fromEntries(s.readers.map((r) => [r.name, r.health.state])),
    token: tokenStateName(s.token.state),
    journal: {
      head: s.journal.headSeq,
      unacked: s.journal.unacked,
      oldestUnackedMs: s.journal.oldestUnackedMs,
      accepting: s.journal.accepting,
      ...(s.journalCapacity ? { capacity: s.journalCapacity.capacity, overCapacity: s.journalCapacity.over, onOverflow: s.journalCapacity.onOverflow } : {}),
    },
    roster: s.rosterSync ?? { version: s.roster.version, size: s.roster.size },
    ...(s.face ? { face: s.face } : {}),
    ...(s.photos ? { photos: s.photos } : {}),
    ...(s.tailgating ? { tailgating: s.tailgating } : {}),
    ...(s.presence ? { presence: s.presence } : {}),
    ...(s.enrol ? { enrol: s.enrol } : {}),
    ...(cert && s.token.certDer
      ? {
          certificate: {
            sha256: cert.sha256,
            subject: cert.subject,
            serial: cert.serial,
            notAfter: new Date(cert.notAfterMs).toISOString(),
            pem: s.token.certDer.toString('base64'),
          },
        }
      : {}),
  };
}

/** One row of `sitegate punches`. A manual open shows as credential `manual`. */
export function punchView(p: PunchWithPassage): PunchView {
  const e = p.punch;
  return {
    seq: e.seq,
    punchId: e.punchId,
    timeMs: e.time.ms,
    clockSynced: e.time.clockSynced,
    lane: e.lane,
    direction: e.direction,
    credential: e.credential.kind,
    workerId: e.workerId,
    decision: e.decision,
    reason: e.reason,
    passage: p.passage,
    acked: p.acked,
  };
}

/** One line for `systemctl status` (STATUS=). */
export function statusLine(s: GateSnapshot): string {
  const faults = s.faults.length ? ` · ${s.faults.length} fault${s.faults.length > 1 ? 's' : ''}: ${s.faults.map((f) => f.code).join(', ')}` : '';
  const fire = s.fireAlarm === 'active' ? ' · FIRE ALARM' : '';
  return `gate ${s.gateId}: ${gateHealth(s)} · ${s.journal.unacked} awaiting the hub · hub ${s.hub.connected ? 'connected' : 'disconnected'}${fire}${faults}`;
}
