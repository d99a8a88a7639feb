// The one SoftHSM directory of a bench process. PKCS#11 is initialised once per process, with the
// first token directory's configuration (token-provision.ts refuses another), so every section
// that provisions tokens in this process (foundation, punches) puts them here. Removed at exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let base: string | undefined;

/** A directory for the bench process whose `softhsm` folder holds every token (the demo site keeps its tokens there too). */
export function benchHsmBase(): string {
  if (!base) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-hsm-'));
    base = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return base;
}

export const benchSoftHsmDir = (): string => join(benchHsmBase(), 'softhsm');
