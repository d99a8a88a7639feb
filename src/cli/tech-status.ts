import type { GateStatusView, HubStatusView, StatusView } from '../control/views.js';
import { ago, duration, label, when } from './tech-common.js';

/** `sitegate status` in one 80-column screen. */
export function statusLines(v: StatusView): string[] {
  return v.kind === 'gate' ? gateLines(v) : hubLines(v);
}

function headline(kind: string, id: string, v: { siteId: string; version: string; uptimeS: number; health: string }): string {
  return `${kind} ${id} · site ${v.siteId} · v${v.version} · up ${duration(v.uptimeS)} · ${v.health.toUpperCase()}`;
}

function gateLines(v: GateStatusView): string[] {
  const now = v.clock.nowMs;
  const out = [headline('GATE', v.gateId, v)];
  v.readers.forEach((r, i) => {
    const where = r.device ? ` (${r.device})` : '';
    out.push(`${label(i ? '' : 'Readers')}${`${r.lane}.${r.direction}`.padEnd(8)} ${r.kind.padEnd(8)} ${r.state.toUpperCase().padEnd(6)} last read ${ago(r.lastReadMs, now)}${where}`);
  });
  if (!v.readers.length) out.push(`${label('Readers')}none configured`);
  const relays = v.relays.map((r) => `${r.lane}.${r.direction} ${r.state} (${r.pulses})`);
  out.push(`${label('Relays')}${relays.join('  ') || 'none'}`);
  out.push(`${label('Fire')}${v.fireAlarm === 'active' ? 'ALARM ACTIVE: lanes held open' : v.fireAlarm}`);
  const c = v.token.certificate;
  out.push(`${label('Token')}${v.token.state}${c ? ` · serial ${c.serial.slice(0, 16)}${c.serial.length > 16 ? '…' : ''} · expires in ${c.expiresInDays} days` : ' · no certificate'}`);
  if (c) out.push(`${label('')}${c.subject}`);
  out.push(`${label('Clock')}${v.clock.synced ? 'synced' : 'NOT SYNCED (punches say so)'} · ${when(now)} Shanghai`);
  out.push(`${label('Roster')}${v.roster.version === null ? 'none loaded' : `version ${v.roster.version}`} · ${v.roster.size} workers`);
  const j = v.journal;
  out.push(`${label('Journal')}head ${j.headSeq} · ${j.unacked} awaiting the hub${j.oldestUnackedMs !== null ? ` · oldest ${when(j.oldestUnackedMs)}` : ''}${j.accepting ? '' : ' · WRITES FAILING'}`);
  out.push(`${label('Hub link')}${v.hub.connected ? 'connected' : 'DISCONNECTED'} · last ack ${ago(v.hub.lastAckMs, now)} · ${v.hub.inFlight} in flight`);
  out.push(...faultLines(v.faults));
  return out;
}

function hubLines(v: HubStatusView): string[] {
  const now = Date.now();
  const out = [headline('HUB', v.siteId, v)];
  out.push(`${label('Broker')}${v.broker.connected ? 'connected' : 'DISCONNECTED'}`);
  v.gates.forEach((g, i) => {
    const cert = g.certExpiresInDays === null ? '' : ` · cert ${g.certExpiresInDays} days`;
    out.push(`${label(i ? '' : 'Gates')}${g.gateId.padEnd(16)} ${g.online ? 'online ' : 'OFFLINE'} · seen ${ago(g.lastSeenMs, now)}${cert}`);
  });
  if (!v.gates.length) out.push(`${label('Gates')}none commissioned`);
  out.push(`${label('Queue')}${Object.entries(v.queue).map(([k, n]) => `${k} ${n}`).join(' · ') || 'empty'}`);
  out.push(`${label('Platform')}${v.platform.mode} · last ok ${ago(v.platform.lastOkMs, now)}`);
  out.push(...faultLines(v.faults));
  return out;
}

function faultLines(faults: { code: string; message: string; atMs: number }[]): string[] {
  if (!faults.length) return [`${label('Faults')}none`];
  return faults.slice(-5).map((f, i) => `${label(i ? '' : 'Faults')}${when(f.atMs).slice(5)} ${f.code}: ${f.message}`);
}
