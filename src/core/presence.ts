import type { Direction } from './entries.js';

/**
 * Where a worker was last seen on this site: the direction of the last granted passage. The hub
 * shares it between the site's gates; a gate falls back to its own journal when the hub is away.
 */
export interface Presence {
  direction: Direction;
  /** wall-clock ms of that passage */
  atMs: number;
  /** 'hub': the site-wide view; 'local': only this gate's own passages (hub unreachable) */
  source: 'hub' | 'local';
}

/** Answers "where is this worker now?"; null when the site has no passage of theirs. */
export interface PresenceLookup {
  presenceOf(workerId: string): Presence | null;
}
