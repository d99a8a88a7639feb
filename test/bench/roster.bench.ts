// Roster sync figures (issue 7), on the real broker: a 100,000-worker roster with a face
// template each, from the first snapshot chunk at the gate to the roster switched in; then
// deltas, from arrival at the gate to applied (and from the hub's publish to applied).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialHmac } from '../../dist/core/credential.js';
import { systemClock } from '../../dist/core/clock.js';
import { silentLogger } from '../../dist/core/log.js';
import { percentile } from '../../dist/core/stats.js';
import { MosquittoBroker } from '../../dist/demo/mosquitto.js';
import { RosterStore } from '../../dist/gate/roster/roster-store.js';
import { RosterSync } from '../../dist/gate/roster/roster-sync.js';
import { RosterPublisher } from '../../dist/hub/roster-publisher.js';
import { connectMqtt } from '../../dist/mqtt/client.js';
import { rosterTopics, snapshotVersionOfTopic } from '../../dist/mqtt/roster-topics.js';

const SITE = 'bench-site';
const WORKERS = 100_000;
const DELTAS = 500;
const SITE_KEY = Buffer.alloc(32, 9);
const r2 = (v: number) => Math.round(v * 100) / 100;

type Worker = Record<string, unknown> & { workerId: string; credentials: { kind: 'card'; hmac: string }[] };

function worker(i: number, status = 'entered'): Worker {
  const t = Buffer.alloc(512);
  for (let k = 0; k < 128; k++) t.writeFloatLE(Math.sin(i * 131 + k), k * 4);
  return {
    workerId: `W${String(i).padStart(6, '0')}`, name: `工人${i}`, status, idValidTo: '2030-12-31',
    credentials: [{ kind: 'card', hmac: credentialHmac(SITE_KEY, 'card', `card-${i}`) }],
    trade: '普工', certificates: [], faceTemplates: [t.toString('base64')],
  };
}

/** The registry, reduced to what the publisher asks. */
class Source {
  v = 1;
  workers = new Map<string, Worker>();
  changed = new Map<string, number>();
  constructor(n: number) {
    for (let i = 0; i < n; i++) { const w = worker(i); this.workers.set(w.workerId, w); }
  }
  version() { return this.v; }
  upsert(w: Worker) { this.v++; this.workers.set(w.workerId, w); this.changed.set(w.workerId, this.v); }
  snapshot() { return { version: this.v, siteId: SITE, siteKey: SITE_KEY, rules: null, workers: [...this.workers.values()] }; }
  changesSince(version: number) {
    const upserts = [...this.changed].filter(([, at]) => at > version).map(([id]) => this.workers.get(id)!);
    return { version: this.v, upserts, removes: [] };
  }
}

export default async function roster(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-roster-'));
  const hubAcct = { user: 'hub', password: 'hub-pass' };
  const gateAcct = { gateId: 'gate-1', password: 'gate-pass' };
  const broker = new MosquittoBroker({ dir: join(dir, 'broker'), siteId: SITE, hub: hubAcct, gates: [gateAcct] });
  const { url } = await broker.start();
  const key = generateKeyPairSync('ed25519');
  const log = silentLogger();
  const source = new Source(WORKERS);
  const store = new RosterStore(join(dir, 'roster.db'));
  let publisher: RosterPublisher | null = null;
  let sync: RosterSync | null = null;
  const hub = await connectMqtt({ url, username: hubAcct.user, password: hubAcct.password, clientId: 'bench-hub', onMessage: (t, p) => void publisher?.handleMessage(t, p) });
  let firstChunkAt = 0;
  let arrivedAt = 0;
  const gate = await connectMqtt({
    url, username: gateAcct.gateId, password: gateAcct.password, clientId: 'bench-gate',
    onMessage: (t, p) => {
      const now = performance.now();
      if (t === rosterTopics.delta(SITE)) arrivedAt = now;
      if (!firstChunkAt && snapshotVersionOfTopic(SITE, t) !== null) firstChunkAt = now;
      sync?.handleMessage(t, p);
    },
  });
  try {
    publisher = new RosterPublisher({ source, link: hub, siteId: SITE, key: key.privateKey, clock: systemClock, log });
    await publisher.start();
    sync = new RosterSync({ store, link: gate, siteId: SITE, gateId: gateAcct.gateId, hubKey: key.publicKey, clock: systemClock, log });
    const snapshotApplied = new Promise<number>((resolve) => sync!.once('applied', () => resolve(performance.now())));
    const askedAt = performance.now();
    await sync.start();
    const appliedAt = await snapshotApplied;
    if (store.size() !== WORKERS) throw new Error(`snapshot applied ${store.size()} workers, expected ${WORKERS}`);
    const out: Record<string, number> = {
      roster_snapshot_100k_apply_s: r2((appliedAt - firstChunkAt) / 1000),
      roster_snapshot_100k_request_to_applied_s: r2((appliedAt - askedAt) / 1000),
      roster_snapshot_100k_chunks: publisher.counters.chunks,
    };

    const apply: number[] = [];
    const endToEnd: number[] = [];
    for (let i = 0; i < DELTAS; i++) {
      source.upsert(worker((i * 7919) % WORKERS, i % 2 ? 'left' : 'entered'));
      const applied = new Promise<number>((resolve) => sync!.once('applied', () => resolve(performance.now())));
      const t0 = performance.now();
      await publisher.publishChanges();
      const t1 = await applied;
      apply.push(t1 - arrivedAt);
      endToEnd.push(t1 - t0);
    }
    if (store.version() !== source.version()) throw new Error('deltas did not all apply');
    out.roster_delta_apply_p50_ms = r2(percentile(apply, 50));
    out.roster_delta_apply_p99_ms = r2(percentile(apply, 99));
    out.roster_delta_hub_to_gate_p50_ms = r2(percentile(endToEnd, 50));
    out.roster_delta_hub_to_gate_p99_ms = r2(percentile(endToEnd, 99));
    return out;
  } finally {
    await sync?.stop();
    await publisher?.stop();
    await gate.endAsync(true);
    await hub.endAsync(true);
    store.close();
    await broker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
