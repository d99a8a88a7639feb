// Rules figures: one access decision with every rule enabled (card+face, status, ID validity,
// special-trade certificate, allowed hours, anti-passback) on a realistic worker, timed per call.
import type { Presence } from '../../dist/core/presence.js';
import { decide } from '../../dist/core/rules.js';
import { siteRulesSchema } from '../../dist/core/site-rules.js';
import { percentile } from '../../dist/core/stats.js';
import type { RosterWorker } from '../../dist/core/worker.js';

const r3 = (v: number) => Math.round(v * 1000) / 1000;

export default async function rules(): Promise<Record<string, number>> {
  const siteRules = siteRulesSchema.parse({
    specialTrades: ['电工', '焊工', '架子工', '起重信号工', '塔式起重机司机', '施工升降机司机', '高处作业吊篮安装拆卸工', '建筑起重司索信号工', '爆破工', '电梯安装维修工'],
    hours: { windows: [{ from: '05:30', to: '12:00' }, { from: '12:30', to: '21:00' }, { from: '22:00', to: '04:00' }], directions: 'in' },
    antiPassback: { policy: 'deny', directions: 'both', resetDaily: true },
    verification: 'card+face',
    papersOnExit: true,
  });
  const workers: RosterWorker[] = Array.from({ length: 64 }, (_, i) => ({
    workerId: `W${String(i).padStart(6, '0')}`,
    name: '张三丰',
    status: 'entered',
    idValidTo: i % 3 === 0 ? null : '2036-01-01',
    credentials: [
      { kind: 'card', hmac: 'a'.repeat(64) },
      { kind: 'wiegand', hmac: 'b'.repeat(64) },
      { kind: 'idcard', hmac: 'c'.repeat(64) },
    ],
    trade: i % 2 ? '电工' : '架子工',
    certificates: [
      { trade: '焊工', validTo: '2025-01-01' },
      { trade: i % 2 ? '电工' : '架子工', validTo: '2020-06-30' },
      { trade: i % 2 ? '电工' : '架子工', validTo: '2029-06-30' },
    ],
  }));
  const base = Date.UTC(2026, 10, 21, 0, 0); // 08:00 Shanghai
  const presence: Presence = { direction: 'out', atMs: base - 3_600_000, source: 'hub' };
  let granted = 0;
  const run = (n: number, record: number[] | null) => {
    for (let i = 0; i < n; i++) {
      const w = workers[i & 63];
      const ctx = { nowMs: base + (i % 36_000) * 1000, direction: 'in' as const, rules: siteRules, presence, factors: { card: w.workerId, face: w.workerId } };
      const t0 = process.hrtime.bigint();
      const d = decide(w, ctx);
      const t1 = process.hrtime.bigint();
      if (d.decision === 'granted') granted++;
      record?.push(Number(t1 - t0) / 1000);
    }
  };
  run(50_000, null);
  const lat: number[] = [];
  run(200_000, lat);
  if (granted === 0) throw new Error('rules bench: no decision was granted; the scenario is wrong');
  return { rules_decision_p50_us: r3(percentile(lat, 50)), rules_decision_p99_us: r3(percentile(lat, 99)) };
}
