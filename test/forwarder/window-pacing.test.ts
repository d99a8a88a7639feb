import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Forwarder } from '../../src/hub/forwarder.js';
import { Pacer, type PacerOptions, type PacerWindow } from '../../src/hub/pacer.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';
import { NationalProfile } from '../../src/municipal/national-profile.js';
import { SlidingWindow } from '../../src/municipal/sim/rate-window.js';
import { SimulatedPlatform } from '../../src/municipal/sim/simulated-platform.js';
import { APP, backlog, overLimitInLog, SECRET, T0, utilisation } from './sim-harness.js';

// The platform counts a request when it arrives; the network delays each request and each reply
// by its own amount. Everything runs on one injected clock, with the platform's own logic in
// process, so the delays are exact and the audit is the platform's.

/** Seeded delays in [min, max] ms, the same sequence for the same seed. */
function delays(seed: number, min: number, max: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.round(min + r * (max - min));
  };
}

interface Network {
  up: () => number;
  down: () => number;
}

/**
 * `n` requests one after the other through a pacer set with `pacing` to a platform enforcing
 * `limit` at arrival. `fromReply`: through request() (paced from the reply); otherwise acquire()
 * alone, i.e. paced from the send, as a pacer that ignores the network would.
 */
async function drive(pacing: Omit<PacerOptions, 'clock'>, limit: PacerWindow, net: Network, n: number, fromReply = true) {
  const clock = new ManualClock(T0);
  const pacer = new Pacer({ clock, ...pacing });
  const platform = new SlidingWindow(limit.requests, limit.windowMs);
  const arrivals: number[] = [];
  let refused = 0;
  let done = false;
  const send = async () => {
    await sleep(clock, net.up());
    const at = clock.monotonic();
    arrivals.push(at);
    if (!platform.admit('app', at).admitted) refused++;
    await sleep(clock, net.down());
  };
  void (async () => {
    for (let i = 0; i < n; i++) {
      if (fromReply) await pacer.request(send);
      else {
        await pacer.acquire();
        await send();
      }
    }
    done = true;
  })();
  await clock.runUntil(() => done, 24 * 3600_000, 60_000);
  expect(done).toBe(true);
  const log = arrivals.map((atMs) => ({ atMs }));
  return { refused, over: overLimitInLog(log, limit.requests, limit.windowMs), use: utilisation(log, limit.requests, limit.windowMs) };
}

const ONE_PER_1200: PacerWindow = { requests: 1, windowMs: 1200 };
const TWENTY_PER_S: PacerWindow = { requests: 20, windowMs: 1000 };
/** The hub's settings for a platform that allows 20 requests a second (the bench's). */
const fastPacing = (window: PacerWindow): Omit<PacerOptions, 'clock'> => ({
  window,
  minSpacingMs: window.windowMs / window.requests / 2,
  bucket: { capacity: 2, refillPerMs: window.requests / window.windowMs },
});

describe('pacing against a platform that counts at arrival, with a network delay that varies per request', () => {
  it('request() holds a second request until the reply to the first', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, ...fastPacing(TWENTY_PER_S) });
    const sent: number[] = [];
    let reply!: () => void;
    const first = pacer.request(() => {
      sent.push(clock.monotonic());
      return new Promise<void>((r) => (reply = r));
    });
    const second = pacer.request(async () => void sent.push(clock.monotonic()));
    await clock.advance(5_000);
    expect(sent).toEqual([0]);
    reply();
    await first;
    await clock.advance(25); // the minimum spacing from the first send has long passed
    await second;
    expect(sent).toEqual([0, 5_000]);
  });

  it('sends request k+N no sooner than the reply to request k plus the window', async () => {
    const clock = new ManualClock(T0);
    const window = { requests: 3, windowMs: 900 };
    const pacer = new Pacer({ clock, window, minSpacingMs: 0, bucket: { capacity: 3, refillPerMs: 1 } });
    const sent: number[] = [];
    // request 0's reply takes 400 ms, the others' 10 ms
    const all = Promise.all(
      [400, 10, 10, 10, 10].map((rtt) => pacer.request(async () => (sent.push(clock.monotonic()), sleep(clock, rtt)))),
    );
    await clock.advance(5_000);
    await all;
    // 0 at 0 (reply 400); 1 at 400 (reply 410); 2 at 410 (reply 420); 3 waits for reply(0) + 900
    expect(sent).toEqual([0, 400, 410, 1300, 1310]);
  });

  it.each([
    { name: 'one request per 1,200 ms (the default)', limit: ONE_PER_1200, pacing: {}, maxDelay: 300 },
    { name: '20 requests per second', limit: TWENTY_PER_S, pacing: fastPacing(TWENTY_PER_S), maxDelay: 20 },
  ])('is never over the limit: $name, delays of 0–$maxDelay ms each way', async ({ limit, pacing, maxDelay }) => {
    const n = 400;
    const net = () => ({ up: delays(1, 0, maxDelay), down: delays(2, 0, maxDelay) });
    const paced = await drive(pacing, limit, net(), n);
    expect(paced.refused).toBe(0);
    expect(paced.over).toBe(0);

    // the control: the same pacing counted from the send lets network delay squeeze requests together
    const control = await drive(pacing, limit, net(), n, false);
    expect(control.refused).toBeGreaterThan(0);
  });

  it.each([
    { name: 'one request per 1,200 ms (the default)', limit: ONE_PER_1200, pacing: {} },
    { name: '20 requests per second', limit: TWENTY_PER_S, pacing: fastPacing(TWENTY_PER_S) },
  ])('uses the window almost fully when the platform answers fast (0–2 ms each way): $name', async ({ limit, pacing }) => {
    const paced = await drive(pacing, limit, { up: delays(3, 0, 2), down: delays(4, 0, 2) }, 1_000);
    expect(paced.refused).toBe(0);
    expect(paced.use).toBeGreaterThanOrEqual(0.99);
  });
});

