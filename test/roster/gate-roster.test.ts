import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { credentialHmac } from '../../src/core/credential.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { rosterPublicKeyText, type RosterWorkerLike } from '../../src/core/roster-message.js';
import type { Gate } from '../../src/gate/gate.js';
import { RosterPublisher } from '../../src/hub/roster-publisher.js';
import { commandAckSchema } from '../../src/mqtt/commands.js';
import { topics } from '../../src/mqtt/topics.js';
import { GATE, SITE, gateConfig, newGate, rosterDoc, simWorld, startSite, waitFor, watcher, type TestSite } from '../gate-integration/harness.js';
import { MemoryRosterSource } from './helpers.js';

// A real gate on the real broker (mosquitto with the site's ACL, SoftHSM token): an operator's
// resync-roster rebuilds a tampered store from the hub's snapshot of the same version, and a
// restart does not parse an unchanged roster file again.
let site: TestSite;
let watch: Awaited<ReturnType<typeof watcher>>;

beforeAll(async () => {
  site = await startSite('roster');
  watch = await watcher(site, [topics.gateCmdAck(SITE, GATE)]);
}, 60_000);

afterAll(async () => {
  await watch?.client.endAsync();
  await site?.stop();
});

function capturingLog(): { log: Logger; lines: { msg: string; [k: string]: unknown }[] } {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

describe('resync-roster on a real gate', () => {
  let gate: Gate;
  let publisher: RosterPublisher;
  let source: MemoryRosterSource;
  const keys = generateKeyPairSync('ed25519');

  const person = (id: string, card: number): RosterWorkerLike => ({
    workerId: id,
    name: `工人${id}`,
    status: 'entered',
    idValidTo: null,
    credentials: [{ kind: 'wiegand', hmac: credentialHmac(site.siteKey, 'wiegand', String((21 << 16) | card)) }],
  });

  beforeAll(async () => {
    source = new MemoryRosterSource(SITE, []);
    source.setSiteKey(site.siteKey);
    for (let i = 1; i <= 5; i++) source.upsert(person(`R${i}`, 3000 + i));
    publisher = new RosterPublisher({ source, link: watch.client, siteId: SITE, key: keys.privateKey, clock: systemClock, log: silentLogger(), minSnapshotIntervalMs: 0 });
    watch.client.on('message', (topic, payload) => publisher.handleMessage(topic, payload));
    await publisher.start();
    const config = gateConfig(site, [], { stateDir: join(site.dir, 'gate-resync'), roster: { hubPublicKey: rosterPublicKeyText(keys.publicKey), retryMinMs: 500, headGraceMs: 200 } });
    gate = newGate(config, simWorld(systemClock));
    await gate.start();
    await waitFor(() => gate.roster.version() === source.version() && gate.roster.size() === 5, 15_000, 'the first snapshot');
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await publisher?.stop();
  });

  /** removes a worker behind the store's back, as a hand edit or a damaged file would */
  function tamper(workerId: string): void {
    const db = new Database(gate.rosterPath);
    db.prepare('DELETE FROM credentials WHERE worker_id = ?').run(workerId);
    db.prepare('DELETE FROM workers WHERE worker_id = ?').run(workerId);
    db.close();
  }

  const hmacOf = (card: number) => credentialHmac(site.siteKey, 'wiegand', String((21 << 16) | card));

  it('without a resync, a snapshot of the version the gate holds is skipped: the removed worker stays missing', async () => {
    tamper('R2');
    expect(gate.roster.findByCredential('wiegand', hmacOf(3002))).toBeNull();
    const sync = gate.rosterSync!;
    const stale = sync.status().stale;
    const chunks = publisher.counters.chunks;
    publisher.scheduleSnapshot(); // as if another gate had asked
    await publisher.idle();
    expect(publisher.counters.chunks).toBeGreaterThan(chunks);
    await waitFor(() => sync.status().stale > stale, 10_000, 'the snapshot at the gate');
    await sync.idle();
    expect(sync.status()).toMatchObject({ snapshotsApplied: 1, resyncPending: false });
    expect(gate.roster.findWorker('R2')).toBeNull();
    expect(gate.roster.version()).toBe(source.version());
  });

  it('resync-roster is acked as a snapshot requested, and the same-version snapshot brings the worker back', async () => {
    const version = gate.roster.version();
    const acks = () => watch.messages.filter((m) => m.topic === topics.gateCmdAck(SITE, GATE));
    const before = acks().length;
    await watch.client.publishAsync(topics.gateCmd(SITE, GATE), JSON.stringify({ cmd: 'resync-roster', id: 'rs-1' }), { qos: 1 });
    await waitFor(() => acks().length > before, 10_000, 'the ack');
    const ack = commandAckSchema.parse(acks().at(-1)!.json);
    expect(ack).toMatchObject({ id: 'rs-1', cmd: 'resync-roster', ok: true, code: 'ok' });
    expect(ack.message).toMatch(/snapshot was requested/);
    await waitFor(() => gate.rosterSync!.status().snapshotsApplied === 2, 10_000, 'the resync snapshot');
    expect(gate.roster.version()).toBe(version);
    expect(gate.roster.findByCredential('wiegand', hmacOf(3002))?.workerId).toBe('R2');
    expect(gate.roster.size()).toBe(5);
    expect(gate.rosterSync!.status()).toMatchObject({ resyncPending: false, resyncs: 1, rejected: 0 });
  });
});

describe('the roster file at a gate restart', () => {
  const stateDir = () => join(site.dir, 'gate-file');

  async function startStop(): Promise<{ msg: string; [k: string]: unknown }[]> {
    const { log, lines } = capturingLog();
    const gate = newGate(gateConfig(site, [], { stateDir: stateDir() }), simWorld(systemClock), {}, log);
    await gate.start();
    const roster = { version: gate.roster.version(), size: gate.roster.size() };
    await gate.stop();
    return lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('roster file')).map((l) => ({ ...l, roster }));
  }

  it('applies the file at the first start, skips it unparsed while unchanged, and applies it again once it changed', async () => {
    const first = await startStop();
    expect(first).toEqual([expect.objectContaining({ msg: 'roster file applied', version: 1, workers: 2, roster: { version: 1, size: 2 } })]);
    const second = await startStop();
    expect(second).toEqual([expect.objectContaining({ msg: 'roster file unchanged since it was last read; not parsed again', version: 1, roster: { version: 1, size: 2 } })]);

    const next = rosterDoc(site.siteKey, 2);
    next.workers.push({ workerId: 'W3', name: '李娜', status: 'entered', idValidTo: null, credentials: [{ kind: 'wiegand', hmac: credentialHmac(site.siteKey, 'wiegand', String((21 << 16) | 4242)) }] });
    writeFileSync(site.rosterFile, JSON.stringify(next));
    const third = await startStop();
    expect(third).toEqual([expect.objectContaining({ msg: 'roster file applied', version: 2, workers: 3, roster: { version: 2, size: 3 } })]);
  }, 60_000);
});
