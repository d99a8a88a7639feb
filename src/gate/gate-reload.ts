import { isDeepStrictEqual } from 'node:util';
import { SitegateError } from '../core/errors.js';
import type { GateConfig } from '../config/gate-config.js';
import { RELOADABLE_READER_KEYS } from './gate-readers.js';

/** Lane fields a reload applies (the lane is rebuilt on the same GPIO lines once it is idle). */
export const RELOADABLE_LANE_KEYS = ['pulseMs', 'passageTimeoutMs', 'passageClearMs', 'personGapMs', 'holdMs'] as const;

export interface ReloadPlan {
  /** indexes into readers[] whose poll settings changed */
  readers: number[];
  /** lanes whose timings changed */
  lanes: string[];
}

/**
 * What a reload may change without a restart: reader poll settings and lane timings. Anything
 * else (wiring, identity, token, broker, reader list) is refused with the keys that differ, and
 * the running config stays.
 */
export function planReload(old: GateConfig, next: GateConfig): ReloadPlan {
  const changed: string[] = [];
  const plan: ReloadPlan = { readers: [], lanes: [] };
  for (const key of Object.keys({ ...old, ...next }) as (keyof GateConfig)[]) {
    if (key === 'readers' || key === 'lanes') continue;
    if (!isDeepStrictEqual(old[key], next[key])) changed.push(key);
  }
  if (old.lanes.length !== next.lanes.length) changed.push('lanes');
  else {
    old.lanes.forEach((l, i) => {
      const n = next.lanes[i];
      const fixed = (x: typeof l) => omit(x, RELOADABLE_LANE_KEYS);
      if (!isDeepStrictEqual(fixed(l), fixed(n))) changed.push(`lanes[${i}]`);
      else if (!isDeepStrictEqual(l, n)) plan.lanes.push(l.name);
    });
  }
  if (old.readers.length !== next.readers.length) changed.push('readers');
  else {
    old.readers.forEach((r, i) => {
      const n = next.readers[i];
      const fixed = (x: typeof r) => omit(x, RELOADABLE_READER_KEYS[x.kind]);
      if (r.kind !== n.kind || !isDeepStrictEqual(fixed(r), fixed(n))) changed.push(`readers[${i}]`);
      else if (!isDeepStrictEqual(r, n)) plan.readers.push(i);
    });
  }
  if (changed.length) {
    throw new SitegateError(
      'reload_needs_restart',
      `the new config changes ${changed.join(', ')}, which a reload cannot apply (only reader poll settings and lane timings can): restart the gate, the old config stays in force`,
      { keys: changed },
    );
  }
  return plan;
}

function omit<T extends object>(o: T, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}
