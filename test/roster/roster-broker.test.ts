import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { signRosterMessage } from '../../src/core/roster-message.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { RosterSync } from '../../src/gate/roster/roster-sync.js';
import { RosterPublisher } from '../../src/hub/roster-publisher.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { rosterTopics } from '../../src/mqtt/roster-topics.js';
import { cardHmac, keyPair, MemoryRosterSource, SITE, tempDir, template, waitUntil, worker } from './helpers.js';

// Three gates, a hub and the real mosquitto with the site's ACL. `make test` syncs 10,000
// workers with face templates; SITEGATE_SOAK the full 100,000.
const WORKERS = process.env.SITEGATE_SOAK ? 100_000 : 10_000;
const BIG_WAIT_MS = process.env.SITEGATE_SOAK ? 600_000 : 120_000;
const HUB = { user: 'hub', password: 'hub-pass' };
const GATES = ['gate-1', 'gate-2', 'gate-3'].map((gateId) => ({ gateId, password: `${gateId}-pass` }));
const OTHER = { siteId: 'siteB', hub: { user: 'hubB', password: 'hubB-pass' }, gates: [{ gateId: 'gate-x', password: 'gate-x-pass' }] };

const clock = new ManualClock();
const key = keyPair();
const source = new MemoryRosterSource(SITE, Array.from({ length: WORKERS }, (_, i) => worker(i)));
let broker: MosquittoBroker;
let url = '';
let removeDir: () => Promise<void> = async () => {};
let hubClient: MqttClient;
let publisher: RosterPublisher;
const extraClients: MqttClient[] = [];

/** A gate's roster side: its SQLite store stays across reconnects; each connect makes a new RosterSync. */
class TestGate {
  store: RosterStore;
  sync: RosterSync | null = null;
  client: MqttClient | null = null;
  constructor(readonly gateId: string, readonly password: string, dbPath: string) {
    this.store = new RosterStore(dbPath);
  }

  async connect(clean = false): Promise<void> {
    let client: MqttClient | null = null;
    const sync = new RosterSync({
      store: this.store,
      // the client exists only once connected; messages of a persistent session may come before
      link: { subscribeAsync: (t, o) => client!.subscribeAsync(t, o), publish: (t, p, o, cb) => client!.publish(t, p, o, cb) },
      siteId: SITE,
      gateId: this.gateId,
      hubKey: key.publicKey,
      clock,
      log: silentLogger(),
      retryMinMs: 2000,
      headGraceMs: 2000,
    });
    this.sync = sync;
    client = await connectMqtt({
      url, username: this.gateId, password: this.password, clientId: `roster-${this.gateId}`,
      clean, sessionExpirySec: 3600, reconnectPeriodMs: 200, connectTimeoutMs: 5000,
      onMessage: (topic, payload) => sync.handleMessage(topic, payload),
    });
    this.client = client;
    await sync.start();
  }

  async disconnect(): Promise<void> {
    await this.client?.endAsync();
    await this.sync?.stop();
    this.client = null;
  }

  get counters() {
    return this.sync!.counters;
  }
}

let gates: TestGate[] = [];

