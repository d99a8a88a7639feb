import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { entryHash, genesisHash, headMessage } from '../../src/core/chain.js';
import { certSha256, pemToDer } from '../../src/core/cert.js';
import { systemClock, sleep } from '../../src/core/clock.js';
import type { JournalEntry, PassageEntry, PunchEntry, SigAlg } from '../../src/core/entries.js';
import { MosquittoBroker, type MosquittoBrokerOptions } from '../../src/demo/mosquitto.js';
import { generateShift, registryDocument, rosterDocument, type DemoWorker, type Shift } from '../../src/demo/shift.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { GpioSocketServer } from '../../src/gate/hw/sim/gpio-socket-server.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { provisionSoftHsmToken, type ProvisionedToken } from '../../src/gate/punch/token-provision.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { DaemonProcess } from './daemon-process.js';

/** Pin map of the one lane (the reference Pi 4 map of the demo). */
export const PINS = { chip: 'pinctrl-bcm2711', relayIn: 17, relayOut: 27, passage: 22, d0: 5, d1: 6 } as const;

export interface CrashSiteOptions {
  /** working directory (absolute, short: the GPIO socket lives in it) */
  dir: string;
  /** rostered workers; the harness swipes each one at most once */
  workers: number;
  keyType?: 'ec-p256' | 'rsa-2048';
  publish?: { batchSize?: number; maxInFlight?: number; ackTimeoutMs?: number };
  broker?: MosquittoBrokerOptions['extra'];
  /**
   * SoftHSM directory; one per test process (PKCS#11 is initialised once per process, with one
   * SOFTHSM2_CONF), so several sites in one test file share it. Default: `dir`/softhsm.
   */
  softhsmDir?: string;
}

/**
 * One gate and its hub, crashable: the GPIO chip (and so the relay pulse count), the Wiegand
 * reader and the passage sensor live in this process behind a unix socket; mosquitto, the gate
 * and the hub are child processes that the test kills with SIGKILL and starts again. The hub runs
 * in joint-test mode, so no platform is needed and none is called.
 */
export class CrashSite {
  readonly siteId = 'CRASH';
  readonly gateId = 'GATE-C1';
  readonly shift: Shift;
  readonly chip: SimGpioChip;
  readonly wiegand: WiegandSim;
  readonly paths;
  broker!: MosquittoBroker;
  gate!: DaemonProcess;
  hub!: DaemonProcess;
  token!: ProvisionedToken;
  private server!: GpioSocketServer;

