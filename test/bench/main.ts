// `make bench`: runs each section, prints one table and writes test/bench/last.json
// (figure name → number, each section's wall time included). `make bench ONLY=<section>`.
// Each `<section>.bench.ts` beside this file exports `default async () => figures`; foundation runs first.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type Figures = Record<string, number>;
const here = dirname(new URL(import.meta.url).pathname);
const names = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort((a, b) => (a === 'foundation' ? -1 : b === 'foundation' ? 1 : a.localeCompare(b)));
const sections: Record<string, () => Promise<Figures>> = {};
for (const n of names) sections[n] = async () => (await import(join(here, `${n}.bench.ts`))).default();

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1] : undefined;
if (only && !sections[only]) {
  console.error(`unknown bench section "${only}"; sections: ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}

const figures: Figures = {};
for (const [name, run] of Object.entries(sections)) {
  if (only && name !== only) continue;
  const t0 = performance.now();
  process.stderr.write(`bench: ${name}…\n`);
  Object.assign(figures, await run());
  figures[`section_${name}_wall_s`] = round((performance.now() - t0) / 1000);
}

const width = Math.max(...Object.keys(figures).map((k) => k.length));
console.log(`${'figure'.padEnd(width)}  value`);
console.log(`${'-'.repeat(width)}  ---------`);
for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(width)}  ${v}`);
const out = join(here, 'last.json');
mkdirSync(dirname(out), { recursive: true });
// one section run (--only) updates its figures and keeps the others from the last full run
const previous = only && existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Figures) : {};
writeFileSync(out, JSON.stringify({ ...previous, ...figures }, null, 2) + '\n');
console.log(`\nwritten to ${out}`);
process.exit(0);

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
