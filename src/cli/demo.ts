import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/log.js';
import { maxOf } from '../core/stats.js';
import { DemoSite } from '../demo/site.js';
import type { PunchPath } from '../demo/tracker.js';

export interface DemoOptions {
  workers: number;
  departures: number;
  dir?: string;
  keep?: boolean;
  quiet?: boolean;
  timeout: number;
  /**
   * Enrol the sample faces and replay them at GATE-IN's face lane (default on; `--no-faces`, or
   * SITEGATE_DEMO_FACES=0, turns face matching off for a quicker run).
   */
  faces?: boolean;
}

/** Face matching in the demo: on unless the option or SITEGATE_DEMO_FACES=0 says otherwise. */
export function demoFacesOn(o: Pick<DemoOptions, 'faces'>, env = process.env): boolean {
  if (o.faces !== undefined) return o.faces;
  return env.SITEGATE_DEMO_FACES !== '0';
}

/** `sitegate demo`: returns the exit code (0 only when every platform row reached the platform). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'sitegate-demo-'));
  const log = createLogger('sitegate-demo', process.env.SITEGATE_LOG_LEVEL ?? 'warn');
  const out = (s: string) => process.stdout.write(s + '\n');
  const faces = demoFacesOn(o);
  const site = new DemoSite({ dir, log, arrivals: o.workers, departures: o.departures, faces });
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
  let ok = false;
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    site.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    out(`sitegate demo — site ${site.siteId}, ${o.workers} arriving, ${o.departures} leaving; working in ${dir}`);
    if (faces) out(`${stamp()} cutting and enrolling the faces of face-api's sample photos (face workers in threads)…`);
    await site.start();
    if (faces) {
      out(`${stamp()} ${site.faceStats.enrolled} faces enrolled as workers F001…; GATE-IN lane L2's camera replays them, liveness 'model-only' (still photos cannot pass a motion check)`);
    }
    out(`${stamp()} mosquitto on ${site.broker.url} (a user and ACL per gate), platform simulator on ${site.platform.url}`);
    out(`${stamp()} SoftHSM2 tokens with non-extractable keys: ${site.gates.map((g) => g.gateId).join(', ')}; hub pins their certificates`);
    out(`${stamp()} replaying the morning shift: ${site.shift.swipes.length} swipes`);
    const print = () => {
      if (o.quiet) return;
      for (const p of site.tracker.finished()) out(`${stamp()} ${describe(p)}`);
    };
    const replay = site.replay();
    let replayDone = false;
    void replay.then(() => (replayDone = true));
    while (!replayDone && !stopping) {
      site.tracker.pollPlatform((id) => site.hub.queue.get(id));
      print();
      await new Promise((r) => setTimeout(r, 250));
    }
    await replay;
    out(`${stamp()} all swipes done; waiting for the hub to upload at the platform's pace`);
    ok = !stopping && (await site.settle(o.timeout * 1000, print));
    print();
    out(summary(site, ok, (performance.now() - t0) / 1000));
  } catch (err) {
    out(`demo failed: ${(err as Error).message}`);
    ok = false;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await site.stop();
    if (!o.keep && !o.dir) rmSync(dir, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : v < 10 ? `${v.toFixed(1)}ms` : v < 10_000 ? `${Math.round(v)}ms` : `${(v / 1000).toFixed(1)}s`;
}

function faceLines(site: DemoSite): string[] {
  const f = site.faceStats;
  if (!f.enrolled) return [];
  const paths = [...f.punches].map((id) => site.tracker.paths.get(id)).filter((p): p is PunchPath => p !== undefined);
  const reached = paths.filter((p) => p.platformAt !== null && !String(p.platformResult).startsWith('rejected')).length;
  return [
    `face matching               liveness 'model-only': the camera replays still photos, which cannot pass a motion check`,
    `  faces enrolled            ${f.enrolled}`,
    `  face punches              ${paths.length} (${paths.filter((p) => p.decision === 'granted').length} granted); ${f.spoofs} refused as spoof, ${f.unknown} not recognised`,
    `  face punches at platform  ${reached}`,
  ];
}

function describe(p: PunchPath): string {
  const who = (p.workerId ?? 'unknown card').padEnd(12);
  const head = `${p.gateId.padEnd(8)} ${p.direction.padEnd(3)} ${who}`;
  if (p.decision !== 'granted') {
    return `${head} denied (${p.reason}) → journal → signed ${ms(rel(p.signedAt, p))} → hub ${ms(rel(p.hubAt, p))} · relay untouched, stays on gate and hub`;
  }
  const row = p.rowExpected ? `→ platform ${ms(rel(p.platformAt, p))} (${p.platformResult})` : `· passage ${p.passage}: no platform row`;
  return `${head} granted → journal → relay ${ms(p.cardToRelayMs)} → passage ${p.passage} → signed ${ms(rel(p.signedAt, p))} → hub ${ms(rel(p.hubAt, p))} ${row}`;
}

function rel(t: number | null, p: PunchPath): number | null {
  return t === null ? null : t - p.punchAt;
}

function summary(site: DemoSite, ok: boolean, seconds: number): string {
  const paths = [...site.tracker.paths.values()];
  const granted = paths.filter((p) => p.decision === 'granted');
  const rows = paths.filter((p) => p.rowExpected);
  const signed = paths.filter((p) => p.signedAt !== null).length;
  const atHub = paths.filter((p) => p.hubAt !== null).length;
  const accepted = site.platform.accepted.length;
  const delivered = rows.filter((p) => p.platformAt !== null && !String(p.platformResult).startsWith('rejected')).length;
  const unacked = site.gates.reduce((n, g) => n + g.gate.journal.unackedCount(), 0);
  const sim = site.platform.counters;
  const step = (f: (p: PunchPath) => number | null, set = paths) => ms(maxOf(set.map(f).filter((v): v is number => v !== null)));
  const lines = [
    '',
    '── summary ───────────────────────────────────────────────',
    `swipes                      ${site.tracker.swipes}`,
    `punches journalled          ${paths.length} (${granted.length} granted, ${paths.length - granted.length} denied)`,
    `relay pulses                ${site.relayPulses()}`,
    `punches signed              ${signed}`,
    `received by the hub         ${atHub}`,
    `platform rows expected      ${rows.length}`,
    `accepted by the platform    ${accepted} (rows delivered ${delivered}; platform requests ${sim.requests}, over its limit ${sim.overLimit})`,
    `unacknowledged at gates     ${unacked}`,
    ...faceLines(site),
    '',
    'largest delay of each step',
    `  card → relay              ${step((p) => p.cardToRelayMs, paths.filter((p) => p.credential !== 'face'))}`,
    ...(paths.some((p) => p.credential === 'face') ? [`  face frame → relay        ${step((p) => p.cardToRelayMs, paths.filter((p) => p.credential === 'face'))}`] : []),
    `  punch → signed            ${step((p) => rel(p.signedAt, p))}`,
    `  punch → hub stored        ${step((p) => rel(p.hubAt, p))}`,
    `  punch → gate acked        ${step((p) => rel(p.ackedAt, p))}`,
    `  punch → platform          ${step((p) => rel(p.platformAt, p), rows)}`,
    '',
    `${ok && accepted === rows.length && delivered === rows.length ? 'OK' : 'FAILED'}: ${delivered} of ${rows.length} platform rows reached the platform in ${seconds.toFixed(1)} s`,
  ];
  return lines.join('\n');
}