  constructor(private readonly opts: CrashSiteOptions) {
    this.shift = generateShift({ arrivals: opts.workers, departures: 0, seed: 4242 });
    this.chip = new SimGpioChip(systemClock, { label: PINS.chip, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 1 } });
    this.wiegand = new WiegandSim(this.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 });
    const d = opts.dir;
    this.paths = {
      gpioSocket: join(d, 'gpio.sock'),
      gateState: join(d, 'gate'),
      hubState: join(d, 'hub'),
      journal: join(d, 'gate', 'journal.db'),
      hubDb: join(d, 'hub', 'hub.db'),
      gateConfig: join(d, 'gate.yaml'),
      hubConfig: join(d, 'hub.yaml'),
      certPem: join(d, 'gate.crt.pem'),
      brokerConf: join(d, 'broker', 'mosquitto.conf'),
    };
  }

  /** Workers the roster grants (the generated shift's last one is blacklisted). */
  get rostered(): DemoWorker[] {
    return this.shift.workers.filter((w) => w.status === 'entered');
  }

  async start(): Promise<void> {
    const { dir } = this.opts;
    mkdirSync(dir, { recursive: true });
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { recursive: true, mode: 0o700 });
    const secret = (name: string, value: string) => {
      const p = join(secrets, name);
      writeFileSync(p, value + '\n', { mode: 0o600 });
      return p;
    };
    const pw = { hub: randomBytes(12).toString('hex'), gate: randomBytes(12).toString('hex') };
    this.broker = new MosquittoBroker({
      dir: join(dir, 'broker'),
      siteId: this.siteId,
      hub: { user: 'hub', password: pw.hub },
      gates: [{ gateId: this.gateId, password: pw.gate }],
      extra: this.opts.broker,
    });
    await this.broker.start();

    // A turnstile whose process died falls back to locked: the relay line drops.
    this.server = new GpioSocketServer({
      path: this.paths.gpioSocket,
      chips: [this.chip],
      releaseLevels: { [PINS.chip]: { [PINS.relayIn]: 0, [PINS.relayOut]: 0 } },
    });
    await this.server.start();

    const rosterFile = join(dir, 'roster.json');
    writeFileSync(rosterFile, JSON.stringify(rosterDocument(this.siteId, this.shift)));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(registryDocument(this.shift)), { mode: 0o600 });

    const pin = randomBytes(4).toString('hex');
    const keyType = this.opts.keyType ?? 'ec-p256';
    this.token = await provisionSoftHsmToken({
      dir: this.opts.softhsmDir ?? join(dir, 'softhsm'),
      // unique: sites sharing a SoftHSM directory must not find each other's token by label
      tokenLabel: `sg-${this.gateId}-${randomBytes(3).toString('hex')}`,
      keyLabel: 'punch-signing',
      pin,
      soPin: randomBytes(8).toString('hex'),
      keyType,
      subjectCN: `${this.siteId} ${this.gateId}`,
      validDays: 365,
    });
    writeFileSync(this.paths.certPem, this.token.certPem);

    const publish = { batchSize: 50, maxInFlight: 4, ackTimeoutMs: 2000, ...this.opts.publish };
    // JSON is YAML: the daemons read these as their config files.
    writeFileSync(
      this.paths.gateConfig,
      JSON.stringify({
        siteId: this.siteId,
        gateId: this.gateId,
        stateDir: this.paths.gateState,
        mqtt: { url: this.broker.url, passwordFile: secret('gate.mqtt', pw.gate), reconnectMinMs: 200, reconnectMaxMs: 1000 },
        token: {
          tokenLabel: this.token.tokenLabel,
          keyLabel: this.token.keyLabel,
          pinFile: secret('gate.pin', pin),
          mechanism: keyType === 'rsa-2048' ? 'rsa-sha256' : 'ecdsa-p256',
          retryMs: 500,
        },
        roster: { file: rosterFile },
        gpio: { driver: 'socket', socket: this.paths.gpioSocket, wiegandEdges: 'driver' },
        lanes: [
          {
            name: 'L1',
            relays: { in: { chip: PINS.chip, offset: PINS.relayIn }, out: { chip: PINS.chip, offset: PINS.relayOut } },
            passageSensor: { chip: PINS.chip, offset: PINS.passage },
            pulseMs: 100,
            passageTimeoutMs: 5000,
            passageClearMs: 50,
          },
        ],
        readers: [
          { kind: 'wiegand', lane: 'L1', direction: 'in', d0: { chip: PINS.chip, offset: PINS.d0 }, d1: { chip: PINS.chip, offset: PINS.d1 } },
        ],
        publish,
      }),
    );
    writeFileSync(
      this.paths.hubConfig,
      JSON.stringify({
        siteId: this.siteId,
        stateDir: this.paths.hubState,
        mqtt: { url: this.broker.url, username: 'hub', passwordFile: secret('hub.mqtt', pw.hub), reconnectMinMs: 200, reconnectMaxMs: 1000 },
        gates: [{ gateId: this.gateId, certFile: this.paths.certPem }],
        registry: { workersFile: registryFile },
        // joint-test: no timer drives a platform call, so nothing listens at this address
        platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'crash-test', appSecretFile: secret('platform.secret', randomBytes(16).toString('hex')), mode: 'joint-test' },
        homeAssistant: { enabled: false },
      }),
    );

    const env = {
      ...process.env,
      SOFTHSM2_CONF: this.token.confPath,
      SITEGATE_LOG_LEVEL: 'info',
      SITEGATE_CONTROL_SOCKET: join(dir, 'control.sock'),
    };
    this.gate = new DaemonProcess({ name: 'gate', args: ['gate', '-c', this.paths.gateConfig], env, readyMsg: 'gate started', logFile: join(dir, 'gate.log') });
    this.hub = new DaemonProcess({
      name: 'hub',
      args: ['hub', '-c', this.paths.hubConfig],
      env: { ...env, SITEGATE_CONTROL_SOCKET: join(dir, 'hub-control.sock') },
      readyMsg: 'hub started',
      logFile: join(dir, 'hub.log'),
    });
    await this.hub.start();
    await this.startGate();
  }

  /**
   * Starts the gate daemon and waits until its reader and sensor lines are requested here: the
   * log line that says it started can reach this process before its GPIO requests do.
   */
  async startGate(timeoutMs = 60_000): Promise<void> {
    await this.gate.start(timeoutMs);
    const lines = this.chip.state.lines;
    const requested = () => [PINS.d0, PINS.d1, PINS.passage].every((o) => lines[o].use === 'input');
    if (!(await waitFor(requested, 10_000, 5))) throw new Error('the gate started but never requested its reader and sensor lines');
  }

  /** GPIO socket connections open now (0 once a killed gate's connection has been handled to its end). */
  gpioClients(): number {
    return this.server.stats().clients;
  }

  relayPulses(): number {
    return this.chip.pulses(PINS.relayIn) + this.chip.pulses(PINS.relayOut);
  }

  /** The worker's card, as a 26-bit Wiegand frame on D0/D1. */
  swipe(w: DemoWorker): void {
    this.wiegand.sendCard26(w.facility, w.card);
  }

  /** A person walks through: the passage sensor goes active for `activeMs`, then rests. */
  async walkThrough(activeMs = 40): Promise<void> {
    this.chip.inject(PINS.passage, 1);
    await sleep(systemClock, activeMs);
    this.chip.inject(PINS.passage, 0);
  }

  /** Resolves once mosquitto runs again (the hub does not start without it). */
  async brokerUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.broker.running) {
      if (Date.now() > deadline) throw new Error('mosquitto did not come back');
      await sleep(systemClock, 20);
    }
  }

  async stop(): Promise<void> {
    await this.gate?.stop().catch(() => undefined);
    await this.hub?.stop().catch(() => undefined);
    await this.broker?.stop().catch(() => undefined);
    await this.server?.stop().catch(() => undefined);
  }
}

