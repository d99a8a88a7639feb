import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { canonicalBytes, sha256Hex } from '../../src/core/canonical.js';
import { silentLogger } from '../../src/core/log.js';
import { flushMicrotasks } from '../../src/core/manual-clock.js';
import { signRosterMessage, snapshotDigest } from '../../src/core/roster-message.js';
import { siteRulesSchema } from '../../src/core/site-rules.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { RosterSync } from '../../src/gate/roster/roster-sync.js';
import { rosterTopics } from '../../src/mqtt/roster-topics.js';
import { cardHmac, keyPair, SITE, SITE_KEY, tempDir, worker } from './helpers.js';
import { type BusClient } from './memory-bus.js';
import { startSyncHub, type SyncHub } from './sync-hub.js';

const dir = await tempDir();
let seq = 0;
const RETRY = 1000;
const HEAD_GRACE = 3000;
const INTERVAL = 5000;

interface Rig extends SyncHub {
  gate(name?: string, store?: RosterStore): Promise<{ sync: RosterSync; store: RosterStore; link: BusClient }>;
  settle(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(workers = 40): Promise<Rig> {
  const syncHub = await startSyncHub({ workers, minSnapshotIntervalMs: INTERVAL, onCleanup: (stop) => cleanups.push(stop) });
  const { clock, bus, hub, key } = syncHub;
  const syncs: RosterSync[] = [];
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      await hub.idle();
      await Promise.all(syncs.map((s) => s.idle()));
      await flushMicrotasks();
    }
  };
  const gate: Rig['gate'] = async (name = `gate-${seq}`, existing) => {
    const store = existing ?? new RosterStore(join(dir.path, `g${seq++}.db`));
    let sync!: RosterSync;
    const link = bus.client(name, (t, p) => sync.handleMessage(t, p));
    sync = new RosterSync({ store, link, siteId: SITE, gateId: name, hubKey: key.publicKey, clock, log: silentLogger(), retryMinMs: RETRY, retryMaxMs: 8 * RETRY, headGraceMs: HEAD_GRACE, chunkTimeoutMs: 20_000, stageBatch: 7 });
    syncs.push(sync);
    cleanups.push(async () => {
      await sync.stop();
      if (!existing) store.close();
    });
    await sync.start();
    await settle();
    return { sync, store, link };
  };
  return { ...syncHub, gate, settle };
}

