// `make bench`: runs each section, prints one table and writes test/bench/last.json
// (figure name → number, each section's wall time included). `make bench ONLY=<section>`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { foundation } from './foundation.ts';

type Figures = Record<string, number>;
const sections: Record<string, () => Promise<Figures>> = { foundation };

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
const out = join(dirname(new URL(import.meta.url).pathname), 'last.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(figures, null, 2) + '\n');
console.log(`\nwritten to ${out}`);
process.exit(0);

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
