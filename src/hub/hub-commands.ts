import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { badCommandAck, commandAcker, hubCommandSchema, type CommandAck, type HubCommand } from '../mqtt/commands.js';
import { parsePayload } from '../mqtt/schemas.js';
import type { Forwarder } from './forwarder.js';

export interface HubCommandTargets {
  forwarder: Forwarder;
  /** re-reads the security token; returns its fingerprint (null: no token configured) */
  reloadToken: () => string | null;
  publishStatus: () => void;
}

/**
 * The hub's operator commands (`hub/cmd`): parsed at the border, run, and answered with an ack
 * naming the result. A bad payload is answered and counted, never thrown.
 */
export class HubCommands {
  readonly counters = { handled: 0, bad: 0, stale: 0 };

  constructor(
    private readonly targets: HubCommandTargets,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async handle(payload: Buffer | string): Promise<CommandAck> {
    const now = this.clock.now();
    const parsed = parsePayload(hubCommandSchema, payload);
    if (!parsed.ok) {
      this.counters.bad++;
      this.log.warn({ error: parsed.error }, 'bad hub command');
      return badCommandAck(payload, parsed.error, now);
    }
    const cmd = parsed.value;
    const ack = commandAcker(cmd, () => this.clock.now());
    if (cmd.notAfterMs !== undefined && now > cmd.notAfterMs) {
      this.counters.stale++;
      return ack(false, 'stale', `command expired at ${new Date(cmd.notAfterMs).toISOString()}`);
    }
    this.counters.handled++;
    this.log.info({ cmd: cmd.cmd, id: cmd.id }, 'hub command');
    try {
      return await this.run(cmd, ack);
    } catch (err) {
      return ack(false, 'failed', errorMessage(err));
    }
  }

  private async run(cmd: HubCommand, ack: ReturnType<typeof commandAcker>) {
    switch (cmd.cmd) {
      case 'upload-now': {
        const r = await this.targets.forwarder.uploadNow(cmd.rows);
        this.targets.publishStatus();
        if (r.ok) {
          return ack(true, 'ok', `sent ${r.rowsSent} row(s) in ${r.requests} request(s)`, {
            requests: r.requests, rowsSent: r.rowsSent, delivered: r.delivered, rejected: r.rejected, returned: r.returned,
          });
        }
        if (r.code === 'platform_error') {
          return ack(false, 'failed', `${r.kind}: ${r.message}`, {
            requests: r.requests, rowsSent: r.rowsSent, delivered: r.delivered, rejected: r.rejected, returned: r.returned,
          });
        }
        const code = r.code === 'busy' ? 'busy' : r.code === 'wrong_mode' ? 'wrong_mode' : 'failed';
        return ack(false, code, r.message);
      }
      case 'resume-platform':
        this.targets.forwarder.resume();
        this.targets.publishStatus();
        return ack(true, 'ok', 'platform requests resumed');
      case 'reload-token': {
        const fingerprint = this.targets.reloadToken();
        this.targets.publishStatus();
        return fingerprint === null
          ? ack(false, 'failed', 'no security token is configured for this profile')
          : ack(true, 'ok', `security token ${fingerprint} in force`, { fingerprint });
      }
      case 'publish-status':
        this.targets.publishStatus();
        return ack(true, 'ok', 'status and discovery published');
    }
  }
}
