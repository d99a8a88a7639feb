import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { flushMicrotasks } from '../../src/core/manual-clock.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { RosterSync } from '../../src/gate/roster/roster-sync.js';
import { rosterTopics } from '../../src/mqtt/roster-topics.js';
import { cardHmac, SITE, SITE_KEY, tempDir, worker } from './helpers.js';
import { type BusClient } from './memory-bus.js';
import { startSyncHub } from './sync-hub.js';

// An operator's resync-roster: the next snapshot is applied even at the version the gate holds,
// once. Gate and hub over the in-process bus, on a manual clock.
const dir = await tempDir();
afterAll(() => dir.remove());
let seq = 0;
const RETRY = 1000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(workers = 12) {
  // no pacing between snapshots: every request is answered at once
  const syncHub = await startSyncHub({ workers, minSnapshotIntervalMs: 0, onCleanup: (stop) => cleanups.push(stop) });
  const { clock, bus, hub, key } = syncHub;
  const dbPath = join(dir.path, `g${seq++}.db`);
  const store = new RosterStore(dbPath);
  let sync!: RosterSync;
  const link: BusClient = bus.client('gate-1', (t, p) => sync.handleMessage(t, p));
  sync = new RosterSync({ store, link, siteId: SITE, gateId: 'gate-1', hubKey: key.publicKey, clock, log: silentLogger(), retryMinMs: RETRY, retryMaxMs: 8 * RETRY, headGraceMs: 3000, stageBatch: 5 });
  cleanups.push(async () => {
    await sync.stop();
    store.close();
  });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      await hub.idle();
      await sync.idle();
      await flushMicrotasks();
    }
  };
  /** removes a worker behind the store's back, the way a hand edit or a damaged file would */
  const tamper = (workerId: string): void => {
    const db = new Database(dbPath);
    db.prepare('DELETE FROM credentials WHERE worker_id = ?').run(workerId);
    db.prepare('DELETE FROM workers WHERE worker_id = ?').run(workerId);
    db.close();
  };
  const requests = () => bus.log.filter((m) => m.topic === rosterTopics.request(SITE, 'gate-1')).map((m) => JSON.parse(m.payload.toString()));
  return { ...syncHub, store, sync, link, settle, tamper, requests };
}

