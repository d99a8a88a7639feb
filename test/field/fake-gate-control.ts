import type { GateControl, PunchQuery } from '../../src/control/providers.js';
import type { GateStatusView, PunchView, TokenInfo } from '../../src/control/views.js';

const NOW = Date.UTC(2026, 10, 21, 0, 30, 0);
const cert = {
  subject: 'CN=SITE01 GATE-N1',
  issuer: 'CN=SITE01 GATE-N1',
  serial: '4F1A22C09D7E55B3A1',
  sha256: 'ab'.repeat(32),
  notBeforeMs: NOW - 30 * 86_400_000,
  notAfterMs: NOW + 335 * 86_400_000,
  expiresInDays: 335,
};

export function punch(seq: number, over: Partial<PunchView> = {}): PunchView {
  return {
    seq,
    punchId: `0190${String(seq).padStart(4, '0')}-0000-7000-8000-000000000000`,
    timeMs: NOW - (100 - seq) * 1000,
    clockSynced: true,
    lane: 'L1',
    direction: 'in',
    credential: 'wiegand',
    workerId: `W${seq}`,
    decision: 'granted',
    reason: 'ok',
    passage: 'confirmed',
    acked: seq < 90,
    ...over,
  };
}

/** A gate as the control socket sees it, without any hardware; tests change its fields. */
export class FakeGateControl implements GateControl {
  health: GateStatusView['health'] = 'ok';
  opens: { lane: string; direction: string; who: string; reason?: string }[] = [];
  throwOn: string | null = null;
  invalidStatus = false;

  status(): GateStatusView {
    if (this.throwOn === 'status') throw new Error('journal busy');
    const v: GateStatusView = {
      kind: 'gate',
      siteId: 'SITE01',
      gateId: 'GATE-N1',
      version: '0.1.0',
      uptimeS: 7384,
      health: this.health,
      readers: [
        { name: 'L1.in', kind: 'wiegand', lane: 'L1', direction: 'in', state: 'ok', lastReadMs: NOW - 12_000, device: 'gpio 5/6' },
        { name: 'L1.out', kind: 'idcard', lane: 'L1', direction: 'out', state: this.health === 'ok' ? 'ok' : 'absent', lastReadMs: null, device: '/dev/serial/by-id/usb-Synjones_SAM_0001-if00-port0' },
      ],
      relays: [
        { lane: 'L1', direction: 'in', state: 'closed', pulses: 42 },
        { lane: 'L1', direction: 'out', state: 'closed', pulses: 3 },
      ],
      fireAlarm: 'normal',
      token: { state: 'open', certificate: cert },
      clock: { synced: true, nowMs: NOW },
      roster: { version: 17, size: 10_000 },
      journal: { headSeq: 99, unacked: 10, oldestUnackedMs: NOW - 10_000, accepting: true },
      hub: { connected: this.health === 'ok', lastAckMs: NOW - 3000, inFlight: 1 },
      faults: this.health === 'ok' ? [] : [{ code: 'reader_absent', message: 'L1.out: the ID card reader is unplugged; waiting for it at its by-id path', atMs: NOW - 60_000 }],
    };
    return this.invalidStatus ? ({ ...v, uptimeS: -1 } as GateStatusView) : v;
  }

  punches(q: PunchQuery): PunchView[] {
    const all = Array.from({ length: 100 }, (_, i) => punch(i));
    return 'pending' in q ? all.filter((p) => !p.acked).slice(0, q.limit) : all.slice(-q.last).reverse();
  }

  async open(lane: string, direction: 'in' | 'out', who: string, reason?: string) {
    if (lane !== 'L1') throw Object.assign(new Error(`no lane "${lane}" on this gate`), {});
    this.opens.push({ lane, direction, who, reason });
    return { lane, direction, punchId: '01900000-0000-7000-8000-0000000000ff', passage: 'confirmed' };
  }

  rosterInfo() {
    return { siteId: 'SITE01', version: 17, size: 10_000, credentials: { wiegand: 10_000, idcard: 9_500 } };
  }

  rosterFind(query: string, limit: number) {
    const all = [
      { workerId: 'W0001', name: '张伟', status: 'entered', idValidTo: '2030-01-01', credentials: ['wiegand', 'idcard'] },
      { workerId: 'W0002', name: '王芳', status: 'entered', idValidTo: null, credentials: ['face'] },
    ];
    return all.filter((w) => w.workerId === query || w.name.includes(query)).slice(0, limit);
  }

  tokenInfo(): TokenInfo {
    return {
      state: 'open',
      module: '/usr/lib/softhsm/libsofthsm2.so',
      tokenLabel: 'sitegate-GATE-N1',
      keyLabel: 'punch-signing',
      mechanism: 'ecdsa-p256',
      certificate: cert,
      signatures: 12,
      pendingEntries: 0,
    };
  }
}
