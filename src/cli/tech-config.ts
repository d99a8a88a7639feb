import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { errorMessage, SitegateError } from '../core/errors.js';
import { EXIT, fail, printJson, printLines, usageExit2 } from './tech-common.js';

export const configCheckSchema = z.strictObject({
  file: z.string(),
  kind: z.enum(['gate', 'hub']),
  valid: z.boolean(),
  /** "key: what is wrong", one per problem */
  problems: z.array(z.string()),
  /** files the config names that this machine does not have */
  missingFiles: z.array(z.string()),
});
export type ConfigCheck = z.infer<typeof configCheckSchema>;

/** `sitegate config check FILE`: offline, with the daemons' own schemas. */
export function registerConfigCheck(program: Command): void {
  const config = usageExit2(program.command('config').description('check a config file before it is used'));
  usageExit2(config.command('check'))
    .description('validate a gate or hub YAML file (works without a running daemon)')
    .argument('<file>', 'the YAML file')
    .addOption(new Option('--kind <kind>', 'gate or hub (default: guessed from the keys)').choices(['gate', 'hub']))
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: { kind?: 'gate' | 'hub'; json?: boolean }) => {
      const r = await checkConfig(file, o.kind);
      if (r instanceof SitegateError) return fail(o, r.code, r.message, r.code === 'config_kind_unknown' ? EXIT.usage : EXIT.fault);
      if (o.json) printJson(r);
      else {
        const lines = [`${r.file}: ${r.kind} config ${r.valid ? 'is valid' : 'is INVALID'}`];
        for (const p of r.problems) lines.push(`  ${p}`);
        for (const f of r.missingFiles) lines.push(`  warning: ${f} does not exist on this machine`);
        printLines(lines);
      }
      process.exitCode = r.valid ? EXIT.ok : EXIT.fault;
    });
}

/** The YAML parser and the daemons' schemas load here, not with the CLI (`sitegate status` stays quick). */
export async function checkConfig(file: string, kind?: 'gate' | 'hub'): Promise<ConfigCheck | SitegateError> {
  const { parse: parseYaml } = await import('yaml');
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    return new SitegateError('config_unreadable', `cannot read ${file}: ${errorMessage(err)}`);
  }
  const k = kind ?? guessKind(raw, file);
  if (!k) return new SitegateError('config_kind_unknown', `cannot tell whether ${file} is a gate or a hub config: add --kind gate|hub`);
  const [{ loadConfigFile }, schema] = await Promise.all([
    import('../config/load.js'),
    k === 'gate' ? import('../config/gate-config.js').then((m) => m.gateConfigSchema) : import('../config/hub-config.js').then((m) => m.hubConfigSchema),
  ]);
  try {
    const parsed: unknown = loadConfigFile(schema as z.ZodType, file);
    return { file, kind: k, valid: true, problems: [], missingFiles: namedFiles(parsed).filter((f) => !existsSync(f)) };
  } catch (err) {
    if (!(err instanceof SitegateError) || err.code !== 'config_invalid') return err instanceof SitegateError ? err : new SitegateError('config_unreadable', errorMessage(err));
    return { file, kind: k, valid: false, problems: err.message.split('\n').slice(1).map((l) => l.trim()), missingFiles: [] };
  }
}

function guessKind(raw: unknown, file: string): 'gate' | 'hub' | null {
  if (raw && typeof raw === 'object') {
    if ('gateId' in raw || 'lanes' in raw) return 'gate';
    if ('platform' in raw || 'registry' in raw || 'gates' in raw) return 'hub';
  }
  const name = basename(file);
  return /gate/i.test(name) ? 'gate' : /hub/i.test(name) ? 'hub' : null;
}

/** Every string value under a key ending in File (pinFile, passwordFile, certFile…). */
function namedFiles(v: unknown, key = ''): string[] {
  if (typeof v === 'string') return /File$|^file$/.test(key) ? [v] : [];
  if (Array.isArray(v)) return v.flatMap((x) => namedFiles(x, key));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => namedFiles(x, k));
  return [];
}
