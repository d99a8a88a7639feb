import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { credentialHmac } from '../../src/core/credential.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { gateConfigSchema, type GateConfig } from '../../src/config/gate-config.js';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { ObservedGpio } from '../../src/demo/observed-gpio.js';
import { Gate, type GateOptions } from '../../src/gate/gate.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';
import { provisionSoftHsmToken, type ProvisionedToken } from '../../src/gate/punch/token-provision.js';
import { Hub } from '../../src/hub/hub.js';

export const SITE = 'SITE01';
export const GATE = 'GATE-T1';
export const CHIP = 'pinctrl-bcm2711';
/** the reference pin map's first lane (device-tree/README.md) */
export const PINS = { relayIn: 17, relayOut: 27, passage: 22, d0: 5, d1: 6, red: 12, green: 13, buzzer: 19, fire: 16 } as const;
export const LANE2 = { relayIn: 23, relayOut: 24, passage: 25 } as const;

/** Roster credentials of worker W1 (entered), W2 (blacklisted); the Wiegand value is facility 21 card 1001. */
export const CARDS = {
  wiegand: (21 << 16) | 1001,
  pn532Uid: '04A1B2C3D4E5F6',
  idNumber: sampleCard().idNumber,
  blacklistedWiegand: (21 << 16) | 1002,
} as const;

export interface TestSite {
  dir: string;
  broker: MosquittoBroker;
  token: ProvisionedToken;
  siteKey: Buffer;
  rosterFile: string;
  hub: Hub | null;
  gatePassword: string;
  hubPassword: string;
  pinFile: string;
  mqttPasswordFile: string;
  stop(): Promise<void>;
}

