import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { hubConfigSchema, type HubConfig } from '../config/hub-config.js';
import { systemClock } from '../core/clock.js';
import { maskIdNumber } from '../core/credential.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { SiteStatus } from '../core/worker.js';
import { photoTypeOf } from '../hub/registry/face-photos.js';
import type { PhotoEnroller } from '../hub/registry/face-enrolment.js';
import { isCalendarDay, normalizeDay } from '../hub/registry/field-values.js';
import { parseImportFile, type RowError } from '../hub/registry/import-file.js';
import { RegistryStore, registryPath } from '../hub/registry/registry-store.js';
import type { WorkerRecord } from '../hub/registry/worker-record.js';

/**
 * `sitegate hub workers …`: the operator's view of the hub's worker registry.
 * Exit codes: 0 done; 1 rows rejected or the registry refused the change; 2 usage or config.
 */

const EXIT_REFUSED = 1;
const EXIT_USAGE = 2;
const USAGE_CODES = new Set(['usage', 'config_unreadable', 'config_yaml', 'config_invalid', 'import_unreadable', 'import_empty', 'import_no_columns', 'import_duplicate_column', 'import_json', 'import_encoding', 'csv_unclosed_quote', 'csv_cell_too_long', 'photo_unreadable', 'photo_type', 'photo_too_large']);

interface Common {
  config: string;
  json?: boolean;
  reveal?: boolean;
}

