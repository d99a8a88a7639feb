import type { Logger } from '../core/log.js';

/** The environment variable that arms the hook; never set by the units or the installer. */
export const BLOCK_HOOK_ENV = 'SITEGATE_TEST_BLOCK_ON_SIGNAL';

/**
 * Test hook: with SITEGATE_TEST_BLOCK_ON_SIGNAL=N (whole seconds, 1 to 120) in its environment,
 * a daemon that receives SIGUSR2 spins its event loop for N seconds: no timer, no I/O, no
 * watchdog ping runs meanwhile, then it carries on. It lets a test show on the real daemon that a
 * hung event loop stops the pings systemd's watchdog waits for. Unset or anything else, it
 * installs nothing and SIGUSR2 keeps Node's default action. Returns what removes the handler.
 */
export function installBlockHook(env: NodeJS.ProcessEnv, log: Logger): () => void {
  const seconds = Number(env[BLOCK_HOOK_ENV]);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 120) return () => {};
  const onSignal = () => {
    log.warn({ seconds }, 'event loop blocked (test hook)');
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      // a hung event loop
    }
    log.warn('event loop unblocked (test hook)');
  };
  process.on('SIGUSR2', onSignal);
  return () => process.off('SIGUSR2', onSignal);
}