describe('the forwarder through the national profile to the platform, with per-request network delay', () => {
  /** The national profile's requests handed to the simulated platform in process, each way delayed. */
  function setup(net: Network) {
    const clock = new ManualClock(T0);
    const platform = new SimulatedPlatform({
      apps: [{ appId: APP, appSecret: SECRET }],
      rateLimit: TWENTY_PER_S,
      allowList: ['127.0.0.1'],
      resultDelayMs: 0,
      checkIdChecksum: true,
      maxStoredResults: 10_000,
      clock,
    });
    const arrivals: { atMs: number; method: string | null; overLimit: boolean }[] = [];
    const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
      await sleep(clock, net.up());
      const form = new URLSearchParams(String(init.body));
      const reply = platform.handle(form, '127.0.0.1', new Headers(init.headers).get('content-type') ?? undefined);
      arrivals.push({ atMs: clock.monotonic(), method: form.get('method'), overLimit: reply.overLimit });
      await sleep(clock, net.down());
      return new Response(JSON.stringify(reply.envelope), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const db = new Database(':memory:');
    const queue = new UploadQueue(db, clock);
    queue.migrate();
    const pacer = new Pacer({ clock, ...fastPacing(TWENTY_PER_S), backoff: { jitter: () => 0.5 } });
    const profile = new NationalProfile({ baseUrl: 'http://platform.test/api', appId: APP, appSecret: SECRET, clock, fetch });
    const forwarder = new Forwarder({ queue, profile, pacer, clock, log: silentLogger(), mode: 'auto', pollDelayMs: 0 });
    db.transaction(() => backlog(1_000).forEach((r) => queue.enqueue(r)))();
    const settled = () => {
      const c = queue.counts();
      return c.pending === 0 && c.inFlight === 0;
    };
    return { clock, platform, arrivals, queue, pacer, forwarder, settled, close: () => db.close() };
  }

  it('drains with no request over the limit when the network delays each request and reply by 0–20 ms', async () => {
    const s = setup({ up: delays(5, 0, 20), down: delays(6, 0, 20) });
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, 3600_000, 1_000)).toBe(true);
    await s.forwarder.stop();
    expect(s.queue.counts()).toMatchObject({ delivered: 1_000, rejected: 0 });
    expect(s.platform.rowCounters).toEqual({ acceptedRows: 1_000, duplicateRows: 0, rejectedRows: 0 });
    expect(s.arrivals.filter((a) => a.overLimit)).toEqual([]);
    expect(overLimitInLog(s.arrivals, 20, 1000)).toBe(0);
    expect(s.pacer.stats.requests).toBe(s.arrivals.length);
    s.close();
  });

  it('fills the window when the platform answers fast, uploads and result polls alike', async () => {
    const s = setup({ up: delays(7, 0, 2), down: delays(8, 0, 2) });
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, 3600_000, 1_000)).toBe(true);
    await s.forwarder.stop();
    expect(s.queue.counts().delivered).toBe(1_000);
    expect(s.arrivals.filter((a) => a.overLimit)).toEqual([]);
    expect(s.arrivals.filter((a) => a.method === 'WorkerAttendance.Add')).toHaveLength(50);
    expect(s.arrivals).toHaveLength(100); // one result poll per upload
    expect(utilisation(s.arrivals, 20, 1000)).toBeGreaterThanOrEqual(0.98);
    s.close();
  });
});
