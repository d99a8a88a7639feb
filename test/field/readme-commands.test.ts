import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers.js';

// Every `sitegate …` command the README shows must be a command the CLI has, with the options the
// README gives it: each line is run with --help appended, which parses the command path (an unknown
// command or subcommand fails). What each command does is tested where it is built
// (test/field/tech-cli, test/hub, test/registry, test/gate-integration, test/e2e).
function readmeCommands(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = new Set<string>();
  for (const m of text.matchAll(/^(?:sudo )?sitegate ([^\n#]*?)\s*(?:#.*)?$/gm)) lines.add(m[1].trim());
  for (const m of text.matchAll(/`sitegate ([a-z][^`]*)`/g)) lines.add(m[1].trim());
  return [...lines];
}

describe('the README', () => {
  const commands = readmeCommands();

  it('shows the technician and operator commands', () => {
    for (const c of ['status', 'punches --last 20', 'open --lane L1 --dir in', 'selftest', 'hub report --date 2026-11-21', 'hub workers import workers.csv']) {
      expect(commands).toContain(c);
    }
  });

  it.skipIf(!existsSync(CLI))('names only commands the CLI has', () => {
    const bad: string[] = [];
    for (const c of commands) {
      // the command path: leading plain words (`hub workers import`), then --help
      const path: string[] = [];
      for (const w of c.split(/\s+/)) {
        if (!/^[a-z][a-z-]*$/.test(w) || w.startsWith('-')) break;
        path.push(w);
      }
      const r = spawnSync(process.execPath, [CLI, ...path, '--help'], { encoding: 'utf8', timeout: 30_000 });
      const help = r.stdout;
      const usage = help.match(/^Usage: sitegate (.*)$/m)?.[1] ?? '';
      if (r.status !== 0 || !usage.startsWith(path.join(' '))) bad.push(`${c} → exit ${r.status}, usage "${usage}"`);
      for (const opt of c.match(/--[a-z-]+/g) ?? []) if (!help.includes(opt)) bad.push(`${c}: option ${opt} unknown`);
    }
    expect(bad).toEqual([]);
  });
});