describe('roster sync (gate and hub over an in-process bus, manual clock)', () => {
  it('a fresh gate asks for a snapshot and applies it whole, in several chunks', async () => {
    const r = await rig(40);
    const g = await r.gate();
    expect(g.sync.counters.requests).toBe(1);
    expect(r.hub.counters.snapshots).toBe(1);
    expect(r.hub.counters.chunks).toBeGreaterThan(3);
    expect(g.store.version()).toBe(1);
    expect(g.store.size()).toBe(40);
    expect(g.store.findByCredential('card', cardHmac('card-39'))?.faceTemplates).toHaveLength(1);
    expect(g.sync.counters.rejected).toBe(0);
  });

  it('changes reach a running gate as deltas in order, rules and site key included', async () => {
    const r = await rig(10);
    const g = await r.gate();
    const applied: number[] = [];
    g.sync.on('applied', (a) => applied.push(a.version));
    for (let i = 0; i < 20; i++) {
      r.source.upsert(worker(100 + i));
      if (i % 5 === 0) r.source.remove(`W${String(i).padStart(6, '0')}`);
      await r.hub.publishChanges();
    }
    const rules = siteRulesSchema.parse({ specialTrades: ['电工'] });
    r.source.setRules(rules);
    await r.hub.publishChanges();
    await r.settle();
    expect(g.sync.counters.deltasApplied).toBe(21);
    expect(applied).toEqual([...applied].sort((a, b) => a - b));
    expect(g.store.version()).toBe(r.source.version());
    expect(g.store.size()).toBe(10 + 20 - 2); // W000010 and W000015 were never there
    expect(g.store.findByCredential('card', cardHmac('card-119'))?.workerId).toBe('W000119');
    expect(g.store.findWorker('W000005')).toBeNull();
    expect(g.store.rules()).toEqual(rules);
    expect(r.hub.counters.snapshots).toBe(1);
    expect(g.sync.counters.requests).toBe(1);
  });

  it('on a gap it asks for a snapshot, backs off while the hub is away, keeps its last copy, and catches up when the hub answers', async () => {
    const r = await rig(10);
    const g = await r.gate();
    g.link.online = false; // misses these deltas entirely
    r.source.upsert(worker(1, { status: 'blacklisted' }));
    await r.hub.publishChanges();
    g.link.online = true;
    r.hubLink.online = false; // and now the hub is away…
    r.source.upsert(worker(2, { status: 'left' }));
    r.hubLink.online = true;
    await r.hub.publishChanges(); // …back just long enough to send one delta, which leaves a gap
    r.hubLink.online = false;
    await r.settle();
    expect(g.sync.counters.gaps).toBe(1);
    expect(g.sync.counters.requests).toBe(2);
    expect(g.store.version()).toBe(1);
    expect(g.store.findByCredential('card', cardHmac('card-1'))?.status).toBe('entered'); // last good copy

    // repeats at 1 s, then 2, 4, 8 s apart (capped at 8 s)
    await r.clock.advance(RETRY - 1);
    expect(g.sync.counters.requests).toBe(2);
    await r.clock.advance(1);
    expect(g.sync.counters.requests).toBe(3);
    await r.clock.advance(2 * RETRY - 1);
    expect(g.sync.counters.requests).toBe(3);
    await r.clock.advance(1);
    expect(g.sync.counters.requests).toBe(4);
    await r.clock.advance(4 * RETRY);
    expect(g.sync.counters.requests).toBe(5);
    await r.clock.advance(8 * RETRY);
    expect(g.sync.counters.requests).toBe(6);
    await r.clock.advance(8 * RETRY);
    expect(g.sync.counters.requests).toBe(7);

    r.hubLink.online = true;
    await r.clock.advance(RETRY * 8);
    await r.settle();
    expect(g.store.version()).toBe(r.source.version());
    expect(g.store.findByCredential('card', cardHmac('card-1'))?.status).toBe('blacklisted');
    expect(g.store.findByCredential('card', cardHmac('card-2'))?.status).toBe('left');
    const asked = g.sync.counters.requests;
    await r.clock.advance(RETRY * 100);
    expect(g.sync.counters.requests).toBe(asked);
  });

  it('a gate back from a restart learns from the retained head that it is behind, waits for deltas, then asks', async () => {
    const r = await rig(10);
    const first = await r.gate('gate-r');
    const store = first.store;
    first.link.online = false;
    await first.sync.stop();
    r.source.upsert(worker(3, { status: 'suspended' }));
    await r.hub.publishChanges();

    const again = await r.gate('gate-r2', store);
    expect(again.sync.status().knownVersion).toBe(2);
    expect(again.sync.counters.requests).toBe(0);
    await r.clock.advance(HEAD_GRACE - 1);
    expect(again.sync.counters.requests).toBe(0);
    await r.clock.advance(1);
    await r.settle();
    expect(again.sync.counters.requests).toBe(1);
    await r.clock.advance(INTERVAL); // the hub sent a snapshot at start-up: the next waits its turn
    await r.settle();
    expect(store.version()).toBe(2);
    expect(store.findByCredential('card', cardHmac('card-3'))?.status).toBe('suspended');
    store.close();
  });

  it('refuses and counts forged, corrupted, malformed and foreign messages; the roster stays as it was', async () => {
    const r = await rig(5);
    const g = await r.gate();
    const rogue = r.bus.client('rogue', () => undefined);
    const forger = keyPair();
    const topic = rosterTopics.delta(SITE);
    const body = { kind: 'roster-delta', siteId: SITE, fromVersion: 1, version: 2, upserts: [worker(0, { status: 'entered', name: 'x' })], removes: ['W000001'] };

    rogue.publish(topic, JSON.stringify(signRosterMessage(body, forger.privateKey)), { qos: 1 });
    const good = JSON.stringify(signRosterMessage(body, r.key.privateKey));
    rogue.publish(topic, good.replace('"removes":["W000001"]', '"removes":["W000002"]'), { qos: 1 });
    rogue.publish(topic, '{"kind":"roster-delta"', { qos: 1 });
    rogue.publish(topic, JSON.stringify({ ...body, version: 'two', sig: 'A'.repeat(86) + '==' }), { qos: 1 });
    rogue.publish(topic, JSON.stringify(signRosterMessage({ ...body, siteId: 'siteB' }, r.key.privateKey)), { qos: 1 });

    // a snapshot chunk whose workers were changed after signing
    const workersSha256 = sha256Hex(canonicalBytes([worker(0)]));
    const digest = snapshotDigest({ siteId: SITE, version: 7, siteKey: SITE_KEY.toString('hex'), rules: null, chunks: [workersSha256] });
    rogue.publish(rosterTopics.snapshot(SITE, 7), JSON.stringify(signRosterMessage({ kind: 'roster-snapshot', siteId: SITE, version: 7, index: 0, count: 1, digest, siteKey: SITE_KEY.toString('hex'), rules: null, workersSha256, workers: [worker(0)] }, r.key.privateKey)).replace('"status":"entered"', '"status":"blacklisted"'), { qos: 1 });
    await r.settle();

    expect(g.sync.counters.rejectedBy).toEqual({ bad_signature: 2, not_json: 1, bad_schema: 1, wrong_site: 1, workers_hash: 1 });
    expect(g.sync.counters.rejected).toBe(6);
    expect(g.store.version()).toBe(1);
    expect(g.store.findWorker('W000001')).not.toBeNull();
    expect(g.store.findWorker('W000002')).not.toBeNull();
    expect(g.store.findWorker('W000000')?.status).toBe('entered');
  });

  it('refuses a snapshot whose chunks do not add up to its signed digest, and asks again', async () => {
    const r = await rig(5);
    const g = await r.gate();
    const asked = g.sync.counters.requests;
    const rogue = r.bus.client('rogue', () => undefined);
    const chunks = [[worker(0)], [worker(1)]];
    const hashes = chunks.map((c) => sha256Hex(canonicalBytes(c)));
    const digest = snapshotDigest({ siteId: SITE, version: 9, siteKey: SITE_KEY.toString('hex'), rules: null, chunks: [hashes[0], sha256Hex('other')] });
    chunks.forEach((ws, index) => {
      const msg = signRosterMessage({ kind: 'roster-snapshot', siteId: SITE, version: 9, index, count: 2, digest, siteKey: SITE_KEY.toString('hex'), rules: null, workersSha256: hashes[index], workers: ws }, r.key.privateKey);
      rogue.publish(rosterTopics.snapshot(SITE, 9), JSON.stringify(msg), { qos: 1 });
    });
    await r.settle();
    expect(g.sync.counters.rejectedBy).toEqual({ bad_digest: 1 });
    expect(g.store.version()).toBe(1);
    expect(g.store.size()).toBe(5);
    expect(g.sync.counters.requests).toBe(asked + 1);
  });

  it('ignores a replayed older delta or snapshot', async () => {
    const r = await rig(5);
    const g = await r.gate();
    r.source.upsert(worker(0, { status: 'left' }));
    await r.hub.publishChanges();
    r.source.upsert(worker(0, { status: 'entered' }));
    await r.hub.publishChanges();
    await r.settle();
    const oldDelta = r.bus.log.find((m) => m.topic === rosterTopics.delta(SITE))!;
    const oldChunk = r.bus.log.find((m) => m.topic === rosterTopics.snapshot(SITE, 1))!;
    const rogue = r.bus.client('rogue', () => undefined);
    const stale = g.sync.counters.stale;
    rogue.publish(oldDelta.topic, oldDelta.payload, { qos: 1 });
    rogue.publish(oldChunk.topic, oldChunk.payload, { qos: 1 });
    await r.settle();
    expect(g.sync.counters.stale).toBe(stale + 2);
    expect(g.store.version()).toBe(3);
    expect(g.store.findWorker('W000000')?.status).toBe('entered');
    expect(g.sync.counters.rejected).toBe(0);
  });

  it('the hub sends one snapshot for many requests, and at most one per interval', async () => {
    const r = await rig(20);
    const gates = await Promise.all([r.gate(), r.gate(), r.gate()]);
    await r.settle();
    expect(gates.every((g) => g.store.version() === 1)).toBe(true);
    const before = r.hub.counters.snapshots;
    expect(before).toBeLessThanOrEqual(2);

    const rogue = r.bus.client('gate-z', () => undefined);
    const req = (v: number) => JSON.stringify({ kind: 'roster-request', gateId: 'gate-z', haveVersion: v, wantVersion: null, reason: 'retry' });
    for (let i = 0; i < 10; i++) rogue.publish(rosterTopics.request(SITE, 'gate-z'), req(i), { qos: 1 });
    await r.settle();
    await r.clock.advance(INTERVAL);
    await r.settle();
    expect(r.hub.counters.snapshots).toBe(before + 1);
    expect(r.hub.counters.requests).toBe(13);

    rogue.publish(rosterTopics.request(SITE, 'gate-y'), req(1), { qos: 1 }); // gateId differs from its topic
    rogue.publish(rosterTopics.request(SITE, 'gate-z'), 'nonsense', { qos: 1 });
    expect(r.hub.counters.requestsRefused).toBe(2);
  });

  it('a chunk lost on the way is asked for again; the next snapshot of that version fills the gap', async () => {
    const r = await rig(30);
    let lost = 0;
    r.bus.lose = (topic, payload) => topic.includes('/snapshot/') && lost === 0 && payload.includes('"index":1,') && ++lost > 0;
    const g = await r.gate();
    expect(lost).toBe(1);
    expect(g.store.version()).toBeNull();
    const received = g.sync.counters.chunksReceived;
    expect(g.sync.status().receiving).toMatchObject({ version: 1, chunks: received });
    await r.clock.advance(RETRY); // nothing more came: ask again, keeping what arrived
    await r.clock.advance(INTERVAL);
    await r.settle();
    expect(g.sync.counters.requests).toBeGreaterThanOrEqual(2);
    expect(r.hub.counters.snapshots).toBe(2); // the repeated requests shared one
    expect(g.store.version()).toBe(1);
    expect(g.store.size()).toBe(30);
  });

  it('drops a snapshot whose chunks stop coming and asks again', async () => {
    const r = await rig(30);
    const donor = await r.gate();
    expect(donor.store.version()).toBe(1);
    const chunks = r.bus.log.filter((m) => m.topic === rosterTopics.snapshot(SITE, 1));
    expect(chunks.length).toBeGreaterThan(2);

    r.hubLink.online = false;
    const g = await r.gate();
    const rogue = r.bus.client('replayer', () => undefined);
    for (const c of chunks.slice(0, -1)) rogue.publish(c.topic, c.payload, { qos: 1 });
    await r.settle();
    expect(g.sync.status().receiving).toEqual({ version: 1, chunks: chunks.length - 1, of: chunks.length });
    await r.clock.advance(20_000);
    expect(g.sync.status().receiving).toBeNull();
    expect(g.store.version()).toBeNull();
    r.hubLink.online = true;
    await r.clock.advance(8 * RETRY);
    await r.settle();
    expect(g.store.version()).toBe(1);
    expect(g.store.size()).toBe(30);
  });
});
