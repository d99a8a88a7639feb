// ID card figures: the full find → select → read exchange over a real socat pty with the
// simulated SAM pacing its bytes at 115200 baud, then identify (HMAC lookup) and decide().
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../dist/core/clock.js';
import { credentialHmac } from '../../dist/core/credential.js';
import { idNumberFrom } from '../../dist/core/id-number.js';
import { decide } from '../../dist/core/rules.js';
import { percentile } from '../../dist/core/stats.js';
import { IdCardSam } from '../../dist/gate/hw/idcard.js';
import { openSerialSamLink } from '../../dist/gate/hw/idcard-serial.js';
import { IdCardSim, sampleCard } from '../../dist/gate/hw/sim/idcard-sim.js';

const r2 = (v: number) => Math.round(v * 100) / 100;
const READS = 40;
/** Bytes on the wire per card: three 10-byte commands, the find (15), select (19) and read (1295) replies. */
const WIRE_BYTES = 3 * 10 + 15 + 19 + 1295;

export default async function idcard(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-idcard-'));
  const a = join(dir, 'reader');
  const b = join(dir, 'sam');
  let socat: ChildProcess | null = null;
  const sim = new IdCardSim(systemClock, { baud: 115200 });
  try {
    socat = await startSocat(a, b);
    await sim.openSerial(b);
    const link = await openSerialSamLink(a);
    const sam = new IdCardSam(link, systemClock);
    link.onData((c) => sam.feed(c));

    const siteKey = Buffer.alloc(32, 9);
    const numbers = Array.from({ length: 1000 }, (_, i) => idNumberFrom(`31010119900101${String(i).padStart(3, '0')}`));
    const roster = new Map(
      numbers.map((n, i) => [
        credentialHmac(siteKey, 'idcard', n),
        { workerId: `W${i}`, name: 'w', status: 'entered' as const, idValidTo: '2036-01-01', credentials: [] },
      ]),
    );
    const total: number[] = [];
    const afterWire: number[] = [];
    let granted = 0;
    for (let i = 0; i < READS; i++) {
      const n = numbers[(i * 37) % numbers.length];
      sim.insert(sampleCard({ idNumber: n, birth: n.slice(6, 14) }));
      const t0 = performance.now();
      const r = await sam.readCard();
      const t1 = performance.now();
      if (r.kind !== 'card') throw new Error(`bench read failed: ${r.kind}`);
      const worker = roster.get(credentialHmac(siteKey, 'idcard', r.card.idNumber)) ?? null;
      const d = decide(worker, { nowMs: Date.now(), direction: 'in' });
      const t2 = performance.now();
      if (d.decision === 'granted') granted++;
      total.push(t2 - t0);
      afterWire.push(t2 - t1);
    }
    await link.close();
    if (granted !== READS) throw new Error(`only ${granted} of ${READS} reads granted`);
    const wire = (WIRE_BYTES * 10_000) / 115200;
    return {
      idcard_read_to_decision_p50_ms: r2(percentile(total, 50)),
      idcard_read_to_decision_p99_ms: r2(percentile(total, 99)),
      idcard_wire_ms: r2(wire),
      idcard_beyond_wire_p50_ms: r2(percentile(total, 50) - wire),
      idcard_beyond_wire_p99_ms: r2(percentile(total, 99) - wire),
      idcard_decode_decide_p50_ms: r2(percentile(afterWire, 50)),
    };
  } finally {
    await sim.closeSerial();
    if (socat && socat.exitCode === null) {
      const exited = new Promise((r) => socat!.once('exit', r));
      socat.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  // generous: once, in a whole make bench right after the hub-report section (1M-entry database), socat said nothing for 5 s; not reproduced alone
  const end = Date.now() + 20_000;
  while (!(err.includes('starting data transfer loop') && existsSync(a) && existsSync(b))) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`socat did not start (exit ${child.exitCode ?? 'none'}, signal ${child.signalCode ?? 'none'}, after ${Math.round(20_000 - (end - Date.now()))} ms): ${err}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return child;
}