/** A read connection to a SQLite file another process writes (WAL lets both work at once). */
export function openReader(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 2000');
  return db;
}

/** What the gate's journal says about one worker's punch. */
export interface JournalLook {
  punch: PunchEntry | null;
  passage: PassageEntry | null;
  headSeq: number;
  signedSeq: number;
  unacked: number;
}

export function lookInJournal(db: Database.Database, workerId: string): JournalLook {
  const punchRow = db
    .prepare("SELECT body FROM entries WHERE type = 'punch' AND json_extract(body, '$.workerId') = ? ORDER BY seq DESC LIMIT 1")
    .get(workerId) as { body: string } | undefined;
  const punch = punchRow ? (JSON.parse(punchRow.body) as PunchEntry) : null;
  const passageRow = punch
    ? (db.prepare("SELECT body FROM entries WHERE type = 'passage' AND punch_id = ?").get(punch.punchId) as { body: string } | undefined)
    : undefined;
  const head = db.prepare('SELECT MAX(seq) AS s FROM entries').get() as { s: number | null };
  const signed = db.prepare('SELECT MAX(seq) AS s FROM heads').get() as { s: number | null };
  const unacked = db.prepare('SELECT COUNT(*) AS n FROM entries WHERE acked = 0').get() as { n: number };
  return {
    punch,
    passage: passageRow ? (JSON.parse(passageRow.body) as PassageEntry) : null,
    headSeq: head.s ?? -1,
    signedSeq: signed.s ?? -1,
    unacked: unacked.n,
  };
}

export interface HubChainReport {
  entries: JournalEntry[];
  /** received_ms in seq order */
  receivedMs: number[];
  heads: number;
  problems: string[];
}

/**
 * Reads the hub's store (after the hub stopped) and walks the gate's chain entry by entry from
 * the genesis; every head must hash to its entry and verify against the pinned certificate.
 */
export function verifyHubChain(hubDb: string, gateId: string, certPemPath: string, epoch = 1): HubChainReport {
  const db = new Database(hubDb, { readonly: true, fileMustExist: true });
  try {
    const certDer = pemToDer(readFileSync(certPemPath, 'utf8'));
    const rows = db.prepare('SELECT seq, body, hash, received_ms FROM entries WHERE gate_id = ? ORDER BY seq').all(gateId) as {
      seq: number;
      body: string;
      hash: string;
      received_ms: number;
    }[];
    const problems: string[] = [];
    let prev = genesisHash(gateId, certSha256(certDer), epoch);
    const entries: JournalEntry[] = [];
    rows.forEach((r, i) => {
      const e = JSON.parse(r.body) as JournalEntry;
      if (e.seq !== i || r.seq !== i) problems.push(`row ${i} has seq ${e.seq}`);
      if (e.prevHash !== prev) problems.push(`seq ${e.seq}: prevHash does not continue the chain`);
      prev = entryHash(e);
      if (prev !== r.hash) problems.push(`seq ${e.seq}: stored hash differs from the entry's`);
      entries.push(e);
    });
    const heads = db.prepare('SELECT seq, hash, sig_alg, sig FROM heads WHERE gate_id = ? ORDER BY seq').all(gateId) as {
      seq: number;
      hash: string;
      sig_alg: SigAlg;
      sig: string;
    }[];
    for (const h of heads) {
      if (rows[h.seq]?.hash !== h.hash) problems.push(`head ${h.seq}: hash is not the entry's`);
      if (!verifyHeadSignature(certDer, h.sig_alg, headMessage(gateId, h.seq, h.hash), Buffer.from(h.sig, 'base64'))) {
        problems.push(`head ${h.seq}: signature does not verify with the pinned certificate`);
      }
    }
    if (rows.length && heads.at(-1)?.seq !== rows.length - 1) problems.push('the last stored entry is not covered by a signed head');
    return { entries, receivedMs: rows.map((r) => r.received_ms), heads: heads.length, problems };
  } finally {
    db.close();
  }
}

/** Seeded PRNG (mulberry32): a failing run is repeated with its printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `cond` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(systemClock, everyMs);
  }
}
