// A site for the real `sitegate gate` and `sitegate hub` processes (dist/, the pinned Node 24):
// a real mosquitto, a SoftHSM2 token, the gate's GPIO chip served here on a unix socket, config
// files and a roster file. Imports built code only, so the bench (plain node) can use it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../dist/core/clock.js';
import { MosquittoBroker } from '../../dist/demo/mosquitto.js';
import { SimGpioChip } from '../../dist/gate/hw/sim/gpio-chip.js';
import { GpioSocketServer } from '../../dist/gate/hw/sim/gpio-socket-server.js';
import { provisionSoftHsmToken } from '../../dist/gate/punch/token-provision.js';

export const ROOT = join(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');
export const SITE = 'FIELD01';
export const GATE = 'GATE-F1';
const CHIP = 'pinctrl-bcm2711';
/** the reference pin map (device-tree/README.md): two lanes */
const PINS = { l1: { in: 17, out: 27, passage: 22 }, l2: { in: 23, out: 24, passage: 25 }, d0: 5, d1: 6 } as const;

/** The pinned Node 24 the units run, else the node running this. */
export function runtimeNode(): string {
  const pinned = join(ROOT, '.runtime/bin/node');
  return existsSync(pinned) ? pinned : process.execPath;
}

export interface FieldSite {
  dir: string;
  broker: MosquittoBroker;
  chip: SimGpioChip;
  /** SOFTHSM2_CONF for the gate process */
  softhsmConf: string;
  gateConfigPath: string;
  hubConfigPath: string;
  /** writes the gate's config file (JSON is YAML); `over` replaces top-level keys */
  writeGateConfig(over?: Record<string, unknown>): void;
  /** writes the hub's config file; `over` replaces top-level keys */
  writeHubConfig(over?: Record<string, unknown>): void;
  stop(): Promise<void>;
}

/**
 * `dir` must be short and absolute: the GPIO socket lives in it. `tokenDir` (default `dir`/softhsm):
 * a process that has already provisioned SoftHSM tokens must name that same directory.
 */
export async function startFieldSite(dir: string, o: { rosterFile: string; tokenDir?: string }): Promise<FieldSite> {
  mkdirSync(dir, { recursive: true });
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  const secret = (name: string, value: string) => {
    const p = join(secrets, name);
    writeFileSync(p, value + '\n', { mode: 0o600 });
    return p;
  };
  const pw = { hub: randomBytes(12).toString('hex'), gate: randomBytes(12).toString('hex') };
  const broker = new MosquittoBroker({ dir: join(dir, 'broker'), siteId: SITE, hub: { user: 'hub', password: pw.hub }, gates: [{ gateId: GATE, password: pw.gate }] });
  await broker.start();

  const chip = new SimGpioChip(systemClock, { label: CHIP, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 1 } });
  const gpio = new GpioSocketServer({ path: join(dir, 'gpio.sock'), chips: [chip] });
  await gpio.start();

  const pin = randomBytes(4).toString('hex');
  const token = await provisionSoftHsmToken({
    dir: o.tokenDir ?? join(dir, 'softhsm'),
    tokenLabel: `sg-${GATE}`,
    keyLabel: 'punch-signing',
    pin,
    soPin: randomBytes(8).toString('hex'),
    keyType: 'ec-p256',
    subjectCN: `${SITE} ${GATE}`,
    validDays: 365,
  });
  const certFile = join(dir, 'gate.crt.pem');
  writeFileSync(certFile, token.certPem);
  const registryFile = join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify({ workers: [] }), { mode: 0o600 });

  const line = (offset: number) => ({ chip: CHIP, offset });
  const lane = (name: string, p: { in: number; out: number; passage: number }) => ({
    name,
    relays: { in: line(p.in), out: line(p.out) },
    passageSensor: line(p.passage),
    pulseMs: 100,
    passageTimeoutMs: 500,
    passageClearMs: 50,
  });
  const gateBase = {
    siteId: SITE,
    gateId: GATE,
    stateDir: join(dir, 'gate'),
    mqtt: { url: broker.url, passwordFile: secret('gate.mqtt', pw.gate), reconnectMinMs: 200, reconnectMaxMs: 1000 },
    token: { tokenLabel: token.tokenLabel, keyLabel: token.keyLabel, pinFile: secret('gate.pin', pin), retryMs: 500 },
    roster: { file: o.rosterFile },
    gpio: { driver: 'socket', socket: join(dir, 'gpio.sock'), wiegandEdges: 'driver' },
    lanes: [lane('L1', PINS.l1), lane('L2', PINS.l2)],
    readers: [{ kind: 'wiegand', lane: 'L1', direction: 'in', d0: line(PINS.d0), d1: line(PINS.d1) }],
  };
  const hubBase = {
    siteId: SITE,
    stateDir: join(dir, 'hub'),
    mqtt: { url: broker.url, username: 'hub', passwordFile: secret('hub.mqtt', pw.hub), reconnectMinMs: 200, reconnectMaxMs: 1000 },
    gates: [{ gateId: GATE, certFile }],
    registry: { workersFile: registryFile },
    // joint-test: no timer drives a platform call, so nothing needs to listen here
    platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'field-test', appSecretFile: secret('platform.secret', randomBytes(16).toString('hex')), mode: 'joint-test' },
    homeAssistant: { enabled: false },
  };
  const gateConfigPath = join(dir, 'gate.yaml');
  const hubConfigPath = join(dir, 'hub.yaml');
  return {
    dir,
    broker,
    chip,
    softhsmConf: token.confPath,
    gateConfigPath,
    hubConfigPath,
    writeGateConfig: (over = {}) => writeFileSync(gateConfigPath, JSON.stringify({ ...gateBase, ...over }, null, 1)),
    writeHubConfig: (over = {}) => writeFileSync(hubConfigPath, JSON.stringify({ ...hubBase, ...over }, null, 1)),
    async stop() {
      await broker.stop().catch(() => undefined);
      await gpio.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One `sitegate …` daemon process; its JSON log lines are kept for the test to read. */
export class SitegateProcess {
  readonly child: ChildProcess;
  log = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(runtimeNode(), [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => (this.log += d));
    this.child.stderr!.on('data', (d: string) => (this.log += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** True once a log line with this `msg` (or containing this text) was written. */
  said(text: string): boolean {
    return this.log.includes(`"msg":"${text}"`) || this.log.includes(text);
  }

  /** Sends `signal`; resolves with the exit code, or 'still running' after `maxMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', maxMs = 30_000): Promise<number | null | 'still running'> {
    if (this.running) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), maxMs)));
    const r = await Promise.race([this.exited, bound]);
    clearTimeout(timer);
    return r;
  }
}
