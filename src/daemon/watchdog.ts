import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { HealthCheck } from './health.js';
import type { SdNotifier } from './sd-notify.js';

export interface WatchdogOptions {
  notifier: SdNotifier;
  /** ping period: half of WATCHDOG_USEC */
  intervalMs: number;
  healthy: HealthCheck;
  clock: Clock;
  log: Logger;
}

/**
 * Pings systemd's watchdog from a timer on the event loop: a blocked loop stops the pings by
 * itself, and an unhealthy daemon (its journal can neither take nor hold punches) stops them on
 * purpose, so systemd restarts it after WatchdogSec. Degraded is not unhealthy.
 */
export class WatchdogPinger {
  private timer: TimerHandle | null = null;
  private withheld = false;
  readonly counters = { pings: 0, withheld: 0 };

  constructor(private readonly opts: WatchdogOptions) {}

  start(): void {
    if (this.timer) return;
    this.tick();
  }

  private tick(): void {
    const h = this.opts.healthy();
    if (h.ok) {
      if (this.withheld) this.opts.log.info('healthy again: watchdog pings resume');
      this.withheld = false;
      this.opts.notifier.watchdog();
      this.counters.pings++;
    } else {
      if (!this.withheld) this.opts.log.error({ reason: h.reason }, 'unhealthy: watchdog pings withheld, systemd will restart this daemon');
      this.withheld = true;
      this.counters.withheld++;
    }
    this.timer = this.opts.clock.setTimeout(() => this.tick(), this.opts.intervalMs);
  }

  stop(): void {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