/** Waits on the real clock (bounded) while moving the manual one, so retries and paced snapshots happen. */
async function waitAdvancing(done: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await clock.advance(250);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function matchesSource(g: TestGate, ids: string[]): boolean {
  const snap = new Map(source.snapshot().workers.map((w) => [w.workerId, w]));
  return ids.every((id) => JSON.stringify(g.store.findWorker(id)) === JSON.stringify(snap.get(id) ?? null));
}

beforeAll(async () => {
  const dir = await tempDir();
  removeDir = dir.remove;
  broker = new MosquittoBroker({ dir: join(dir.path, 'broker'), siteId: SITE, hub: HUB, gates: GATES, otherSites: [OTHER] });
  ({ url } = await broker.start());
  hubClient = await connectMqtt({
    url, username: HUB.user, password: HUB.password, clientId: 'roster-hub', reconnectPeriodMs: 200, connectTimeoutMs: 5000,
    onMessage: (topic, payload) => void publisher.handleMessage(topic, payload),
  });
  publisher = new RosterPublisher({ source, link: hubClient, siteId: SITE, key: key.privateKey, clock, log: silentLogger(), minSnapshotIntervalMs: 5000 });
  await publisher.start();
  gates = GATES.map((g) => new TestGate(g.gateId, g.password, join(dir.path, `${g.gateId}.db`)));
}, 30_000);

afterAll(async () => {
  for (const g of gates) {
    await g.disconnect().catch(() => undefined);
    g.store.close();
  }
  await publisher?.stop();
  await Promise.all([hubClient, ...extraClients].map((c) => c?.endAsync(true)));
  await broker?.kill('SIGKILL');
  await removeDir();
});

describe(`roster sync over the real broker (${WORKERS} workers, three gates)`, () => {
  it(`a fresh gate gets all ${WORKERS} workers with their face templates by snapshot`, async () => {
    const g = gates[0];
    await g.connect();
    await waitUntil(() => g.store.version() === 1, 'the snapshot at gate-1', BIG_WAIT_MS);
    expect(g.store.size()).toBe(WORKERS);
    expect(g.store.findByCredential('card', cardHmac(`card-${WORKERS - 1}`))?.faceTemplates).toEqual([template(WORKERS - 1)]);
    expect(g.counters).toMatchObject({ snapshotsApplied: 1, rejected: 0 });
    expect(publisher.counters.snapshots).toBe(1);
    expect(publisher.counters.chunks).toBeGreaterThan(10);
  }, BIG_WAIT_MS + 10_000);

  it('two more fresh gates, asking at once, share paced snapshots', async () => {
    await Promise.all([gates[1].connect(), gates[2].connect()]);
    await waitAdvancing(() => gates.every((g) => g.store.version() === 1), 'the snapshot at gates 2 and 3', BIG_WAIT_MS);
    for (const g of gates.slice(1)) {
      expect(g.store.size()).toBe(WORKERS);
      expect(g.counters.rejected).toBe(0);
    }
    // one per request at most, and paced: never one for each chunk missed
    expect(publisher.counters.snapshots).toBeLessThanOrEqual(3);
  }, BIG_WAIT_MS + 10_000);

  it('1,000 changes reach all three running gates as deltas', async () => {
    const before = gates.map((g) => ({ deltas: g.counters.deltasApplied, snapshots: g.counters.snapshotsApplied }));
    const snapshotsBefore = publisher.counters.snapshots;
    const touched = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const n = (i * 7919) % WORKERS;
      if (i % 10 === 9) source.remove(worker(n).workerId);
      else source.upsert(worker(i % 3 === 0 ? WORKERS + i : n, { status: i % 2 ? 'left' : 'entered', faceTemplates: [template(i), template(i + 1)] }));
      touched.add(worker(n).workerId).add(worker(WORKERS + i).workerId);
      await publisher.publishChanges();
    }
    const v = source.version();
    await waitUntil(() => gates.every((g) => g.store.version() === v), 'version ' + v + ' at every gate', 60_000);
    gates.forEach((g, i) => {
      expect(g.counters.deltasApplied - before[i].deltas).toBe(1000);
      expect(g.counters.snapshotsApplied).toBe(before[i].snapshots);
      expect(g.counters.rejected).toBe(0);
      expect(g.store.size()).toBe(source.snapshot().workers.length);
      expect(matchesSource(g, [...touched])).toBe(true);
    });
    expect(publisher.counters.snapshots).toBe(snapshotsBefore);
  }, 120_000);

  it('a gate that was offline catches up from its persistent session with the deltas it missed', async () => {
    const g = gates[1];
    await g.disconnect();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      source.upsert(worker(i, { status: 'suspended' }));
      ids.push(worker(i).workerId);
      await publisher.publishChanges();
    }
    expect(g.store.findWorker(ids[0])?.status).not.toBe('suspended'); // still deciding on its last copy
    await g.connect();
    await waitUntil(() => g.store.version() === source.version(), 'gate-2 caught up', 30_000);
    expect(g.counters).toMatchObject({ deltasApplied: 50, snapshotsApplied: 0, requests: 0, rejected: 0 });
    expect(matchesSource(g, ids)).toBe(true);
  }, 60_000);

  it('a gate whose session was lost sees a gap at the next delta and gets a snapshot', async () => {
    const g = gates[2];
    await g.disconnect();
    for (let i = 0; i < 5; i++) {
      source.upsert(worker(100 + i, { status: 'blacklisted' }));
      await publisher.publishChanges();
    }
    await g.connect(true); // a clean session: what was queued for it is gone
    expect(g.store.version()).toBeLessThan(source.version());
    source.upsert(worker(200, { status: 'left' }));
    await publisher.publishChanges();
    await waitAdvancing(() => g.store.version() === source.version(), 'gate-3 after the gap', BIG_WAIT_MS);
    expect(g.counters.gaps).toBe(1);
    expect(g.counters.snapshotsApplied).toBe(1);
    expect(g.store.findWorker(worker(104).workerId)?.status).toBe('blacklisted');
    expect(g.store.findWorker(worker(200).workerId)?.status).toBe('left');
    expect(g.store.size()).toBe(source.snapshot().workers.length);
  }, BIG_WAIT_MS + 10_000);

  it('every gate rejects and counts a forged and a corrupted roster message, and goes on', async () => {
    const before = gates.map((g) => ({ rejected: g.counters.rejected, version: g.store.version() }));
    const v = source.version();
    const body = { kind: 'roster-delta', siteId: SITE, fromVersion: v, version: v + 1, upserts: [worker(1, { status: 'entered', name: '冒名' })], removes: [worker(2).workerId] };
    const forged = JSON.stringify(signRosterMessage(body, keyPair().privateKey));
    const corrupted = JSON.stringify(signRosterMessage(body, key.privateKey)).replace('冒名', '改名');
    await hubClient.publishAsync(rosterTopics.delta(SITE), forged, { qos: 1 });
    await hubClient.publishAsync(rosterTopics.delta(SITE), corrupted, { qos: 1 });
    await waitUntil(() => gates.every((g, i) => g.counters.rejected === before[i].rejected + 2), 'both rejections at every gate');
    gates.forEach((g, i) => {
      expect(g.counters.rejectedBy.bad_signature).toBeGreaterThanOrEqual(2);
      expect(g.store.version()).toBe(before[i].version);
      expect(g.store.findWorker(worker(2).workerId)).not.toBeNull();
    });
    source.upsert(worker(3, { status: 'left' }));
    await publisher.publishChanges();
    await waitUntil(() => gates.every((g) => g.store.version() === source.version()), 'the next real change');
  }, 30_000);

  it('a gate can neither publish roster messages nor ask under another gate; another site\'s gate gets none of it', async () => {
    const g = gates[0];
    await expect(g.client!.publishAsync(rosterTopics.delta(SITE), 'x', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    await expect(g.client!.publishAsync(rosterTopics.request(SITE, 'gate-2'), 'x', { qos: 1 })).rejects.toMatchObject({ code: 135 });

    const received: string[] = [];
    const foreign = await connectMqtt({ url, username: 'gate-x', password: 'gate-x-pass', clientId: 'roster-gate-x', connectTimeoutMs: 5000, onMessage: (t) => received.push(t) });
    extraClients.push(foreign);
    await foreign.subscribeAsync([`${rosterTopics.delta(SITE)}`, rosterTopics.allSnapshots(SITE), rosterTopics.head(SITE)], { qos: 1 });
    await foreign.subscribeAsync([rosterTopics.head(OTHER.siteId)], { qos: 1 });
    source.upsert(worker(4, { status: 'left' }));
    await publisher.publishChanges();
    await waitUntil(() => g.store.version() === source.version(), 'the change at gate-1');
    // the other site's hub publishes its own head; it arrives after anything of ours would have
    const otherHub = await connectMqtt({ url, username: OTHER.hub.user, password: OTHER.hub.password, clientId: 'roster-hubB', connectTimeoutMs: 5000 });
    extraClients.push(otherHub);
    await otherHub.publishAsync(rosterTopics.head(OTHER.siteId), 'siteB head', { qos: 1 });
    await waitUntil(() => received.length > 0, 'siteB\'s head at gate-x');
    expect(received).toEqual([rosterTopics.head(OTHER.siteId)]);
  }, 30_000);
});
