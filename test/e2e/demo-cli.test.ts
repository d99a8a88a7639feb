import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

// `sitegate demo` as the README shows it, on a short shift.
describe('sitegate demo', () => {
  it('runs the whole site, prints the summary and exits 0 when every platform row arrived', () => {
    // face matching off: the card path alone, counted exactly
    const r = spawnSync(process.execPath, [CLI, 'demo', '--workers', '5', '--departures', '2'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, SITEGATE_DEMO_FACES: '0' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/replaying the morning shift: 9 swipes/);
    expect(r.stdout).toMatch(/GATE-IN +in +W00001 +granted → journal → relay .* → platform .*\(accepted\)/);
    expect(r.stdout).toMatch(/denied \(not_registered\)/);
    expect(r.stdout).toMatch(/relay pulses +7\n/);
    expect(r.stdout).toMatch(/accepted by the platform +7 /);
    expect(r.stdout).toMatch(/OK: 7 of 7 platform rows reached the platform/);
    expect(r.stdout).toMatch(/ {2}card → relay +[\d.]+m?s\n/);
    expect(r.stdout).not.toMatch(/face frame → relay/);
  });

  it('by default also enrols the sample photos\' faces and replays them at a camera: face punches reach the platform, liveness model-only said', () => {
    const env = { ...process.env };
    delete env.SITEGATE_DEMO_FACES;
    const r = spawnSync(process.execPath, [CLI, 'demo', '--workers', '2', '--departures', '1', '--quiet'], { encoding: 'utf8', timeout: 240_000, env });
    expect(r.status).toBe(0);
    const enrolled = Number(/faces enrolled +(\d+)/.exec(r.stdout)?.[1]);
    expect(enrolled).toBeGreaterThanOrEqual(10);
    expect(r.stdout).toMatch(/liveness 'model-only'.*still photos cannot pass a motion check/);
    const punches = Number(/face punches +(\d+) \((\d+) granted\)/.exec(r.stdout)?.[2]);
    expect(punches).toBeGreaterThanOrEqual(enrolled / 2);
    expect(r.stdout).toMatch(new RegExp(`face punches at platform +${punches}\\n`));
    // Face punches' relay delay runs from the camera frame: reported apart from the cards'.
    expect(r.stdout).toMatch(/ {2}card → relay +[\d.]+m?s\n {2}face frame → relay +[\d.]+m?s\n/);
    expect(r.stdout).toMatch(/OK: (\d+) of \1 platform rows reached the platform/);
  });

  it('refuses a bad option with a non-zero exit', () => {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});
