// The roster file at gate start (100,000 workers, a card and a face template each): reading and
// validating it (what every start paid before) against hashing it (what a start pays now when
// the file is unchanged), and the first import into an empty store.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importRosterFile } from '../../dist/gate/roster/roster-file-import.js';
import { readRosterFile } from '../../dist/gate/roster/roster-file.js';
import { RosterStore } from '../../dist/gate/roster/roster-store.js';
import { writeBenchRoster } from './roster-fixture.ts';

const WORKERS = 100_000;
const RUNS = 3;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

function median(f: () => void): number {
  const t: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    f();
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

export default async function rosterFile(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-roster-file-'));
  try {
    const file = join(dir, 'roster.json');
    // fixed values, the same at every run
    writeBenchRoster(file, { workers: WORKERS, siteId: 'bench-site', template: (i, t) => t.forEach((_, k) => (t[k] = Math.sin(i * 131 + k))) });
    const store = new RosterStore(join(dir, 'roster.db'));
    const t0 = performance.now();
    const first = importRosterFile(store, file);
    const firstS = (performance.now() - t0) / 1000;
    if (first.outcome !== 'applied') throw new Error(`first import: ${first.outcome}`);
    const parseS = median(() => readRosterFile(file));
    const jsonS = median(() => JSON.parse(readFileSync(file, 'utf8')));
    const unchangedS = median(() => {
      if (importRosterFile(store, file).outcome !== 'unchanged') throw new Error('the unchanged file was parsed');
    });
    store.close();
    return {
      roster_file_workers: WORKERS,
      roster_file_mb: Math.round(statSync(file).size / 1e5) / 10,
      roster_file_parse_s: r3(parseS),
      roster_file_json_parse_only_s: r3(jsonS),
      roster_file_unchanged_start_s: r3(unchangedS),
      roster_file_first_import_s: r3(firstS),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
