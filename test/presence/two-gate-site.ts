import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { credentialHmac } from '../../src/core/credential.js';
import type { Direction, PassageEntry, PunchEntry } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import type { SiteRulesInput } from '../../src/core/site-rules.js';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import type { Gate } from '../../src/gate/gate.js';
import { provisionSoftHsmToken } from '../../src/gate/punch/token-provision.js';
import { sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';
import { Hub } from '../../src/hub/hub.js';
import { gateConfig, newGate, simWorld, SITE, waitFor, type TestSite } from '../gate-integration/harness.js';

export const GATE_A = 'GATE-A';
export const GATE_B = 'GATE-B';
/** Workers W1..W4, all entered, each with one Wiegand card (facility 21, card 2000 + n). */
export const WORKERS = ['W1', 'W2', 'W3', 'W4'] as const;
export const cardOf = (workerId: string): string => String((21 << 16) | (2000 + Number(workerId.slice(1))));

export function rosterWithRules(siteKey: Buffer, version: number, rules: SiteRulesInput) {
  return {
    version,
    siteId: SITE,
    siteKey: siteKey.toString('hex'),
    rules,
    workers: WORKERS.map((workerId) => ({
      workerId,
      name: `工人${workerId}`,
      status: 'entered',
      idValidTo: null,
      credentials: [{ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', cardOf(workerId)) }],
    })),
  };
}

export interface TwoGateSite {
  dir: string;
  broker: MosquittoBroker;
  hub: Hub;
  siteKey: Buffer;
  gates: { a: Gate; b: Gate };
  stop(): Promise<void>;
}

/**
 * A real mosquitto with two gate accounts and the hub's, one SoftHSM2 directory holding a token
 * per gate, an in-process hub pinning both, and two gates on their own simulated chips reading
 * the same roster file (anti-passback per `rules`).
 */
export async function startTwoGateSite(name: string, rules: SiteRulesInput): Promise<TwoGateSite> {
  const dir = mkdtempSync(join(tmpdir(), `presence-${name}-`));
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  const secret = (file: string, value: string) => {
    const p = join(secrets, file);
    writeFileSync(p, value + '\n', { mode: 0o600 });
    return p;
  };
  const hubPassword = randomBytes(8).toString('hex');
  const passwords = { [GATE_A]: randomBytes(8).toString('hex'), [GATE_B]: randomBytes(8).toString('hex') };
  const broker = new MosquittoBroker({
    dir: join(dir, 'broker'),
    siteId: SITE,
    hub: { user: 'hub', password: hubPassword },
    gates: Object.entries(passwords).map(([gateId, password]) => ({ gateId, password })),
  });
  await broker.start();
  const pin = '246810';
  const tokens: Record<string, { label: string; certFile: string }> = {};
  for (const gateId of [GATE_A, GATE_B]) {
    const label = `sitegate-${gateId}`;
    const token = await provisionSoftHsmToken({
      dir: join(dir, 'softhsm'),
      tokenLabel: label,
      keyLabel: 'punch-signing',
      pin,
      soPin: '13579135',
      keyType: 'ec-p256',
      subjectCN: `${SITE} ${gateId}`,
      validDays: 365,
    });
    const certFile = join(dir, `${gateId}.crt.pem`);
    writeFileSync(certFile, token.certPem);
    tokens[gateId] = { label, certFile };
  }
  const siteKey = randomBytes(32);
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, JSON.stringify(rosterWithRules(siteKey, 1, rules)));
  const registryFile = join(dir, 'registry.json');
  writeFileSync(
    registryFile,
    JSON.stringify({ workers: [{ workerId: 'W1', name: '张伟', idCardType: '01', idNumber: sampleCard().idNumber, projectCode: 'P1', teamSysNo: 1 }] }),
  );
  const hub = new Hub({
    config: hubConfigSchema.parse({
      siteId: SITE,
      stateDir: join(dir, 'hub'),
      mqtt: { url: broker.url, username: 'hub', passwordFile: secret('hub.mqtt', hubPassword) },
      gates: [GATE_A, GATE_B].map((gateId) => ({ gateId, certFile: tokens[gateId].certFile })),
      registry: { workersFile: registryFile },
      homeAssistant: { enabled: false },
      platform: {
        baseUrl: 'http://127.0.0.1:9/unused',
        appId: 'test',
        appSecretFile: secret('platform.secret', randomBytes(16).toString('hex')),
        mode: 'joint-test',
      },
    }),
    log: silentLogger(),
    clock: systemClock,
  });
  await hub.start();
  const pinFile = secret('gate.pin', pin);
  const site = { dir, broker, rosterFile, token: { tokenLabel: '' }, mqttPasswordFile: '', pinFile: '' } as unknown as TestSite;
  const gate = (gateId: string) =>
    newGate(
      gateConfig(site, [], {
        gateId,
        stateDir: join(dir, gateId),
        mqtt: { url: broker.url, passwordFile: secret(`${gateId}.mqtt`, passwords[gateId]), reconnectMinMs: 200 },
        token: { tokenLabel: tokens[gateId].label, keyLabel: 'punch-signing', pinFile, retryMs: 500 },
        fireAlarm: undefined,
      }),
      simWorld(systemClock),
    );
  const gates = { a: gate(GATE_A), b: gate(GATE_B) };
  await gates.a.start();
  await gates.b.start();
  await waitFor(() => gates.a.snapshot().hub.connected && gates.b.snapshot().hub.connected, 10_000, 'both gates on the broker');
  return {
    dir,
    broker,
    hub,
    siteKey,
    gates,
    async stop() {
      await gates.a.stop().catch(() => undefined);
      await gates.b.stop().catch(() => undefined);
      await hub.stop().catch(() => undefined);
      await broker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Presents a worker's card on lane L1; a granted punch returns once its passage is journalled and
 * the relay has dropped. The simulated walker steps through when a relay is energised; a grant
 * while the last pulse still holds it only extends that pulse, so nobody would walk.
 */
export async function swipe(gate: Gate, workerId: string, direction: Direction): Promise<{ punch: PunchEntry; passage: PassageEntry | null }> {
  let passage: PassageEntry | null = null;
  const punch = gate.controller.handle({ kind: 'wiegand', number: cardOf(workerId), lane: 'L1', direction, readAtMono: gate.clock.monotonic() });
  if (!punch) throw new Error('the swipe journalled no punch');
  if (punch.decision === 'granted') {
    const onPassage = (p: PassageEntry) => {
      if (p.punchId === punch.punchId) passage = p;
    };
    gate.on('passage', onPassage);
    try {
      await waitFor(() => passage !== null, 5000, 'the passage');
    } finally {
      gate.off('passage', onPassage);
    }
    await waitFor(() => !gate.snapshot().relays.some((r) => r.active), 5000, 'the relay dropping');
  }
  return { punch, passage };
}