export function registerHubWorkers(hub: Command): void {
  const workers = hub.command('workers').description('the worker registry: import, list, show and edit workers');

  command(workers, 'import <file>', 'import workers from a CSV (UTF-8, UTF-8 with BOM, GBK) or JSON file')
    .addOption(new Option('--encoding <name>', 'force the CSV encoding instead of detecting it').choices(['utf-8', 'gbk']))
    .action((file: string, o: Common & { encoding?: 'utf-8' | 'gbk' }) => run(o, (store) => {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        throw new SitegateError('import_unreadable', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
      }
      const parsed = parseImportFile(bytes, file, { encoding: o.encoding });
      const result = store.importRows(parsed.rows);
      const rejected = [...parsed.errors, ...result.rejected].sort((a, b) => a.row - b.row);
      const summary = {
        file, format: parsed.format, encoding: parsed.encoding, version: result.version,
        added: result.added, updated: result.updated, unchanged: result.unchanged, rejected, ignoredColumns: parsed.ignoredColumns,
      };
      if (o.json) print(summary);
      else {
        say(`${file}: ${parsed.format.toUpperCase()}, ${parsed.encoding}; registry version ${result.version}`);
        say(`  added ${result.added.length}, updated ${result.updated.length}, unchanged ${result.unchanged.length}, rejected ${new Set(rejected.map((r) => r.row)).size} row(s)`);
        if (parsed.ignoredColumns.length) say(`  ignored columns: ${parsed.ignoredColumns.join(', ')}`);
        for (const a of result.added) say(`  row ${a.row}: added ${a.workerId}`);
        for (const u of result.updated) say(`  row ${u.row}: updated ${u.workerId}`);
        for (const e of rejected) say(`  row ${e.row}: REJECTED ${describeRowError(e)}`);
      }
      return rejected.length ? EXIT_REFUSED : 0;
    }));

  command(workers, 'list', 'list workers')
    .addOption(new Option('--status <status>', 'only this site status').choices(['registered', 'entered', 'left', 'blacklisted', 'suspended']))
    .option('--team <team>', 'only this team (班组)')
    .option('--reveal', 'show full ID numbers')
    .action((o: Common & { status?: SiteStatus; team?: string }) => run(o, (store) => {
      const list = store.list({ status: o.status, team: o.team }).map((w) => ({ ...w, idNumber: o.reveal ? w.idNumber : maskIdNumber(w.idNumber) }));
      if (o.json) print({ version: store.version(), workers: list });
      else {
        say(table(['workerId', 'name', 'ID number', 'team', 'trade', 'status', 'cards', 'faces'], list.map((w) => [w.workerId, w.name, w.idNumber, w.team, w.trade, w.status, String(w.cards), String(w.faces)])));
        say(`${list.length} worker(s), registry version ${store.version()}`);
      }
      return 0;
    }));

  command(workers, 'show <worker>', 'show one worker (by workerId or ID number)')
    .option('--reveal', 'show the full ID number')
    .action((ref: string, o: Common) => run(o, (store) => {
      const w = mustFind(store, ref);
      const view = viewOf(w, !!o.reveal);
      if (o.json) print(view);
      else say(showText(view));
      return 0;
    }));

  command(workers, 'enter <worker>', 'mark a worker as entered on this site (进场)')
    .option('--date <day>', 'the day of entry (Shanghai; default today)')
    .action((ref: string, o: Common & { date?: string }) => run(o, (store) => report(o, store.enter(ref, dayOption(o.date)), 'entered')));

  command(workers, 'leave <worker>', 'mark a worker as having left this site (退场)')
    .option('--date <day>', 'the day of leaving (Shanghai; default today)')
    .action((ref: string, o: Common & { date?: string }) => run(o, (store) => report(o, store.leave(ref, dayOption(o.date)), 'left')));

  command(workers, 'block <worker>', 'blacklist a worker (or suspend with --suspend; lift with --lift)')
    .option('--reason <text>', 'why (kept and shown to operators)')
    .option('--suspend', 'suspend instead of blacklisting')
    .option('--lift', 'lift the block: the worker returns to the status before it')
    .option('--date <day>', 'the day the block starts (Shanghai; default today)')
    .action((ref: string, o: Common & { reason?: string; suspend?: boolean; lift?: boolean; date?: string }) => run(o, (store) => {
      if (o.lift) return report(o, store.unblock(ref), 'block lifted');
      if (!o.reason) throw new SitegateError('usage', 'block needs --reason "<why>"');
      return report(o, store.block(ref, o.suspend ? 'suspended' : 'blacklisted', o.reason, dayOption(o.date)), o.suspend ? 'suspended' : 'blacklisted');
    }));

  command(workers, 'bind-card <worker> <number>', 'bind an IC card UID (hex) or, with --wiegand, a Wiegand number (decimal or facility,card)')
    .option('--wiegand', 'the number is a Wiegand number')
    .action((ref: string, number: string, o: Common & { wiegand?: boolean }) => run(o, (store) => {
      const { record, alreadyBound } = store.bindCard(ref, o.wiegand ? 'wiegand' : 'card', number);
      return report(o, record, alreadyBound ? 'card was already bound' : 'card bound');
    }));

  command(workers, 'enrol-face [worker] [photo]', 'enrol a face: from a photo file (JPEG/PNG/WebP, an ID-card crop too), from the next capture at a gate (--from-gate), or make the templates of enrolments left pending (--pending)')
    .option('--from-gate <gate>', 'capture the face at this gate (the worker steps in front of its camera)')
    .option('--timeout <s>', 'with --from-gate: how long the gate waits for a good face, seconds', '30')
    .option('--pending', 'make the templates of every enrolment left pending (photos stored earlier)')
    .action((ref: string | undefined, photo: string | undefined, o: Common & { fromGate?: string; timeout: string; pending?: boolean }) =>
      runAsync(o, async (store, stateDir, config) => {
        if (o.pending) {
          if (ref || photo || o.fromGate) throw new SitegateError('usage', 'enrol-face --pending takes no worker, photo or --from-gate');
          return enrolPendingCommand(o, store, stateDir);
        }
        if (!ref) throw new SitegateError('usage', 'enrol-face needs a worker (workerId or ID number)');
        if (o.fromGate) {
          if (photo) throw new SitegateError('usage', 'enrol-face --from-gate takes no photo file');
          const seconds = Number(o.timeout);
          if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) throw new SitegateError('usage', `--timeout ${o.timeout}: whole seconds from 1 to 600`);
          const { enrolFromGate } = await import('./hub-enrol-client.js');
          const r = await enrolFromGate(config, store, { worker: mustFind(store, ref).workerId, gateId: o.fromGate, timeoutMs: seconds * 1000 });
          if (o.json) print(r);
          else if (r.ok) say(`${r.message}; registry version ${r.version} (the gates get it with the next roster delta)`);
          else process.stderr.write(`sitegate hub workers: face not enrolled at ${r.gateId} (${r.code}): ${r.message}\n`);
          return r.ok ? 0 : EXIT_REFUSED;
        }
        if (!photo) throw new SitegateError('usage', 'enrol-face needs a photo file, --from-gate GATE or --pending');
        return enrolPhotoCommand(o, store, stateDir, ref, photo);
      }));
}

