import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SitegateError } from '../core/errors.js';

/**
 * Reads one YAML config file and validates it. The error names the file, the key path and
 * what was wrong with it, so a technician can fix the file without reading code.
 */
export function loadConfigFile<T extends z.ZodType>(schema: T, path: string): z.infer<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SitegateError('config_unreadable', `cannot read config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new SitegateError('config_yaml', `config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(schema, raw, path);
}

export function parseConfig<T extends z.ZodType>(schema: T, raw: unknown, source: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map(describeIssue);
    throw new SitegateError('config_invalid', `config ${source} is invalid:\n  ${problems.join('\n  ')}`, {
      keys: result.error.issues.map((i) => keyPath(i.path)),
    });
  }
  return result.data;
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '(top level)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const base = issue.path.length ? `${keyPath(issue.path)}.` : '';
    return issue.keys.map((k) => `${base}${k}: unknown key`).join('; ');
  }
  return `${keyPath(issue.path)}: ${issue.message}`;
}

/** Reads a JSON document (roster, registry) and validates it; the error names the file and the field. */
export function loadJsonFile<T extends z.ZodType>(schema: T, path: string, what: string): z.infer<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SitegateError(`${what}_unreadable`, `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  return parseJsonText(schema, text, path, what);
}

/** Validates a JSON document already read from `path`, with loadJsonFile's errors. */
export function parseJsonText<T extends z.ZodType>(schema: T, text: string, path: string, what: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SitegateError(`${what}_unreadable`, `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new SitegateError(`${what}_invalid`, `${what} ${path} is invalid at ${keyPath(i.path)}: ${i.message}`);
  }
  return r.data;
}

/** Reads a secret from a file (PIN, password, app secret); trailing newline removed. Never logged. */
export function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new SitegateError('secret_unreadable', `cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
