import { afterEach, describe, expect, it } from 'vitest';
import { backlog, HOUR, overLimitInLog, simSetup } from './sim-harness.js';

// The forwarder against the project's platform simulator, over real HTTP on loopback, both on
// one injected clock: the simulator's own log is the audit.
type Setup = Awaited<ReturnType<typeof simSetup>>;
const open: Setup[] = [];
async function setup(o: Parameters<typeof simSetup>[0] = {}): Promise<Setup> {
  const s = await simSetup(o);
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe('forwarder against the platform simulator', () => {
  it('drains a 10,000-punch backlog with no request over the limit, audited from the simulator log', async () => {
    const s = await setup();
    s.enqueue(backlog(10_000));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, 2 * HOUR, 1_200)).toBe(true);

    expect(s.queue.counts()).toMatchObject({ delivered: 10_000, rejected: 0, pending: 0, inFlight: 0 });
    const log = s.sim.requests;
    expect(log.filter((r) => r.overLimit)).toEqual([]);
    expect(overLimitInLog(log, 1, 1200)).toBe(0);
    expect(log.every((r) => r.code === 0)).toBe(true);
    expect(s.sim.counters).toMatchObject({ acceptedRows: 10_000, duplicateRows: 0, overLimit: 0 });
    const uploads = log.filter((r) => r.method === 'WorkerAttendance.Add');
    expect(uploads).toHaveLength(500);
    expect(uploads.every((u) => u.rows === 20)).toBe(true);
    // every request is counted by the hub, result polls included
    expect(s.forwarder.counters.requests).toBe(log.length);
    expect(s.pacer.stats.requests).toBe(log.length);
  }, 120_000);

  it('backs off after -5 with the injected jitter and delivers without hammering', async () => {
    // the hub is configured faster than the platform allows: the platform answers -5
    const s = await setup({ pacing: { minSpacingMs: 200, bucket: { capacity: 1, refillPerMs: 1 / 200 } } });
    s.enqueue(backlog(60));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 100)).toBe(true);
    expect(s.queue.counts().delivered).toBe(60);
    const limited = s.sim.requests.filter((r) => r.code === -5);
    expect(limited.length).toBeGreaterThan(0);
    expect(s.pacer.stats.rateLimited).toBe(limited.length);
    expect(s.jitter.length).toBeGreaterThanOrEqual(limited.length);
    // after each -5 the next request waits at least the back-off (base 2 s, equal jitter 0.25 → ≥ 1.25 s)
    const log = s.sim.requests;
    for (let i = 0; i < log.length - 1; i++) {
      if (log[i].code === -5) expect(log[i + 1].atMs - log[i].atMs).toBeGreaterThanOrEqual(1_250);
    }
    expect(limited.length).toBeLessThan(log.length / 2);
  });

  it('stops with a fault on -2 (bad signature) and makes no further request', async () => {
    const s = await setup({ appSecret: 'fedcba9876543210fedcba9876543210' });
    s.enqueue(backlog(40));
    s.forwarder.start();
    await s.clock.advance(6 * HOUR);
    expect(s.sim.requests.map((r) => r.code)).toEqual([-2]);
    expect(s.faults).toMatchObject([{ kind: 'bad_sign', code: -2 }]);
    expect(s.pacer.halted).toContain('bad_sign');
    expect(s.queue.counts()).toMatchObject({ pending: 40, inFlight: 0, delivered: 0 });
  });

  it('stops with a fault on -4 (address not on the allow-list) and makes no further request', async () => {
    const s = await setup({ allowList: ['10.9.9.9'] });
    s.enqueue(backlog(40));
    s.forwarder.start();
    await s.clock.advance(6 * HOUR);
    expect(s.sim.requests.map((r) => r.code)).toEqual([-4]);
    expect(s.faults).toMatchObject([{ kind: 'ip_not_allowed', code: -4 }]);
    expect(s.forwarder.counters.lastError).toMatchObject({ kind: 'ip_not_allowed', code: -4 });
    expect(s.queue.counts().pending).toBe(40);
  });

  it('retries a request that timed out, backed off, and the platform ends with every row once', async () => {
    const s = await setup({ timeoutMs: 5_000 });
    s.sim.timeoutNext(2);
    s.enqueue(backlog(30));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 500)).toBe(true);
    const log = s.sim.requests;
    expect(log.slice(0, 2).map((r) => r.fault)).toEqual(['hold', 'hold']);
    expect(s.queue.counts().delivered).toBe(30);
    expect(s.sim.accepted).toHaveLength(30);
    expect(s.pacer.stats.failures).toBe(2);
    // the second retry waited longer than the first (exponential)
    const gap1 = log[1].atMs - log[0].atMs;
    const gap2 = log[2].atMs - log[1].atMs;
    expect(gap2).toBeGreaterThan(gap1);
  });

  it('retries 5xx answers, honouring Retry-After', async () => {
    const s = await setup();
    s.sim.failNext(1, { status: 503, retryAfter: '30' });
    s.sim.failNext(1, { status: 500 });
    s.enqueue(backlog(25));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 500)).toBe(true);
    const log = s.sim.requests;
    expect(log.slice(0, 2).map((r) => r.httpStatus)).toEqual([503, 500]);
    expect(log[1].atMs - log[0].atMs).toBeGreaterThanOrEqual(30_000);
    expect(s.queue.counts().delivered).toBe(25);
    expect(s.faults).toEqual([]);
  });

  it('in joint-test mode makes no call over a long stretch without a command; auto mode drains the same backlog', async () => {
    const joint = await setup({ mode: 'joint-test' });
    joint.enqueue(backlog(200));
    joint.forwarder.start();
    await joint.clock.advance(12 * HOUR);
    expect(joint.sim.requests).toHaveLength(0);
    expect(joint.queue.counts().pending).toBe(200);

    // an operator's command sends a few rows, paced, and nothing follows
    let done = false;
    void joint.forwarder.uploadNow(3).then(() => (done = true));
    await joint.clock.runUntil(() => done, HOUR, 500);
    expect(joint.sim.requests.map((r) => r.rows)).toEqual([3, 0]);
    await joint.clock.advance(12 * HOUR);
    expect(joint.sim.requests).toHaveLength(2);
    expect(joint.sim.accepted).toHaveLength(3);

    const auto = await setup({ mode: 'auto' });
    auto.enqueue(backlog(200));
    auto.forwarder.start();
    await auto.clock.advance(12 * HOUR);
    expect(auto.queue.counts().delivered).toBe(200);
    expect(auto.sim.counters.overLimit).toBe(0);
  });
});
