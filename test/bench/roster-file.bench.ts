// The roster file at gate start (100,000 workers, a card and a face template each): reading and
// validating it (what every start paid before) against hashing it (what a start pays now when
// the file is unchanged), and the first import into an empty store.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialHmac } from '../../dist/core/credential.js';
import { importRosterFile } from '../../dist/gate/roster/roster-file-import.js';
import { readRosterFile } from '../../dist/gate/roster/roster-file.js';
import { RosterStore } from '../../dist/gate/roster/roster-store.js';

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
    writeRoster(file);
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

/** The roster file format of src/gate/roster/roster-file.ts, as in ready.bench.ts. */
function writeRoster(path: string): void {
  const siteKey = randomBytes(32);
  const workers: unknown[] = [];
  const t = Buffer.alloc(512);
  for (let i = 0; i < WORKERS; i++) {
    for (let k = 0; k < 128; k++) t.writeFloatLE(Math.sin(i * 131 + k), k * 4);
    workers.push({
      workerId: `W${String(i).padStart(6, '0')}`,
      name: `工人${i}`,
      status: 'entered',
      idValidTo: null,
      credentials: [{ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', String(1_000_000 + i)) }],
      faceTemplates: [t.toString('base64')],
    });
  }
  writeFileSync(path, JSON.stringify({ version: 1, siteId: 'bench-site', siteKey: siteKey.toString('hex'), workers }));
}
