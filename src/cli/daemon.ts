import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/**
 * Runs a daemon until SIGTERM or SIGINT, then stops it cleanly. A failing start exits non-zero
 * with the error's message (which names the bad config key, the missing file…).
 */
export async function runDaemon(name: string, log: Logger, start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  let daemon: { stop(): Promise<void> };
  try {
    daemon = await start();
  } catch (err) {
    const code = err instanceof SitegateError ? err.code : 'start_failed';
    log.fatal({ code }, `${name} could not start: ${errorMessage(err)}`);
    process.stderr.write(`sitegate ${name}: ${errorMessage(err)}\n`);
    process.exitCode = 2;
    return;
  }
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
  try {
    await daemon.stop();
    log.info(`${name} stopped`);
  } catch (err) {
    log.error({ err: errorMessage(err) }, `${name} did not stop cleanly`);
    process.exitCode = 1;
  }
}