async function enrolPhotoCommand(o: Common, store: RegistryStore, stateDir: string, ref: string, photo: string): Promise<number> {
  const w = mustFind(store, ref);
  let bytes: Buffer;
  try {
    bytes = readFileSync(photo);
  } catch (err) {
    throw new SitegateError('photo_unreadable', `cannot read ${photo}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  if (!photoTypeOf(bytes)) throw new SitegateError('photo_type', `${photo} is not a JPEG, PNG or WebP image`);
  const faces = await import('../hub/registry/face-enrolment.js');
  let enroller: PhotoEnroller;
  try {
    enroller = await faces.startPhotoEnroller();
  } catch (err) {
    // the photo is kept: `enrol-face --pending` makes its template once the pipeline runs
    const kept = faces.enrolPhotoPending(store, stateDir, w.workerId, bytes);
    const message = `the face pipeline cannot run (${errorMessage(err)}); face ${kept.faceId} kept with its template pending: run \`sitegate hub workers enrol-face --pending\` once it is fixed`;
    if (o.json) print({ ok: false, code: 'face_pipeline', workerId: w.workerId, faceId: kept.faceId, state: 'pending', message });
    process.stderr.write(`sitegate hub workers: ${message}\n`);
    return EXIT_REFUSED;
  }
  try {
    const r = await faces.enrolPhoto(store, stateDir, w.workerId, bytes, enroller);
    if (o.json) print(r.ok ? { ...r, state: 'ready' } : { ...r, code: `face_${r.reason}` });
    if (!r.ok) {
      process.stderr.write(`sitegate hub workers: ${photo} refused for ${w.workerId} (${r.reason}): ${r.message}; nothing was stored\n`);
      return EXIT_REFUSED;
    }
    if (!o.json) say(`${w.workerId} ${w.identity.name}: face ${r.faceId} enrolled from ${r.photoRef}; template ready, registry version ${r.version} (the gates get it with the next roster delta)`);
    return 0;
  } finally {
    await enroller.stop();
  }
}

async function enrolPendingCommand(o: Common, store: RegistryStore, stateDir: string): Promise<number> {
  if (!store.pendingFaces().length) {
    if (o.json) print({ version: store.version(), results: [] });
    else say('no face enrolment is pending');
    return 0;
  }
  const faces = await import('../hub/registry/face-enrolment.js');
  const enroller = await faces.startPhotoEnroller();
  try {
    const results = await faces.enrolPending(store, stateDir, enroller);
    if (o.json) print({ version: store.version(), results });
    else {
      for (const r of results) say(r.ok ? `${r.faceId}: template ready` : `${r.faceId}: FAILED (${r.reason}) ${r.message}`);
      say(`${results.filter((r) => r.ok).length} ready, ${results.filter((r) => !r.ok).length} failed; registry version ${store.version()}`);
    }
    return results.every((r) => r.ok) ? 0 : EXIT_REFUSED;
  } finally {
    await enroller.stop();
  }
}

function command(parent: Command, spec: string, description: string): Command {
  return parent
    .command(spec)
    .description(description)
    .option('-c, --config <path>', 'hub config file', '/etc/sitegate/hub.yaml')
    .option('--json', 'print JSON');
}

/** As run(), for a command that awaits (the face pipeline, the broker). */
async function runAsync(o: Common, body: (store: RegistryStore, stateDir: string, config: HubConfig) => Promise<number>): Promise<void> {
  let store: RegistryStore | null = null;
  try {
    const config = loadConfigFile(hubConfigSchema, o.config);
    mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    store = new RegistryStore(registryPath(config.stateDir), systemClock);
    process.exitCode = await body(store, config.stateDir, config);
  } catch (err) {
    fail(o, err);
  } finally {
    store?.close();
  }
}

function fail(o: Common, err: unknown): void {
  const code = err instanceof SitegateError ? err.code : 'failed';
  process.exitCode = USAGE_CODES.has(code) ? EXIT_USAGE : EXIT_REFUSED;
  if (o.json) print({ ok: false, code, message: errorMessage(err) });
  process.stderr.write(`sitegate hub workers: ${errorMessage(err)}\n`);
}

/** Opens the registry from the hub config, runs the command, maps errors to exit codes. */
function run(o: Common, body: (store: RegistryStore, stateDir: string) => number): void {
  let store: RegistryStore | null = null;
  try {
    const config = loadConfigFile(hubConfigSchema, o.config);
    mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    store = new RegistryStore(registryPath(config.stateDir), systemClock);
    process.exitCode = body(store, config.stateDir);
  } catch (err) {
    fail(o, err);
  } finally {
    store?.close();
  }
}


function mustFind(store: RegistryStore, ref: string): WorkerRecord {
  const w = store.find(ref);
  if (!w) throw new SitegateError('worker_not_found', `no worker "${/^\d{17}[\dX]$/i.test(ref) ? maskIdNumber(ref) : ref}" in the registry`);
  return w;
}

function dayOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const day = normalizeDay(v);
  if (typeof day !== 'string' || !isCalendarDay(day)) throw new SitegateError('usage', `--date ${v}: must be a date like 2026-11-21`);
  return day;
}

