import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines to stdout for journald. Never log secrets, PINs or bare ID numbers. */
export function createLogger(name: string, level = process.env.SITEGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { name } });
}

/** A logger that drops everything (tests, embedded demo parts). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
