import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryPath } from '../../src/hub/registry/registry-store.js';
import { hubConfigSchema, type HubConfig } from '../../src/config/hub-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { credentialHmac } from '../../src/core/credential.js';
import { idNumberFrom } from '../../src/core/id-number.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { RosterSync } from '../../src/gate/roster/roster-sync.js';
import { Hub } from '../../src/hub/hub.js';
import { RegistryStore } from '../../src/hub/registry/registry-store.js';
import { readRosterKey } from '../../src/hub/roster-key.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { acceptingProfile } from '../hub/fake-profile.js';

// The registry reaches the gates: a workers file imported once, the configured rules, changes
// made by the CLI in another process, all signed by the hub and applied by a gate's real roster
// sync over the real broker.
const SITE = 'S1';
const dir = mkdtempSync(join(tmpdir(), 'hub-roster-'));
const broker = new MosquittoBroker({
  dir: join(dir, 'broker'),
  siteId: SITE,
  hub: { user: 'hub', password: 'hub-pw' },
  gates: [{ gateId: 'G1', password: 'g1-pw' }],
});
const profile = acceptingProfile;
const configPath = join(dir, 'hub.yaml');
const workersFile = join(dir, 'workers.json');
const clock = new ManualClock(Date.now());
const stateDir = join(dir, 'hub');
const legacyWorker = (i: number) => ({
  workerId: `W0000${i}`, name: `工人${i}`, idNumber: idNumberFrom(`31011519800101${String(100 + i)}`), projectCode: 'P1', teamSysNo: 1 + (i % 2),
});

function writeWorkers(n: number): void {
  writeFileSync(workersFile, JSON.stringify({ workers: Array.from({ length: n }, (_, i) => legacyWorker(i + 1)) }));
}

const load = (): HubConfig => loadConfigFile(hubConfigSchema, configPath);
const newHub = () => new Hub({ config: load(), loadConfig: load, log: silentLogger(), profile, clock, statusEveryMs: 60_000 });

/** Waits on the real clock (bounded) while moving the manual one, so polls, retries and paced snapshots happen. */
async function waitAdvancing(done: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await clock.advance(250);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('roster from the hub registry to a gate (real broker)', () => {
  let hub: Hub;
  let gateClient: MqttClient;
  let roster: RosterStore;
  let sync: RosterSync;

  beforeAll(async () => {
    await broker.start();
    writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
    writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
    writeWorkers(3);
    writeFileSync(configPath, JSON.stringify({
      siteId: SITE,
      stateDir,
      mqtt: { url: broker.url, passwordFile: join(dir, 'hub.pw') },
      registry: { workersFile, pollMs: 2000 },
      rules: { specialTrades: ['电工'], antiPassback: { policy: 'record' } },
      platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecretFile: join(dir, 'secret'), mode: 'joint-test' },
      homeAssistant: { enabled: false },
    }));
    hub = newHub();
    await hub.start();

    roster = new RosterStore(join(dir, 'gate-roster.db'));
    let client: MqttClient | null = null;
    sync = new RosterSync({
      store: roster,
      link: { subscribeAsync: (t, o) => client!.subscribeAsync(t, o), publish: (t, p, o, cb) => client!.publish(t, p, o, cb) },
      siteId: SITE,
      gateId: 'G1',
      hubKey: createPublicKey(readRosterKey(join(stateDir, 'roster-key.pem'))),
      clock,
      log: silentLogger(),
      retryMinMs: 2000,
      headGraceMs: 2000,
    });
    client = await connectMqtt({
      url: broker.url, username: 'G1', password: 'g1-pw', clientId: 'roster-g1', clean: false, sessionExpirySec: 3600,
      onMessage: (topic, payload) => sync.handleMessage(topic, payload),
    });
    gateClient = client;
    await sync.start();
  }, 30_000);

  afterAll(async () => {
    await sync?.stop();
    await gateClient?.endAsync();
    await hub?.stop();
    roster?.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports the workers file and the configured rules, and a fresh gate gets them in a signed snapshot', async () => {
    expect(hub.registry.count()).toBe(3);
    expect(hub.registry.rules()).toMatchObject({ specialTrades: ['电工'], antiPassback: { policy: 'record' } });
    await waitAdvancing(() => roster.version() === hub.registry.version() && roster.size() === 3, 'the snapshot at the gate');
    expect(roster.rules()).toMatchObject({ specialTrades: ['电工'] });
    expect(roster.findWorker('W00002')).toMatchObject({ name: '工人2', status: 'registered' });
    expect(sync.counters).toMatchObject({ snapshotsApplied: 1, rejected: 0 });
  });

  it('sends changes the CLI makes in another process as a delta within a poll', async () => {
    const cli = new RegistryStore(registryPath(stateDir), systemClock);
    try {
      cli.enter('W00001');
      cli.bindCard('W00001', 'wiegand', '12345');
    } finally {
      cli.close();
    }
    const want = hub.registry.version();
    await waitAdvancing(() => roster.version() === want, 'the delta at the gate');
    expect(roster.findWorker('W00001')?.status).toBe('entered');
    const hmac = credentialHmac(hub.registry.siteKey(), 'wiegand', '12345');
    expect(roster.findByCredential('wiegand', hmac)?.workerId).toBe('W00001');
    expect(sync.counters).toMatchObject({ snapshotsApplied: 1, deltasApplied: 1, rejected: 0 });
  });

  it('after a restart imports nothing twice, keeps the CLI\'s edits, sends what changed while it was down, then a changed workers file and rules, all as deltas', async () => {
    const published = hub.roster.publishedVersion;
    await hub.stop();
    const cli = new RegistryStore(registryPath(stateDir), systemClock);
    cli.leave('W00001'); // while the hub is down
    const before = cli.version();
    cli.close();
    hub = newHub();
    await hub.start();
    expect(hub.registry.version()).toBe(before);
    expect(hub.registry.get('W00001')?.site.status).toBe('left');
    await waitAdvancing(() => roster.findWorker('W00001')?.status === 'left', 'the change made while the hub was down');
    expect(published).toBeLessThan(before);

    writeWorkers(4);
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    config.rules.specialTrades = ['电工', '焊工'];
    writeFileSync(configPath, JSON.stringify(config));
    await hub.reload();
    expect(hub.registry.count()).toBe(4);
    const want = hub.registry.version();
    await waitAdvancing(() => roster.version() === want, 'the second delta');
    expect(roster.size()).toBe(4);
    expect(roster.rules()?.specialTrades).toEqual(['电工', '焊工']);
    // no snapshot was needed: the gate followed every change as a delta
    expect(sync.counters).toMatchObject({ snapshotsApplied: 1, deltasApplied: 3, rejected: 0 });
  });
});
