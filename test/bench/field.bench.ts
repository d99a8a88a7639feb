// Field figures: `sitegate status --json` against a live control socket, process spawn included
// (what a technician waits for over SSH).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../dist/core/clock.js';
import { silentLogger } from '../../dist/core/log.js';
import { percentile } from '../../dist/core/stats.js';
import { gateHandlers } from '../../dist/control/providers.js';
import { ControlServer } from '../../dist/control/server.js';
import { FakeGateControl } from '../field/fake-gate-control.ts';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const r2 = (v: number) => Math.round(v * 100) / 100;

export default async function field(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-field-'));
  const socket = join(dir, 'gate.sock');
  const server = new ControlServer({ path: socket, handlers: gateHandlers(new FakeGateControl()), clock: systemClock, log: silentLogger(), group: null });
  await server.start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      const code = await new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [CLI, 'status', '--json', '--socket', socket], { stdio: 'ignore' });
        c.on('exit', resolve);
      });
      if (code !== 0) throw new Error(`sitegate status exited ${code}`);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { status_cmd_ms_p50: r2(percentile(times, 50)), status_cmd_ms_p99: r2(percentile(times, 99)) };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