function report(o: Common, w: WorkerRecord, what: string): number {
  if (o.json) print({ workerId: w.workerId, status: w.site.status, site: w.site, cards: w.credentials.cards.map((c) => c.number), wiegand: w.credentials.wiegand.map((c) => c.number) });
  else say(`${w.workerId} ${w.identity.name}: ${what} (status ${w.site.status})`);
  return 0;
}

function viewOf(w: WorkerRecord, reveal: boolean) {
  return {
    ...w,
    identity: { ...w.identity, idNumber: reveal ? w.identity.idNumber : maskIdNumber(w.identity.idNumber) },
    credentials: { ...w.credentials, faces: w.credentials.faces.map(({ template, ...f }) => ({ ...f, hasTemplate: template !== null })) },
  };
}

function showText(v: ReturnType<typeof viewOf>): string {
  const id = v.identity;
  const e = v.employment;
  const lines = [
    `${v.workerId}  ${id.name}  (${v.site.status}${v.site.reason ? `: ${v.site.reason}` : ''})`,
    `  identity    ${id.sex === 'male' ? '男' : id.sex === 'female' ? '女' : '?'} ${id.nation ?? ''} born ${id.birthDate ?? '?'}; ID ${id.idType} ${id.idNumber}, valid ${id.idValidFrom ?? '?'} – ${id.idValidTo ?? '长期'}${id.issuingAuthority ? `, ${id.issuingAuthority}` : ''}`,
    `  employment  ${e.employer}; team ${e.team} (${e.teamSysNo}); project ${e.projectCode}; ${e.trade}, ${e.role}${e.phone ? `; ${e.phone}` : ''}`,
    `  site        entered ${v.site.enteredOn ?? '-'}, left ${v.site.leftOn ?? '-'}${v.site.blockedOn ? `, blocked ${v.site.blockedOn}` : ''}`,
    ...v.certificates.map((c) => `  certificate ${c.name} (${c.trade}${c.level ? ` ${c.level}` : ''}) ${c.number}, valid to ${c.validTo ?? '长期'}`),
    `  cards       ${[...v.credentials.cards.map((c) => `IC ${c.number}`), ...v.credentials.wiegand.map((c) => `Wiegand ${c.number}`)].join(', ') || '-'}; ID card ${v.credentials.idCard ? 'bound' : 'not bound'}`,
    ...v.credentials.faces.map((f) => `  face        ${f.faceId} ${f.state}${f.note ? ` (${f.note})` : ''} from ${f.photoRef}`),
  ];
  return lines.join('\n');
}

function describeRowError(e: RowError): string {
  return `${e.field}: ${e.message}${e.name ? ` (${e.name})` : ''}`;
}

function table(head: string[], rows: string[][]): string {
  const width = (s: string) => [...s].reduce((n, ch) => n + (ch.codePointAt(0)! > 0x2e80 ? 2 : 1), 0);
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i] - width(c))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
