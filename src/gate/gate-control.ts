import type { GateControl, PunchQuery } from '../control/providers.js';
import type { GateStatusView, OpenResult, PunchView, RosterInfo, RosterWorkerView, TokenInfo } from '../control/views.js';
import type { Gate } from './gate.js';
import { GateRosterView } from './gate-roster-view.js';
import { certificateView, punchView, statusView, tokenStateName } from './gate-status.js';

/** How long `sitegate open` waits for the passage before answering "not settled". */
const OPEN_WAIT_MS = 15_000;

/** What the gate offers its technicians on the control socket (src/control/providers.ts). */
export class GateControlProvider implements GateControl {
  private readonly rosterView: GateRosterView;

  constructor(private readonly gate: Gate) {
    this.rosterView = new GateRosterView(gate.roster);
  }

  status(): GateStatusView {
    return statusView(this.gate.snapshot());
  }

  punches(q: PunchQuery): PunchView[] {
    const j = this.gate.journal;
    const rows = 'pending' in q ? j.pendingPunches(q.limit) : j.lastPunches(q.last);
    return rows.map(punchView);
  }

  async open(lane: string, direction: 'in' | 'out', who: string, reason?: string): Promise<OpenResult> {
    const r = this.gate.openLane(lane, direction, who, reason);
    const clock = this.gate.clock;
    let timer: ReturnType<typeof clock.setTimeout> | null = null;
    const passage = await Promise.race([
      r.passage,
      new Promise<null>((resolve) => {
        timer = clock.setTimeout(() => resolve(null), OPEN_WAIT_MS);
      }),
    ]);
    if (timer) clock.clearTimeout(timer);
    return { lane, direction, punchId: r.entry.punchId, passage };
  }

  rosterInfo(): RosterInfo {
    return this.rosterView.info();
  }

  rosterFind(query: string, limit: number): RosterWorkerView[] {
    return this.rosterView.find(query, limit);
  }

  tokenInfo(): TokenInfo {
    const t = this.gate.currentConfig.token;
    const der = this.gate.token.certificateDer();
    const stats = this.gate.signing.stats;
    return {
      state: tokenStateName(this.gate.token.state),
      module: t.module,
      tokenLabel: t.tokenLabel,
      keyLabel: t.keyLabel,
      mechanism: t.mechanism,
      certificate: der ? certificateView(der, this.gate.clock.now()) : null,
      signatures: stats.signatures,
      pendingEntries: Math.max(0, stats.unsigned),
    };
  }

  close(): void {
    // nothing held open: the roster view reads through the gate's own store
  }
}
