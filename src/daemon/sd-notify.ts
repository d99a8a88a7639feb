import { spawn } from 'node:child_process';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';

/** Sends one sd_notify datagram (newline-separated assignments); returns when the next may go. */
export type NotifyTransport = (lines: readonly string[]) => Promise<void>;

export interface SdNotifierOptions {
  /** NOTIFY_SOCKET; unset means not started by systemd with Type=notify: every call is a no-op */
  socket: string | undefined;
  /** WATCHDOG_USEC, and WATCHDOG_PID when systemd set it (the pings are for that process only) */
  watchdogUsec?: string;
  watchdogPid?: string;
  clock: Clock;
  log: Logger;
  /** defaults to a `systemd-notify` child (see systemd/README.md for why) */
  transport?: NotifyTransport;
}

/**
 * Talks to systemd over NOTIFY_SOCKET: READY=1, STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1.
 * Messages go out one at a time and in order; lines queued while one is on its way are sent
 * together in the next datagram (the protocol allows several assignments per datagram), and a
 * repeated WATCHDOG=1 or STATUS= keeps only its newest value.
 */
export class SdNotifier {
  private readonly transport: NotifyTransport | null;
  private queue: string[] = [];
  private sending = false;

  constructor(private readonly opts: SdNotifierOptions) {
    this.transport = opts.socket ? (opts.transport ?? systemdNotifyTransport(opts.socket, opts.clock, opts.log)) : null;
  }

  get enabled(): boolean {
    return this.transport !== null;
  }

  /** Half the watchdog time systemd asked for, or null when it asked for none (or not of us). */
  watchdogIntervalMs(): number | null {
    const usec = Number(this.opts.watchdogUsec);
    if (!this.transport || !Number.isFinite(usec) || usec <= 0) return null;
    if (this.opts.watchdogPid && Number(this.opts.watchdogPid) !== process.pid) return null;
    return Math.max(1, Math.floor(usec / 1000 / 2));
  }

  ready(status?: string): void {
    this.send(status === undefined ? ['READY=1'] : ['READY=1', `STATUS=${oneLine(status)}`]);
  }

  status(text: string): void {
    this.send([`STATUS=${oneLine(text)}`]);
  }

  reloading(): void {
    // MONOTONIC_USEC lets newer systemd (Type=notify-reload) match the reload to its request
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`]);
  }

  stopping(): void {
    this.send(['STOPPING=1']);
  }

  watchdog(): void {
    this.send(['WATCHDOG=1']);
  }

  /** Resolves when everything queued so far has been handed to the transport. */
  async flush(): Promise<void> {
    while (this.sending || this.queue.length) await new Promise<void>((r) => setImmediate(r));
  }

  private send(lines: string[]): void {
    if (!this.transport) return;
    for (const line of lines) {
      const key = line.slice(0, line.indexOf('=') + 1);
      if (key === 'WATCHDOG=' || key === 'STATUS=') this.queue = this.queue.filter((q) => !q.startsWith(key));
      this.queue.push(line);
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.sending || !this.transport) return;
    this.sending = true;
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        await this.transport(batch).catch((err: unknown) => this.opts.log.warn({ err: String(err) }, 'systemd notification not sent'));
      }
    } finally {
      this.sending = false;
    }
  }
}

/**
 * One `systemd-notify --pid=<our pid> A=1 B=2` child per datagram (NotifyAccess=all in the unit).
 * systemd-notify 252 sends, then waits on BARRIER=1 until PID 1 has processed the message, so
 * PID 1 can still resolve the sender's cgroup. The next datagram goes when the child exits, or
 * after `graceMs` (a listener that never answers the barrier, such as socat in tests, would
 * otherwise hold each child for its 5 s barrier time-out).
 */
export function systemdNotifyTransport(socket: string, clock: Clock, log: Logger, opts: { command?: string; graceMs?: number } = {}): NotifyTransport {
  const command = opts.command ?? 'systemd-notify';
  const graceMs = opts.graceMs ?? 1000;
  return (lines) =>
    new Promise<void>((resolve) => {
      let timer: TimerHandle | null = null;
      const done = () => {
        if (timer) clock.clearTimeout(timer);
        timer = null;
        resolve();
      };
      const child = spawn(command, [`--pid=${process.pid}`, ...lines], {
        env: { ...process.env, NOTIFY_SOCKET: socket },
        stdio: 'ignore',
      });
      child.unref();
      child.on('error', (err) => {
        log.warn({ err: err.message }, `cannot run ${command}: systemd gets no notification`);
        done();
      });
      child.on('exit', (code) => {
        if (code !== 0) log.debug({ code, lines }, `${command} exited with ${code}`);
        done();
      });
      timer = clock.setTimeout(done, graceMs);
    });
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 400);
}
