import type { Clock } from '../core/clock.js';
import type { Direction } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { badCommandAck, commandAcker, gateCommandSchema, type CommandAck, type GateCommand } from '../mqtt/commands.js';
import { parsePayload } from '../mqtt/schemas.js';

/** What the commands act on: the gate. */
export interface GateCommandTarget {
  laneNames(): string[];
  /** journals a manual open and pulses the relay; rejects with unknown_lane / lane_busy */
  openOnce(lane: string, direction: Direction, who: string): { punchId: string };
  setLockdown(lanes: string[], on: boolean): void;
  /** resync-roster: asks the hub for a snapshot, applied even at the version the gate holds */
  requestRosterResync(commandId: string | null): { ok: true } | { ok: false; code: 'unavailable'; message: string };
  /** capture-face: starts waiting for a face to enrol; refused where face matching does not run */
  captureFace?(req: { workerId: string; requestId: string; timeoutMs: number }): { ok: true; untilMs: number } | { ok: false; code: 'unavailable'; message: string };
}

export interface GateCommandsOptions {
  target: GateCommandTarget;
  clock: Clock;
  log: Logger;
}

/**
 * Operator commands from `gate/<gateId>/cmd` (mqtt/commands.ts): every payload gets exactly one
 * acknowledgment; a malformed one names what was wrong, a stale one (past its notAfterMs) is
 * refused without acting: an "open" delivered hours late would be a hazard.
 */
export class GateCommands {
  readonly counters = { received: 0, ok: 0, refused: 0, bad: 0 };

  constructor(private readonly opts: GateCommandsOptions) {}

  handle(payload: Buffer): CommandAck {
    this.counters.received++;
    const now = this.opts.clock.now();
    const parsed = parsePayload(gateCommandSchema, payload);
    if (!parsed.ok) {
      this.counters.bad++;
      this.opts.log.warn({ error: parsed.error }, 'malformed gate command');
      return badCommandAck(payload, parsed.error, now);
    }
    const cmd = parsed.value;
    const ack = this.run(cmd, now);
    if (ack.ok) this.counters.ok++;
    else this.counters.refused++;
    this.opts.log.info({ cmd: cmd.cmd, id: cmd.id ?? null, code: ack.code }, `gate command ${cmd.cmd}: ${ack.message}`);
    return ack;
  }

  private run(cmd: GateCommand, now: number): CommandAck {
    const ack = commandAcker(cmd, () => now);
    if (cmd.notAfterMs !== undefined && now > cmd.notAfterMs) {
      return ack(false, 'stale', `refused: arrived ${Math.round((now - cmd.notAfterMs) / 1000)} s after its notAfterMs`);
    }
    const { target } = this.opts;
    const lanes = target.laneNames();
    const named = 'lane' in cmd && cmd.lane !== undefined ? cmd.lane : null;
    if (named !== null && !lanes.includes(named)) return ack(false, 'unknown_lane', `this gate has no lane "${named}" (lanes: ${lanes.join(', ')})`);
    switch (cmd.cmd) {
      case 'open-once': {
        try {
          const r = target.openOnce(cmd.lane, cmd.direction, `mqtt${cmd.id ? `:${cmd.id}` : ''}`);
          return ack(true, 'ok', `lane ${cmd.lane} opened once ${cmd.direction}`, { punchId: r.punchId });
        } catch (err) {
          const code = err instanceof SitegateError ? err.code : '';
          if (code === 'lane_busy') return ack(false, 'busy', errorMessage(err));
          if (code === 'unknown_lane') return ack(false, 'unknown_lane', errorMessage(err));
          return ack(false, 'failed', errorMessage(err).slice(0, 500));
        }
      }
      case 'lock-down':
      case 'release': {
        const which = named !== null ? [named] : lanes;
        target.setLockdown(which, cmd.cmd === 'lock-down');
        return ack(true, 'ok', `${which.join(', ')} ${cmd.cmd === 'lock-down' ? 'locked down: every credential is refused' : 'back to normal operation'}`);
      }
      case 'resync-roster': {
        const r = target.requestRosterResync(cmd.id ?? null);
        if (!r.ok) return ack(false, r.code, r.message);
        return ack(true, 'ok', 'accepted: a roster snapshot was requested from the hub; it is applied even at the version this gate holds');
      }
      case 'capture-face': {
        if (!target.captureFace) return ack(false, 'unavailable', 'this gate cannot enrol faces');
        const r = target.captureFace({ workerId: cmd.workerId, requestId: cmd.requestId, timeoutMs: cmd.timeoutMs });
        if (!r.ok) return ack(false, r.code, r.message);
        return ack(true, 'ok', `waiting up to ${Math.round(cmd.timeoutMs / 1000)} s for ${cmd.workerId} to face the camera`, { requestId: cmd.requestId, untilMs: r.untilMs });
      }
    }
  }
}
