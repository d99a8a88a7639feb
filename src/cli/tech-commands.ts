import { Option, type Command } from 'commander';
import {
  openResultSchema,
  punchListSchema,
  rosterInfoSchema,
  rosterMatchesSchema,
  statusViewSchema,
  tokenInfoSchema,
  type PunchView,
} from '../control/views.js';
import { registerConfigCheck } from './tech-config.js';
import { ask, clientCommand, EXIT, positiveInt, printJson, printLines, usageExit2, when, whoAmI, type ClientOptions } from './tech-common.js';
import { statusLines } from './tech-status.js';

/**
 * The technician's commands: status, punches, open, roster, token (over the daemon's control
 * socket) and config check (offline). Exit codes: tech-common.ts EXIT.
 */
export function registerTechCommands(program: Command): void {
  clientCommand(program.command('status'))
    .description('one screen: readers, relays, fire alarm, token, clock, roster, journal, hub link, faults')
    .action(async (o: ClientOptions) => {
      const v = await ask(o, { cmd: 'status' }, statusViewSchema);
      if (!v) return;
      if (o.json) printJson(v);
      else printLines(statusLines(v));
      process.exitCode = v.health === 'ok' ? EXIT.ok : EXIT.fault;
    });

  clientCommand(program.command('punches'))
    .description('punches awaiting the hub (--pending) or the newest ones (--last N)')
    .option('--pending', 'punches the hub has not acknowledged yet, oldest first')
    .option('--last <n>', 'the newest N punches', (v) => positiveInt(v, '--last'))
    .option('--limit <n>', 'at most this many with --pending', (v) => positiveInt(v, '--limit'), 100)
    .action(async (o: ClientOptions & { pending?: boolean; last?: number; limit: number }, cmd: Command) => {
      if (!!o.pending === (o.last !== undefined)) cmd.error('error: give either --pending or --last N', { exitCode: EXIT.usage });
      const args = o.pending ? { pending: true as const, limit: Math.min(o.limit, 1000) } : { last: Math.min(o.last!, 1000) };
      const list = await ask(o, { cmd: 'punches', args }, punchListSchema);
      if (!list) return;
      if (o.json) return printJson(list);
      printLines(punchTable(list));
    });

  clientCommand(program.command('open'))
    .description('open a lane once (logged as a manual open under your name)')
    .requiredOption('--lane <lane>', 'lane name, as in the config')
    .addOption(new Option('--dir <dir>', 'direction').choices(['in', 'out']).makeOptionMandatory())
    .option('--reason <text>', 'why, for the log')
    .action(async (o: ClientOptions & { lane: string; dir: 'in' | 'out'; reason?: string }) => {
      const r = await ask(o, { cmd: 'open', args: { lane: o.lane, direction: o.dir, who: whoAmI(), reason: o.reason } }, openResultSchema);
      if (!r) return;
      if (o.json) printJson(r);
      else printLines([`opened ${r.lane}.${r.direction}: passage ${r.passage ?? 'not settled'}${r.punchId ? ` (journal ${r.punchId})` : ''}`]);
    });

  const roster = usageExit2(program.command('roster').description('the roster this gate decides with'));
  clientCommand(roster.command('info'))
    .description('version, size and credentials of the loaded roster')
    .action(async (o: ClientOptions) => {
      const r = await ask(o, { cmd: 'roster.info' }, rosterInfoSchema);
      if (!r) return;
      if (o.json) return printJson(r);
      const creds = Object.entries(r.credentials).map(([k, n]) => `${k} ${n}`).join(' · ') || 'none';
      printLines([`roster of site ${r.siteId ?? '-'}: version ${r.version ?? 'none'} · ${r.size} workers`, `credentials: ${creds}`]);
    });
  clientCommand(roster.command('find'))
    .description('workers by id (exact) or name (part of it)')
    .argument('<query>', 'worker id or part of a name')
    .option('--limit <n>', 'at most this many', (v) => positiveInt(v, '--limit'), 20)
    .action(async (query: string, o: ClientOptions & { limit: number }) => {
      const r = await ask(o, { cmd: 'roster.find', args: { query, limit: Math.min(o.limit, 100) } }, rosterMatchesSchema);
      if (!r) return;
      if (o.json) return printJson(r);
      if (!r.length) {
        printLines([`no worker matches "${query}"`]);
        process.exitCode = EXIT.fault;
        return;
      }
      printLines(r.map((w) => `${w.workerId.padEnd(14)} ${w.name.padEnd(12)} ${w.status.padEnd(9)} to ${(w.idValidTo ?? '-').padEnd(10)} ${w.credentials.join(',')}`));
    });

  const token = usageExit2(program.command('token').description("the gate's signing token"));
  clientCommand(token.command('info'))
    .description('token state, key, mechanism and certificate')
    .action(async (o: ClientOptions) => {
      const t = await ask(o, { cmd: 'token.info' }, tokenInfoSchema);
      if (!t) return;
      const bad = t.state !== 'open' || !t.certificate || t.certificate.expiresInDays < 0;
      process.exitCode = bad ? EXIT.fault : EXIT.ok;
      if (o.json) return printJson(t);
      const c = t.certificate;
      printLines([
        `token     ${t.tokenLabel} · ${t.state.toUpperCase()} · module ${t.module}`,
        `key       ${t.keyLabel} · ${t.mechanism} · ${t.signatures} signatures · ${t.pendingEntries} entries to sign`,
        ...(c
          ? [
              `subject   ${c.subject}`,
              `issuer    ${c.issuer}`,
              `serial    ${c.serial}`,
              `valid     ${when(c.notBeforeMs)} to ${when(c.notAfterMs)} (${c.expiresInDays < 0 ? 'EXPIRED' : `${c.expiresInDays} days left`})`,
              `sha256    ${c.sha256}`,
            ]
          : ['certificate  NONE READ']),
      ]);
    });

  registerConfigCheck(program);
}

function punchTable(list: PunchView[]): string[] {
  if (!list.length) return ['no punches'];
  const lines = ['   seq  time (Shanghai)      lane    cred.    worker       decision  passage   hub'];
  for (const p of list) {
    const decision = p.decision === 'granted' ? 'granted' : `denied:${p.reason}`;
    lines.push(
      `${String(p.seq).padStart(6)}  ${when(p.timeMs)}${p.clockSynced ? ' ' : '?'} ${`${p.lane}.${p.direction}`.padEnd(7)} ${p.credential.padEnd(8)} ${(p.workerId ?? '-').padEnd(12)} ${decision.padEnd(9)} ${(p.passage ?? '-').padEnd(9)} ${p.acked ? 'acked' : 'waits'}`,
    );
  }
  return lines;
}
