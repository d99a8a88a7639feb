// The gate unit's memory settings (systemd/sitegate-gate.service: glibc malloc, V8's young
// generation), read from the unit itself, so the memory tests and the bench measure the process
// as the gate runs it. The Makefile reads the same lines (GATE_MEMORY_ENV).
import { readFileSync } from 'node:fs';

const UNIT = new URL('../systemd/sitegate-gate.service', import.meta.url);

/** The unit's Environment= assignments of MALLOC_* and NODE_OPTIONS, as name → value. */
export function gateUnitMemoryEnv(unitText = readFileSync(UNIT, 'utf8')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unitText.split('\n')) {
    if (!line.startsWith('Environment=')) continue;
    for (const assignment of line.slice('Environment='.length).trim().split(/\s+/)) {
      const eq = assignment.indexOf('=');
      const name = assignment.slice(0, eq);
      if (eq > 0 && (name.startsWith('MALLOC_') || name === 'NODE_OPTIONS')) env[name] = assignment.slice(eq + 1);
    }
  }
  return env;
}
