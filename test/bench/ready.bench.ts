// Start-up of the real gate daemon (`sitegate gate -c FILE`, dist/, the pinned Node 24) as systemd
// runs it: from spawning the process to READY=1 on its NOTIFY_SOCKET (socat listening), with face
// matching on (two face workers with their models) and a 100,000-worker roster file, every worker
// with a card and a face template. The first start imports the roster file into the gate's store;
// a restart finds it stored. Face matching comes up after READY=1 (cards work meanwhile):
// gate_face_ready_s is when its 1:N index holds the roster. Then `sitegate status --json` against
// that gate's control socket, process spawn included.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from '../../dist/core/stats.js';
import { CLI, runtimeNode, SITE, SitegateProcess, startFieldSite } from '../field/daemon-site.ts';
import { writeBenchRoster } from './roster-fixture.ts';
import { benchSoftHsmDir } from './softhsm-dir.ts';
import { NotifyListener, waitFor } from '../field/helpers.ts';

const WORKERS = 100_000;
const r2 = (v: number) => Math.round(v * 100) / 100;

export default async function ready(): Promise<Record<string, number>> {
  const dir = mkdtempSync('/tmp/br-');
  const rosterFile = join(dir, 'roster.json');
  const t0 = performance.now();
  writeBenchRoster(rosterFile, { workers: WORKERS, siteId: SITE, template: randomUnitTemplate });
  const rosterWriteS = (performance.now() - t0) / 1000;
  const site = await startFieldSite(join(dir, 'site'), { rosterFile, tokenDir: benchSoftHsmDir() });
  const camera = join(dir, 'camera');
  mkdirSync(camera);
  site.writeGateConfig({ face: { enabled: true, workers: 2, camera: { lane: 'L1', direction: 'in', directory: camera } } });
  const listeners: NotifyListener[] = [];
  let gate: SitegateProcess | null = null;
  const socket = join(dir, 'gate.sock');

  const start = async (n: number) => {
    const listener = new NotifyListener(join(dir, `notify-${n}`));
    listeners.push(listener);
    await listener.start();
    const began = performance.now();
    const beganWall = Date.now();
    gate = new SitegateProcess(['gate', '-c', site.gateConfigPath], {
      ...process.env,
      NOTIFY_SOCKET: listener.path,
      WATCHDOG_USEC: '30000000',
      SOFTHSM2_CONF: site.softhsmConf,
      SITEGATE_CONTROL_SOCKET: socket,
      SITEGATE_LOG_LEVEL: 'info',
    });
    const g = gate;
    await waitFor(() => listener.count('READY=1') >= 1 || !g.running, 300_000, 'READY=1');
    if (!g.running) throw new Error(`the gate exited before READY=1:\n${g.log.slice(-2000)}`);
    const readyS = (performance.now() - began) / 1000;
    await waitFor(() => g.said('face matching started') || g.said('face matching is off') || !g.running, 300_000, 'face matching');
    if (!g.said('face matching started')) throw new Error(`face matching did not start:\n${g.log.slice(-2000)}`);
    // by the log line's own time: it may come before READY=1 reaches the listener
    const m = /"time":(\d+)[^\n]*"workers":(\d+)[^\n]*"msg":"face matching started"/.exec(g.log);
    if (Number(m?.[2]) !== WORKERS) throw new Error(`the face index holds ${m?.[2]} workers, not ${WORKERS}`);
    const faceS = (Number(m![1]) - beganWall) / 1000;
    return { readyS, faceS };
  };

  try {
    const first = await start(1);
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const code = await new Promise<number | null>((resolve) => {
        const c = spawn(runtimeNode(), [CLI, 'status', '--json', '--socket', socket], { stdio: 'ignore' });
        c.on('exit', resolve);
      });
      // 1: degraded (no reader attached, no hub): still a full answer
      if (code !== 0 && code !== 1) throw new Error(`sitegate status exited ${code}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const stopped = await gate!.stop('SIGTERM', 60_000);
    if (stopped !== 0) throw new Error(`the gate did not stop cleanly: ${stopped}`);
    const restart = await start(2);
    return {
      gate_ready_s: r2(first.readyS),
      gate_face_ready_s: r2(first.faceS),
      gate_ready_restart_s: r2(restart.readyS),
      gate_face_ready_restart_s: r2(restart.faceS),
      gate_ready_roster_workers: WORKERS,
      gate_ready_roster_file_mb: r2(statSync(rosterFile).size / 1e6),
      gate_ready_roster_write_s: r2(rosterWriteS),
      status_cmd_real_gate_ms_p50: r2(percentile(times, 50)),
      status_cmd_real_gate_ms_p99: r2(percentile(times, 99)),
    };
  } finally {
    await (gate as SitegateProcess | null)?.stop('SIGKILL', 10_000);
    for (const l of listeners) l.stop();
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Random unit-length face templates, as enrolment gives. */
function randomUnitTemplate(_i: number, v: Float32Array): void {
  let norm = 0;
  for (let k = 0; k < 128; k++) {
    v[k] = Math.random() * 2 - 1;
    norm += v[k] * v[k];
  }
  norm = Math.sqrt(norm);
  for (let k = 0; k < 128; k++) v[k] /= norm;
}
