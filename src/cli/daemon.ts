import { systemClock, type Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ControlServer } from '../control/server.js';
import type { ControlHandlers } from '../control/providers.js';
import { installBlockHook } from '../daemon/block-hook.js';
import { alwaysHealthy, type HealthResult } from '../daemon/health.js';
import { SdNotifier, type NotifyTransport } from '../daemon/sd-notify.js';
import { WatchdogPinger } from '../daemon/watchdog.js';

/** What runDaemon drives. Only stop() is required; the rest light up systemd and the control socket. */
export interface DaemonHandle {
  stop(): Promise<void>;
  /** SIGHUP (systemctl reload): re-read the config without dropping a punch; throw to keep the old one */
  reload?(): Promise<void>;
  /** asked before each watchdog ping; faults that only degrade must answer ok */
  healthy?(): HealthResult;
  /** one line for `systemctl status` (STATUS=) */
  statusLine?(): string;
  /** the control socket's commands */
  control?(): ControlHandlers;
}

export interface RunDaemonOptions {
  /** environment systemd gave us (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID); default process.env */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** control socket path; null: no socket even if the daemon has commands */
  controlSocket?: string | null;
  /** technicians' group of the control socket (default sitegate-tech) */
  controlGroup?: string | null;
  notifyTransport?: NotifyTransport;
}

/**
 * Runs a daemon until SIGTERM or SIGINT, then stops it cleanly. A failing start exits non-zero
 * with the error's message (which names the bad config key, the missing file…). Under systemd
 * (Type=notify) it reports READY=1 / STATUS= / RELOADING=1 / STOPPING=1 and pings the watchdog
 * while the event loop turns and the daemon is healthy; SIGHUP reloads. SIGUSR2 blocks the event
 * loop only under the test hook SITEGATE_TEST_BLOCK_ON_SIGNAL (src/daemon/block-hook.ts).
 */
export async function runDaemon(name: string, log: Logger, start: () => Promise<DaemonHandle>, opts: RunDaemonOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? systemClock;
  const notifier = new SdNotifier({
    socket: env.NOTIFY_SOCKET,
    watchdogUsec: env.WATCHDOG_USEC,
    watchdogPid: env.WATCHDOG_PID,
    clock,
    log,
    transport: opts.notifyTransport,
  });
  let daemon: DaemonHandle | null = null;
  let lastStatus = '';
  const pushStatus = () => {
    const line = daemon?.statusLine?.() ?? '';
    if (line && line !== lastStatus) notifier.status(line);
    lastStatus = line || lastStatus;
  };
  const interval = notifier.watchdogIntervalMs();
  const watchdog = interval
    ? new WatchdogPinger({
        notifier,
        intervalMs: interval,
        clock,
        log,
        healthy: () => {
          const h = daemon?.healthy?.() ?? alwaysHealthy();
          if (h.ok) pushStatus();
          return h;
        },
      })
    : null;
  // pinging during start too: a long start (models, a big roster) is bounded by TimeoutStartSec
  watchdog?.start();
  notifier.status(`${name} starting`);

  try {
    daemon = await start();
  } catch (err) {
    const code = err instanceof SitegateError ? err.code : 'start_failed';
    log.fatal({ code }, `${name} could not start: ${errorMessage(err)}`);
    process.stderr.write(`sitegate ${name}: ${errorMessage(err)}\n`);
    watchdog?.stop();
    notifier.status(`${name} could not start: ${errorMessage(err)}`);
    await notifier.flush();
    process.exitCode = 2;
    return;
  }

  let control: ControlServer | null = null;
  if (daemon.control && opts.controlSocket) {
    control = new ControlServer({ path: opts.controlSocket, handlers: daemon.control(), clock, log, group: opts.controlGroup });
    try {
      await control.start();
    } catch (err) {
      // technicians lose their socket, workers keep their gate: degrade, don't fail the start
      log.error({ err: errorMessage(err) }, 'control socket not available');
      control = null;
    }
  }
  notifier.ready(daemon.statusLine?.() ?? `${name} running`);

  let reloading: Promise<void> = Promise.resolve();
  const onHup = () => {
    reloading = reloading.then(() => reload(name, daemon!, notifier, log));
  };
  process.on('SIGHUP', onHup);
  const removeBlockHook = installBlockHook(env, log);

  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, `${name} stopping`);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  notifier.stopping();
  watchdog?.stop();
  process.off('SIGHUP', onHup);
  removeBlockHook();
  await reloading;
  try {
    await control?.stop();
    await daemon.stop();
    log.info(`${name} stopped`);
  } catch (err) {
    log.error({ err: errorMessage(err) }, `${name} did not stop cleanly`);
    process.exitCode = 1;
  }
  await notifier.flush();
}

async function reload(name: string, daemon: DaemonHandle, notifier: SdNotifier, log: Logger): Promise<void> {
  if (!daemon.reload) {
    log.warn(`${name} has nothing to reload; restart it to apply changes`);
    return;
  }
  notifier.reloading();
  log.info(`${name} reloading its config`);
  try {
    await daemon.reload();
    log.info(`${name} reloaded`);
    notifier.ready(daemon.statusLine?.() ?? `${name} running (reloaded)`);
  } catch (err) {
    log.error({ err: errorMessage(err) }, `${name} kept its old config: the new one was refused`);
    notifier.ready(`${name} running; reload refused: ${errorMessage(err)}`);
  }
}
