// The shared face photos (../shared/faces): tests that need them skip visibly when the directory is
// missing, except under CI=true, where it must be there.
import { existsSync } from 'node:fs';

export const facesDir = process.env.SITEGATE_FACES_DIR ?? '/work/shared/faces';
export const haveFaces = existsSync(facesDir);

if (!haveFaces) {
  if (process.env.CI === 'true') throw new Error(`face photos missing at ${facesDir}: CI must have ../shared/faces`);
  console.warn(`SKIPPED: face photo tests need ${facesDir} (absent here)`);
}