/** A real mosquitto (a gate account and the hub's), a SoftHSM2 token for the gate, a roster file; optionally an in-process Hub. */
export async function startSite(name: string, o: { hub?: boolean; clock?: Clock; tokenLabel?: string } = {}): Promise<TestSite> {
  const dir = mkdtempSync(join(tmpdir(), `gate-int-${name}-`));
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  const secret = (file: string, value: string) => {
    const p = join(secrets, file);
    writeFileSync(p, value + '\n', { mode: 0o600 });
    return p;
  };
  const gatePassword = randomBytes(8).toString('hex');
  const hubPassword = randomBytes(8).toString('hex');
  const broker = new MosquittoBroker({
    dir: join(dir, 'broker'),
    siteId: SITE,
    hub: { user: 'hub', password: hubPassword },
    gates: [{ gateId: GATE, password: gatePassword }],
  });
  await broker.start();
  const pin = '246810';
  const token = await provisionSoftHsmToken({
    dir: join(dir, 'softhsm'),
    tokenLabel: o.tokenLabel ?? `sitegate-${GATE}`,
    keyLabel: 'punch-signing',
    pin,
    soPin: '13579135',
    keyType: 'ec-p256',
    subjectCN: `${SITE} ${GATE}`,
    validDays: 365,
  });
  const siteKey = randomBytes(32);
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(rosterFile, JSON.stringify(rosterDoc(siteKey, 1)));
  const certFile = join(dir, 'gate.crt.pem');
  writeFileSync(certFile, token.certPem);
  const registryFile = join(dir, 'registry.json');
  writeFileSync(
    registryFile,
    JSON.stringify({
      workers: [
        { workerId: 'W1', name: '张伟', idCardType: '01', idNumber: CARDS.idNumber, projectCode: 'P1', teamSysNo: 1 },
        { workerId: 'W2', name: '王芳', idCardType: '01', idNumber: '110101199003070011', projectCode: 'P1', teamSysNo: 1 },
      ],
    }),
  );
  let hub: Hub | null = null;
  if (o.hub) {
    const config = hubConfigSchema.parse({
      siteId: SITE,
      stateDir: join(dir, 'hub'),
      mqtt: { url: broker.url, username: 'hub', passwordFile: secret('hub.mqtt', hubPassword) },
      gates: [{ gateId: GATE, certFile }],
      registry: { workersFile: registryFile },
      homeAssistant: { enabled: false },
      platform: {
        baseUrl: 'http://127.0.0.1:9/unused',
        appId: 'test',
        appSecretFile: secret('platform.secret', randomBytes(16).toString('hex')),
        mode: 'joint-test',
      },
    });
    hub = new Hub({ config, log: silentLogger(), clock: o.clock ?? systemClock });
    await hub.start();
  }
  const pinFile = secret('gate.pin', pin);
  const mqttPasswordFile = secret('gate.mqtt', gatePassword);
  return {
    dir,
    broker,
    token,
    siteKey,
    rosterFile,
    hub,
    gatePassword,
    hubPassword,
    pinFile,
    mqttPasswordFile,
    async stop() {
      await hub?.stop().catch(() => undefined);
      await broker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function rosterDoc(siteKey: Buffer, version: number) {
  return {
    version,
    siteId: SITE,
    siteKey: siteKey.toString('hex'),
    workers: [
      {
        workerId: 'W1',
        name: '张伟',
        status: 'entered',
        idValidTo: null,
        credentials: [
          { kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', String(CARDS.wiegand)) },
          { kind: 'card', hmac: credentialHmac(siteKey, 'card', CARDS.pn532Uid) },
          { kind: 'idcard', hmac: credentialHmac(siteKey, 'idcard', CARDS.idNumber) },
        ],
      },
      {
        workerId: 'W2',
        name: '王芳',
        status: 'blacklisted',
        idValidTo: null,
        credentials: [{ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', String(CARDS.blacklistedWiegand)) }],
      },
    ],
  };
}

/** A gate config on the simulated chip: one lane L1 (in/out relays, sensor, LEDs), a fire alarm, the readers given. */
export function gateConfig(site: TestSite, readers: unknown[], over: Record<string, unknown> = {}): GateConfig {
  const line = (offset: number) => ({ chip: CHIP, offset });
  return gateConfigSchema.parse({
    siteId: SITE,
    gateId: GATE,
    stateDir: join(site.dir, 'gate'),
    mqtt: { url: site.broker.url, passwordFile: site.mqttPasswordFile, reconnectMinMs: 200 },
    token: { tokenLabel: site.token.tokenLabel, keyLabel: 'punch-signing', pinFile: site.pinFile, retryMs: 500 },
    roster: { file: site.rosterFile },
    gpio: { driver: 'sim' },
    fireAlarm: { input: line(PINS.fire), debounceMs: 50 },
    lanes: [
      {
        name: 'L1',
        relays: { in: line(PINS.relayIn), out: line(PINS.relayOut) },
        passageSensor: line(PINS.passage),
        pulseMs: 100,
        passageTimeoutMs: 2000,
        passageClearMs: 50,
        indicator: { red: line(PINS.red), green: line(PINS.green), buzzer: line(PINS.buzzer) },
      },
      {
        name: 'L2',
        relays: { in: line(LANE2.relayIn), out: line(LANE2.relayOut) },
        passageSensor: line(LANE2.passage),
        pulseMs: 100,
        passageTimeoutMs: 2000,
      },
    ],
    readers,
    publish: { batchSize: 20, maxInFlight: 4, ackTimeoutMs: 2000 },
    ...over,
  });
}

export const wiegandReader = { kind: 'wiegand', lane: 'L1', direction: 'in', d0: { chip: CHIP, offset: PINS.d0 }, d1: { chip: CHIP, offset: PINS.d1 } };

export interface SimWorld {
  chip: SimGpioChip;
  gpio: ObservedGpio;
  /** set false to make simulated workers stay away from the sensor after the relay opens */
  walk: { on: boolean };
}

/** The simulated chip; a worker walks through the sensor after a relay opens (as the demo does). */
export function simWorld(clock: Clock, walkMs = 30): SimWorld {
  const chip = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 1 } });
  const walk = { on: true };
  const gpio = new ObservedGpio(chip, (spec, value) => {
    if (!walk.on || value !== 1) return;
    const sensor = spec.offset === PINS.relayIn || spec.offset === PINS.relayOut ? PINS.passage : spec.offset === LANE2.relayIn || spec.offset === LANE2.relayOut ? LANE2.passage : null;
    if (sensor === null) return;
    clock.setTimeout(() => chip.inject(sensor, 1), walkMs);
    clock.setTimeout(() => chip.inject(sensor, 0), walkMs + 20);
  });
  return { chip, gpio, walk };
}

export function newGate(config: GateConfig, world: SimWorld, extra: Partial<GateOptions> = {}, log: Logger = silentLogger()): Gate {
  return new Gate({ config, log, gpio: world.gpio, ...extra });
}

/** A plain MQTT client under the hub's account, collecting what arrives on the given topics. */
export async function watcher(site: TestSite, topicList: string[]): Promise<{ client: MqttClient; messages: { topic: string; json: any }[] }> {
  const client = await mqtt.connectAsync(site.broker.url, { username: 'hub', password: site.hubPassword, clientId: `watch-${randomBytes(4).toString('hex')}`, protocolVersion: 5 });
  const messages: { topic: string; json: any }[] = [];
  client.on('message', (topic, payload) => {
    let json: unknown = null;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      json = payload.toString();
    }
    messages.push({ topic, json });
  });
  await client.subscribeAsync(topicList, { qos: 1 });
  return { client, messages };
}

/** Waits (bounded) for something real I/O makes true; never asserts a duration. */
export async function waitFor(cond: () => boolean, maxMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A socat pty pair; ready when it says so and both links exist. */
export async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitFor(() => err.includes('starting data transfer loop') && existsSync(a) && existsSync(b), 5000, 'socat');
  return child;
}

export async function stopSocat(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
