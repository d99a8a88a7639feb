import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { credentialHmac } from '../../src/core/credential.js';
import type { PunchEntry } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { rosterPublicKeyText, type RosterWorkerLike } from '../../src/core/roster-message.js';
import { siteRulesSchema } from '../../src/core/site-rules.js';
import { gateConfigSchema } from '../../src/config/gate-config.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { RosterPublisher } from '../../src/hub/roster-publisher.js';
import { topics } from '../../src/mqtt/topics.js';
import { MemoryRosterSource } from '../roster/helpers.js';
import { GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

// A gate that takes its roster from the hub: the hub side is the real RosterPublisher on a hub
// account of the real broker, signing with its Ed25519 key; the gate pins the public key.
describe('roster sync through a real gate', () => {
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let hubLink: MqttClient;
  let source: MemoryRosterSource;
  let publisher: RosterPublisher;
  const punches: PunchEntry[] = [];
  const keys = generateKeyPairSync('ed25519');

  const person = (id: string, card: number, extra: Partial<RosterWorkerLike> = {}): RosterWorkerLike => ({
    workerId: id,
    name: `工人${id}`,
    status: 'entered',
    idValidTo: null,
    credentials: [{ kind: 'wiegand', hmac: credentialHmac(site.siteKey, 'wiegand', String((21 << 16) | card)) }],
    ...extra,
  });

  async function swipe(card: number): Promise<PunchEntry> {
    const k = punches.length;
    new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, card));
    await waitFor(() => punches.length > k, 5000, 'the punch');
    await waitFor(() => !gate.laneBusy('L1'), 5000, 'the passage');
    return punches.at(-1)!;
  }

  beforeAll(async () => {
    site = await startSite('rsync');
    source = new MemoryRosterSource(SITE, []);
    source.setSiteKey(site.siteKey);
    source.upsert(person('R1', 2001));
    source.upsert(person('R2', 2002));
    const w = await watcher(site, [topics.gateCmdAck(SITE, GATE)]);
    hubLink = w.client;
    publisher = new RosterPublisher({ source, link: hubLink, siteId: SITE, key: keys.privateKey, clock: systemClock, log: silentLogger(), minSnapshotIntervalMs: 0 });
    hubLink.on('message', (topic, payload) => publisher.handleMessage(topic, payload));
    await publisher.start();
    world = simWorld(systemClock);
    // no roster file at all: the pinned key alone
    const config = gateConfig(site, [wiegandReader], { roster: { hubPublicKey: rosterPublicKeyText(keys.publicKey), retryMinMs: 500, headGraceMs: 200 } });
    gate = newGate(config, world);
    gate.on('punch', (p) => punches.push(p));
    await gate.start();
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await publisher?.stop();
    await hubLink?.endAsync();
    await site?.stop();
  });

  it('a gate with no roster asks the hub for a snapshot and decides with it', async () => {
    await waitFor(() => gate.roster.version() === source.version(), 15_000, 'the snapshot');
    expect(gate.roster.size()).toBe(2);
    expect(gate.status().roster).toMatchObject({ version: source.version(), size: 2, snapshotsApplied: 1, rejected: 0 });
    expect((await swipe(2001)).decision).toBe('granted');
    expect(await swipe(1001)).toMatchObject({ decision: 'denied', reason: 'not_registered' });
  });

  it('applies deltas in order: a new worker passes, a removed one no longer does', async () => {
    source.upsert(person('R3', 2003));
    source.remove('R2');
    await publisher.publishChanges();
    await waitFor(() => gate.roster.version() === source.version(), 10_000, 'the delta');
    expect(gate.rosterSync!.status().deltasApplied).toBeGreaterThanOrEqual(1);
    expect((await swipe(2003)).decision).toBe('granted');
    expect(await swipe(2002)).toMatchObject({ decision: 'denied', reason: 'not_registered' });
    expect(gate.roster.credentialCounts()).toEqual({ wiegand: 2 });
    expect(gate.roster.searchByName('工人R3', 5).map((w) => w.workerId)).toEqual(['R3']);
  });

  it("the roster's site rules reach the decision (card+face: a card alone is not enough)", async () => {
    source.setRules(siteRulesSchema.parse({ verification: 'card+face' }));
    await publisher.publishChanges();
    await waitFor(() => gate.roster.version() === source.version(), 10_000, 'the rules delta');
    expect(gate.roster.rules()?.verification).toBe('card+face');
    expect(await swipe(2001)).toMatchObject({ decision: 'denied', reason: 'card_face_incomplete' });
    source.setRules(siteRulesSchema.parse({}));
    await publisher.publishChanges();
    await waitFor(() => gate.roster.rules()?.verification === 'any', 10_000, 'the rules back');
    expect((await swipe(2001)).decision).toBe('granted');
  });

  it('an operator\'s resync-roster asks the hub for a snapshot', async () => {
    const before = publisher.counters.requests;
    await hubLink.publishAsync(topics.gateCmd(SITE, GATE), JSON.stringify({ cmd: 'resync-roster', id: 'rs1' }), { qos: 1 });
    await waitFor(() => publisher.counters.requests > before, 10_000, 'the request at the hub');
  });

  it('a message signed by another key is refused and counted; the roster stays', async () => {
    const other = generateKeyPairSync('ed25519');
    const rogueSource = new MemoryRosterSource(SITE, [person('EVIL', 2999)]);
    rogueSource.setSiteKey(site.siteKey);
    for (let i = 0; i < 20; i++) rogueSource.upsert(person('EVIL', 2999));
    const rogue = new RosterPublisher({ source: rogueSource, link: hubLink, siteId: SITE, key: other.privateKey, clock: systemClock, log: silentLogger(), publishedVersion: source.version() });
    const have = gate.roster.version();
    await rogue.publishChanges();
    await waitFor(() => gate.rosterSync!.status().rejectedBy.bad_signature !== undefined, 10_000, 'the refusal');
    expect(gate.roster.version()).toBe(have);
    expect(gate.roster.findWorker('EVIL')).toBeNull();
    await rogue.stop();
  });

  it('a config with neither a roster file nor the hub key is refused with a clear message', () => {
    const base = gateConfig(site, []);
    const r = gateConfigSchema.safeParse({ ...base, roster: {} });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].message).toMatch(/roster\.hubPublicKey.*roster\.file/);
    const bad = gateConfigSchema.safeParse({ ...base, roster: { hubPublicKey: 'not a key' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0].path).toEqual(['roster', 'hubPublicKey']);
  });
});