describe('resync-roster: a snapshot of the same version is applied once when asked for', () => {
  it('an unrequested snapshot of the version the gate holds is skipped: the tampered store stays as it is', async () => {
    const r = await rig();
    await r.sync.start();
    await r.settle();
    expect(r.store.version()).toBe(1);
    r.tamper('W000003');
    expect(r.store.findWorker('W000003')).toBeNull();
    const stale = r.sync.counters.stale;
    r.hub.scheduleSnapshot(); // another gate asked: the snapshot goes to the whole site
    await r.settle();
    expect(r.hub.counters.snapshots).toBe(2);
    expect(r.sync.counters.stale).toBeGreaterThan(stale);
    expect(r.sync.counters.snapshotsApplied).toBe(1);
    expect(r.store.findWorker('W000003')).toBeNull();
  });

  it('after a resync the same-version snapshot rebuilds the store, exactly once', async () => {
    const r = await rig();
    await r.sync.start();
    await r.settle();
    r.tamper('W000003');
    const applied: string[] = [];
    r.sync.on('applied', (a) => applied.push(`${a.kind}@${a.version}`));

    expect(r.sync.requestResync()).toEqual({ haveVersion: 1 });
    expect(r.sync.status()).toMatchObject({ resyncPending: true, resyncs: 1 });
    expect(r.requests().at(-1)).toMatchObject({ kind: 'roster-request', gateId: 'gate-1', haveVersion: 1 });
    await r.settle();
    expect(applied).toEqual(['snapshot@1']);
    expect(r.store.version()).toBe(1);
    expect(r.store.size()).toBe(12);
    expect(r.store.findByCredential('card', cardHmac('card-3'))?.workerId).toBe('W000003');
    expect(r.sync.status()).toMatchObject({ resyncPending: false, snapshotsApplied: 2, rejected: 0 });

    // once: the next same-version snapshot is skipped again, and no request is repeated
    r.tamper('W000004');
    const asked = r.requests().length;
    r.hub.scheduleSnapshot();
    await r.settle();
    await r.clock.advance(10 * RETRY);
    await r.settle();
    expect(applied).toEqual(['snapshot@1']);
    expect(r.store.findWorker('W000004')).toBeNull();
    expect(r.requests().length).toBe(asked);
  });

  it('a resync while the hub is away is asked again with back-off and applied when the hub answers', async () => {
    const r = await rig();
    await r.sync.start();
    await r.settle();
    r.tamper('W000007');
    r.hubLink.online = false; // the hub hears nothing and sends nothing
    r.sync.requestResync();
    await r.settle();
    const first = r.requests().length;
    await r.clock.advance(RETRY);
    await r.settle();
    expect(r.requests().length).toBe(first + 1);
    expect(r.requests().at(-1)).toMatchObject({ reason: 'retry' });
    expect(r.store.findWorker('W000007')).toBeNull();
    r.hubLink.online = true;
    await r.clock.advance(2 * RETRY);
    await r.settle();
    expect(r.store.findWorker('W000007')).not.toBeNull();
    expect(r.sync.status().resyncPending).toBe(false);
    const after = r.requests().length;
    await r.clock.advance(20 * RETRY);
    await r.settle();
    expect(r.requests().length).toBe(after);
  });

  it('a delta that arrives before the snapshot does not end the resync: the newer snapshot still rebuilds the store', async () => {
    const r = await rig();
    await r.sync.start();
    await r.settle();
    r.tamper('W000005');
    r.hubLink.online = false;
    r.sync.requestResync();
    await r.settle();
    r.hubLink.online = true;
    r.source.upsert(worker(50));
    await r.hub.publishChanges();
    await r.settle();
    expect(r.store.version()).toBe(2);
    expect(r.store.findWorker('W000005')).toBeNull();
    expect(r.sync.status().resyncPending).toBe(true);
    await r.clock.advance(RETRY);
    await r.settle();
    expect(r.store.version()).toBe(2);
    expect(r.store.findWorker('W000005')).not.toBeNull();
    expect(r.store.findWorker('W000050')).not.toBeNull();
    expect(r.sync.status().resyncPending).toBe(false);
  });

  it('an older snapshot is still refused, and the resync is dropped once the hub is known to be behind the gate', async () => {
    const r = await rig();
    // commissioned from a roster file of version 9; the hub's registry is at version 1
    r.store.replace({ version: 9, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: [worker(1), worker(2)] });
    await r.sync.start();
    await r.settle();
    r.sync.requestResync();
    await r.settle();
    expect(r.hub.counters.snapshots).toBe(1);
    expect(r.store.version()).toBe(9);
    expect(r.store.size()).toBe(2);
    expect(r.sync.counters.stale).toBeGreaterThan(0);
    expect(r.sync.status().resyncPending).toBe(true);
    await r.clock.advance(RETRY);
    await r.settle();
    expect(r.sync.status().resyncPending).toBe(false);
    const asked = r.requests().length;
    await r.clock.advance(20 * RETRY);
    await r.settle();
    expect(r.requests().length).toBe(asked);
    expect(r.store.version()).toBe(9);
  });

  it('a resync asked for before start() is sent once the subscriptions are in place', async () => {
    const r = await rig();
    r.store.replace({ version: 1, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: [worker(1)] });
    r.sync.requestResync();
    expect(r.requests()).toEqual([]);
    await r.sync.start();
    await r.settle();
    expect(r.requests()).toHaveLength(1);
    expect(r.store.size()).toBe(12);
    expect(r.store.version()).toBe(1);
  });
});
