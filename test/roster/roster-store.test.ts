import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SITE_RULES, siteRulesSchema } from '../../src/core/site-rules.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { cardHmac, SITE, SITE_KEY, tempDir, template, worker } from './helpers.js';

const dir = await tempDir();
afterAll(() => dir.remove());
let n = 0;
const path = () => join(dir.path, `roster-${n++}.db`);

function base(store: RosterStore, count = 10, version = 1): void {
  store.replace({ version, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: Array.from({ length: count }, (_, i) => worker(i)) });
}

describe('gate roster store', () => {
  it('finds a worker by credential with every field the roster carried, templates and unknown fields included', () => {
    const store = new RosterStore(path());
    store.replace({ version: 3, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: [worker(10, { team: '木工班' })] });
    const w = store.findByCredential('card', cardHmac('card-10'));
    expect(w).toMatchObject({ workerId: 'W000010', trade: '电工', certificates: [{ trade: '电工', validTo: '2029-06-30' }], faceTemplates: [template(10)], team: '木工班' });
    expect(store.findByCredential('card', cardHmac('card-11'))).toBeNull();
    expect(store.version()).toBe(3);
    expect(store.siteId()).toBe(SITE);
    expect(store.siteKey()).toEqual(SITE_KEY);
    expect(store.rules()).toBeNull();
    expect(store.size()).toBe(1);
    expect([...store.faceTemplates()]).toEqual([{ workerId: 'W000010', templates: [template(10)] }]);
    store.close();
  });

  it('applies a delta: upserts, a moved card, removals, rules and a new site key', () => {
    const store = new RosterStore(path());
    base(store);
    const rules = siteRulesSchema.parse({ specialTrades: ['电工'] });
    store.applyDelta({
      siteId: SITE,
      fromVersion: 1,
      version: 2,
      upserts: [worker(1, { status: 'left' }), worker(2, { credentials: [{ kind: 'card', hmac: cardHmac('new-card') }] }), worker(50)],
      removes: ['W000003', 'W999999'],
      rules,
      siteKey: 'cd'.repeat(32),
    });
    expect(store.version()).toBe(2);
    expect(store.findByCredential('card', cardHmac('card-1'))?.status).toBe('left');
    expect(store.findByCredential('card', cardHmac('card-2'))).toBeNull();
    expect(store.findByCredential('card', cardHmac('new-card'))?.workerId).toBe('W000002');
    expect(store.findByCredential('card', cardHmac('card-3'))).toBeNull();
    expect(store.findWorker('W000003')).toBeNull();
    expect(store.findWorker('W000050')).not.toBeNull();
    expect(store.size()).toBe(10);
    expect(store.rules()).toEqual(rules);
    expect(store.siteKey()!.toString('hex')).toBe('cd'.repeat(32));
    store.close();
  });

  it('refuses a delta that starts after its version, or does not move it forward, and changes nothing', () => {
    const store = new RosterStore(path());
    base(store, 5, 4);
    expect(() => store.applyDelta({ siteId: SITE, fromVersion: 5, version: 6, upserts: [worker(1, { status: 'left' })], removes: [] })).toThrow(expect.objectContaining({ code: 'ROSTER_GAP' }));
    expect(() => store.applyDelta({ siteId: SITE, fromVersion: 2, version: 4, upserts: [], removes: [] })).toThrow(expect.objectContaining({ code: 'ROSTER_STALE' }));
    expect(() => store.applyDelta({ siteId: 'other', fromVersion: 4, version: 5, upserts: [], removes: [] })).toThrow(expect.objectContaining({ code: 'ROSTER_WRONG_SITE' }));
    expect(store.version()).toBe(4);
    expect(store.findByCredential('card', cardHmac('card-1'))?.status).toBe('entered');
    // overlapping: starts before this version, ends after it
    store.applyDelta({ siteId: SITE, fromVersion: 2, version: 5, upserts: [worker(1, { status: 'left' })], removes: [] });
    expect(store.version()).toBe(5);
    store.close();
  });

  it('a delta abandoned half-way by an error leaves the previous version, also after reopening the file', () => {
    const file = path();
    let failAt = -1;
    const store = new RosterStore(file, { progressEvery: 10, onProgress: (_phase, rows) => { if (rows === failAt) throw new Error('power cut'); } });
    base(store, 100, 7);
    failAt = 30;
    expect(() => store.applyDelta({
      siteId: SITE, fromVersion: 7, version: 8,
      upserts: Array.from({ length: 50 }, (_, i) => worker(i, { status: 'blacklisted' })),
      removes: [],
    })).toThrow('power cut');
    expect(store.version()).toBe(7);
    expect(store.findByCredential('card', cardHmac('card-0'))?.status).toBe('entered');
    store.close();

    const again = new RosterStore(file);
    expect(again.version()).toBe(7);
    expect(again.size()).toBe(100);
    expect(again.findByCredential('card', cardHmac('card-0'))?.status).toBe('entered');
    again.close();
  });

  it('switches in a staged snapshot with one commit; an abandoned one leaves the live roster untouched', () => {
    const store = new RosterStore(path());
    base(store, 10, 1);
    const s1 = store.beginSnapshot();
    s1.add([worker(100), worker(101)]);
    expect(store.findByCredential('card', cardHmac('card-100'))).toBeNull(); // still the old roster
    s1.abandon();
    expect(store.version()).toBe(1);
    expect(store.size()).toBe(10);

    const s2 = store.beginSnapshot();
    s2.add([worker(100)]);
    s2.add([worker(101)]);
    s2.commit({ version: 9, siteId: SITE, siteKey: SITE_KEY.toString('hex'), rules: DEFAULT_SITE_RULES });
    expect(store.version()).toBe(9);
    expect(store.size()).toBe(2);
    expect(store.findByCredential('card', cardHmac('card-1'))).toBeNull();
    expect(store.findByCredential('card', cardHmac('card-101'))?.workerId).toBe('W000101');
    expect(store.rules()).toEqual(DEFAULT_SITE_RULES);
    expect(() => s2.add([worker(1)])).toThrow(/already committed/);
    // and deltas go on from there
    store.applyDelta({ siteId: SITE, fromVersion: 9, version: 10, upserts: [worker(102)], removes: ['W000100'] });
    expect(store.size()).toBe(2);
    store.close();
  });

  it('a card listed for two workers in a snapshot belongs to the later one, as with a delta', () => {
    const store = new RosterStore(path());
    const shared = [{ kind: 'card' as const, hmac: cardHmac('shared') }];
    const s = store.beginSnapshot();
    s.add([worker(1, { credentials: shared })]);
    s.add([worker(2, { credentials: shared })]);
    s.commit({ version: 1, siteId: SITE, siteKey: SITE_KEY.toString('hex'), rules: null });
    expect(store.findByCredential('card', cardHmac('shared'))?.workerId).toBe('W000002');
    store.applyDelta({ siteId: SITE, fromVersion: 1, version: 2, upserts: [worker(1, { credentials: shared })], removes: [] });
    expect(store.findByCredential('card', cardHmac('shared'))?.workerId).toBe('W000001');
    store.close();
  });

  it('a snapshot thrown out during its commit leaves the previous version whole', () => {
    const file = path();
    let failCommit = false;
    const store = new RosterStore(file, { onProgress: (phase) => { if (phase === 'commit' && failCommit) throw new Error('crash in commit'); } });
    base(store, 20, 2);
    const s = store.beginSnapshot();
    s.add([worker(500)]);
    failCommit = true;
    expect(() => s.commit({ version: 3, siteId: SITE, siteKey: SITE_KEY.toString('hex'), rules: null })).toThrow('crash in commit');
    expect(store.version()).toBe(2);
    expect(store.size()).toBe(20);
    expect(store.findByCredential('card', cardHmac('card-5'))?.workerId).toBe('W000005');
    store.close();
    const again = new RosterStore(file);
    expect(again.version()).toBe(2);
    expect(again.findByCredential('card', cardHmac('card-500'))).toBeNull();
    again.close();
  });

  it('drops the first layout\'s tables so the roster is loaded again', () => {
    const file = path();
    const old = new Database(file);
    old.exec(`CREATE TABLE roster_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE workers (worker_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, id_valid_to TEXT);
      CREATE TABLE credentials (kind TEXT NOT NULL, hmac TEXT NOT NULL, worker_id TEXT NOT NULL, PRIMARY KEY (kind, hmac));
      INSERT INTO roster_meta VALUES ('version', '5'); INSERT INTO workers VALUES ('W1', 'a', 'entered', NULL);`);
    old.close();
    const store = new RosterStore(file);
    expect(store.version()).toBeNull();
    expect(store.size()).toBe(0);
    base(store, 3, 5);
    expect(store.findByCredential('card', cardHmac('card-2'))?.workerId).toBe('W000002');
    store.close();
  });
});
