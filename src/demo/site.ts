import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, sleep, type Clock } from '../core/clock.js';
import type { PunchEntry } from '../core/entries.js';
import type { Logger } from '../core/log.js';
import { gateConfigSchema, type GateConfig } from '../config/gate-config.js';
import { hubConfigSchema, type HubConfig } from '../config/hub-config.js';
import { Gate } from '../gate/gate.js';
import { SimGpioChip } from '../gate/hw/sim/gpio-chip.js';
import { WiegandSim } from '../gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../gate/hw/wiegand.js';
import { provisionSoftHsmToken } from '../gate/punch/token-provision.js';
import { Hub } from '../hub/hub.js';
import { PlatformSimulator } from '../municipal/platform-sim.js';
import { MosquittoBroker } from './mosquitto.js';
import { ObservedGpio } from './observed-gpio.js';
import { FacePool } from '../gate/face/face-pool.js';
import { cutSampleFaces } from './faces.js';
import { faceWorkers, generateShift, registryDocument, rosterDocument, type Shift, type Swipe } from './shift.js';
import { PunchTracker } from './tracker.js';

/** Reference pin map of one lane on a Pi 4 header (device-tree/ and the README's wiring table). */
export const DEMO_PINS = {
  chip: 'pinctrl-bcm2711',
  relayIn: 17,
  relayOut: 27,
  passage: 22,
  d0: 5,
  d1: 6,
  ledRed: 12,
  ledGreen: 13,
  buzzer: 19,
  fireAlarm: 16,
  /** the second lane of the reference map (device-tree/README.md) */
  lane2: { relayIn: 23, relayOut: 24, passage: 25, ledRed: 20, ledGreen: 21, buzzer: 26 },
} as const;

export interface SiteOptions {
  dir: string;
  log: Logger;
  arrivals: number;
  departures: number;
  siteId?: string;
  /** platform simulator's limit; the default is the platform's (1 request per 1200 ms) */
  platformRate?: { requests: number; windowMs: number };
  /** hub pacing; defaults match the simulator's limit */
  pacing?: { minSpacingMs: number; pollDelayMs: number };
  keyType?: 'ec-p256' | 'rsa-2048';
  /** time a simulated worker takes to pass the sensor after the relay opens */
  walkMs?: number;
  /** pause between two swipes at one gate after the previous passage settled */
  swipeGapMs?: number;
  clock?: Clock;
  /**
   * Enrol the faces of face-api's sample photos as extra workers and let GATE-IN's second lane
   * replay them from a camera directory (liveness 'model-only': stills cannot pass a motion check).
   */
  faces?: boolean;
  /** time between two images of the face camera (default 500 ms) */
  faceIntervalMs?: number;
}

/** What the face lane did, for the summary. */
export interface DemoFaceStats {
  enrolled: number;
  /** face punches journalled, and their punchIds */
  punches: Set<string>;
  spoofs: number;
  unknown: number;
}

interface SimGate {
  name: 'in' | 'out';
  gateId: string;
  gate: Gate;
  chip: SimGpioChip;
  wiegand: WiegandSim;
  config: GateConfig;
}

/**
 * The whole site on one machine: a real mosquitto with a user and ACL per gate, a SoftHSM2
 * token per gate, the platform simulator with its rate limit, the hub, and two simulated gates
 * (one in, one out) whose readers and turnstiles speak through a simulated GPIO chip.
 */
export class DemoSite {
  readonly siteId: string;
  readonly shift: Shift;
  readonly tracker = new PunchTracker();
  readonly clock: Clock;
  broker!: MosquittoBroker;
  platform!: PlatformSimulator;
  hub!: Hub;
  gates: SimGate[] = [];
  readonly faceStats: DemoFaceStats = { enrolled: 0, punches: new Set(), spoofs: 0, unknown: 0 };
  private hubConfig!: HubConfig;
  private aborted = false;

  constructor(private readonly opts: SiteOptions) {
    this.siteId = opts.siteId ?? 'SITE01';
    this.clock = opts.clock ?? systemClock;
    this.shift = generateShift({ arrivals: opts.arrivals, departures: opts.departures });
  }

  async start(): Promise<void> {
    const { dir, log } = this.opts;
    mkdirSync(dir, { recursive: true });
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { recursive: true, mode: 0o700 });
    const secret = (name: string, value: string) => {
      const p = join(secrets, name);
      writeFileSync(p, value + '\n', { mode: 0o600 });
      return p;
    };
    const gateIds = { in: 'GATE-IN', out: 'GATE-OUT' } as const;
    const passwords = { hub: randomBytes(12).toString('hex'), in: randomBytes(12).toString('hex'), out: randomBytes(12).toString('hex') };

    this.broker = new MosquittoBroker({
      dir: join(dir, 'broker'),
      siteId: this.siteId,
      hub: { user: 'hub', password: passwords.hub },
      gates: [
        { gateId: gateIds.in, password: passwords.in },
        { gateId: gateIds.out, password: passwords.out },
      ],
    });
    await this.broker.start();

    const appId = 'sitegate-demo';
    const appSecret = randomBytes(16).toString('hex');
    this.platform = new PlatformSimulator({
      apps: [{ appId, appSecret }],
      clock: this.clock,
      rateLimit: this.opts.platformRate,
    });
    await this.platform.start();

    const cameraDir = join(dir, 'camera');
    if (this.opts.faces) await this.enrolFaces(cameraDir);

    const rosterFile = join(dir, 'roster.json');
    writeFileSync(rosterFile, JSON.stringify(rosterDocument(this.siteId, this.shift)));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify(registryDocument(this.shift)), { mode: 0o600 });

    const tokenDir = join(dir, 'softhsm');
    const certFiles: Record<string, string> = {};
    for (const side of ['in', 'out'] as const) {
      const gateId = gateIds[side];
      const pin = randomBytes(4).toString('hex');
      const token = await provisionSoftHsmToken({
        dir: tokenDir,
        tokenLabel: `sitegate-${gateId}`,
        keyLabel: 'punch-signing',
        pin,
        soPin: randomBytes(8).toString('hex'),
        keyType: this.opts.keyType ?? 'ec-p256',
        subjectCN: `${this.siteId} ${gateId}`,
        validDays: 365,
      });
      certFiles[gateId] = join(dir, `${gateId}.crt.pem`);
      writeFileSync(certFiles[gateId], token.certPem);
      const faceLane = this.opts.faces && side === 'in';
      const config = gateConfigSchema.parse({
        siteId: this.siteId,
        gateId,
        stateDir: join(dir, gateId),
        mqtt: { url: this.broker.url, passwordFile: secret(`${gateId}.mqtt`, passwords[side]) },
        token: {
          tokenLabel: `sitegate-${gateId}`,
          keyLabel: 'punch-signing',
          pinFile: secret(`${gateId}.pin`, pin),
          mechanism: this.opts.keyType === 'rsa-2048' ? 'rsa-sha256' : 'ecdsa-p256',
        },
        roster: { file: rosterFile },
        gpio: { driver: 'sim' },
        lanes: [
          {
            name: 'L1',
            relays: { in: { chip: DEMO_PINS.chip, offset: DEMO_PINS.relayIn }, out: { chip: DEMO_PINS.chip, offset: DEMO_PINS.relayOut } },
            passageSensor: { chip: DEMO_PINS.chip, offset: DEMO_PINS.passage },
            pulseMs: 100,
            passageTimeoutMs: 3000,
            passageClearMs: 80,
          },
          ...(faceLane
            ? [{
                name: 'L2',
                relays: { in: { chip: DEMO_PINS.chip, offset: DEMO_PINS.lane2.relayIn } },
                passageSensor: { chip: DEMO_PINS.chip, offset: DEMO_PINS.lane2.passage },
                pulseMs: 100,
                passageTimeoutMs: 3000,
                passageClearMs: 80,
              }]
            : []),
        ],
        ...(faceLane
          ? {
              face: {
                enabled: true,
                workers: 1,
                livenessPolicy: 'model-only',
                cooldownMs: 0,
                camera: { lane: 'L2', direction: 'in', directory: cameraDir, intervalMs: this.opts.faceIntervalMs ?? 500 },
              },
            }
          : {}),
        readers: [
          {
            kind: 'wiegand',
            lane: 'L1',
            direction: side,
            d0: { chip: DEMO_PINS.chip, offset: DEMO_PINS.d0 },
            d1: { chip: DEMO_PINS.chip, offset: DEMO_PINS.d1 },
          },
        ],
        publish: { batchSize: 50, maxInFlight: 4, ackTimeoutMs: 10_000 },
      });
      const chip = new SimGpioChip(this.clock, { label: DEMO_PINS.chip, lines: 58, initial: { [DEMO_PINS.d0]: 1, [DEMO_PINS.d1]: 1 } });
      const walkMs = this.opts.walkMs ?? 60;
      const gpio = new ObservedGpio(chip, (spec, value) => {
        // a worker walks through when the relay releases the turnstile
        if (value === 1 && (spec.offset === DEMO_PINS.relayIn || spec.offset === DEMO_PINS.relayOut)) {
          this.clock.setTimeout(() => chip.inject(DEMO_PINS.passage, 1), walkMs);
          this.clock.setTimeout(() => chip.inject(DEMO_PINS.passage, 0), walkMs + 40);
        }
        if (value === 1 && spec.offset === DEMO_PINS.lane2.relayIn) {
          this.clock.setTimeout(() => chip.inject(DEMO_PINS.lane2.passage, 1), walkMs);
          this.clock.setTimeout(() => chip.inject(DEMO_PINS.lane2.passage, 0), walkMs + 40);
        }
      });
      const gate = new Gate({ config, log: log.child({ gate: gateId }), clock: this.clock, gpio });
      this.gates.push({ name: side, gateId, gate, chip, wiegand: new WiegandSim(chip, this.clock, { d0: DEMO_PINS.d0, d1: DEMO_PINS.d1, gapUs: 500 }), config });
    }

    this.hubConfig = hubConfigSchema.parse({
      siteId: this.siteId,
      stateDir: join(dir, 'hub'),
      mqtt: { url: this.broker.url, username: 'hub', passwordFile: secret('hub.mqtt', passwords.hub) },
      gates: Object.entries(certFiles).map(([gateId, certFile]) => ({ gateId, certFile })),
      registry: { workersFile: registryFile },
      platform: {
        baseUrl: this.platform.url,
        appId,
        appSecretFile: secret('platform.secret', appSecret),
        pacing: this.opts.pacing ?? {},
        attendTypes: { wiegand: '1', card: '1', idcard: '2', face: '3' },
        location: { lng: 121.4737, lat: 31.2304 },
      },
    });
    this.hub = new Hub({ config: this.hubConfig, log: log.child({ part: 'hub' }), clock: this.clock });
    await this.hub.start();
    this.hub.on('stored', (_gateId, entries) => this.tracker.onHubStored(entries));
    for (const g of this.gates) {
      await g.gate.start();
      g.gate.on('punch', (p: PunchEntry) => this.tracker.onPunch(p));
      g.gate.on('relay', (p, ms) => this.tracker.onRelay(p, ms));
      g.gate.on('passage', (p) => this.tracker.onPassage(p));
      g.gate.on('signed', (h) => this.tracker.onSigned(g.gateId, h.seq));
      g.gate.on('acked', (ids) => this.tracker.onAcked(ids));
      g.gate.on('punch', (p: PunchEntry) => {
        if (p.credential.kind === 'face') this.faceStats.punches.add(p.punchId);
      });
      g.gate.on('faceAttempt', (e) => {
        if (e.event_type === 'spoof') this.faceStats.spoofs++;
        else this.faceStats.unknown++;
      });
    }
  }

  /** Cuts and enrols the sample faces (a face pool of its own, stopped before the gates start). */
  private async enrolFaces(cameraDir: string): Promise<void> {
    const pool = new FacePool({ workers: 2 });
    try {
      await pool.start();
      const faces = await cutSampleFaces(pool, cameraDir);
      this.shift.faceWorkers = faceWorkers(faces.map((f) => f.template));
      this.faceStats.enrolled = faces.length;
    } finally {
      await pool.stop();
    }
  }

  /** The gate whose camera replays the faces, if any. */
  private faceGate(): SimGate | undefined {
    return this.opts.faces ? this.gates.find((g) => g.name === 'in') : undefined;
  }

  /** Replays the shift's swipes, each gate in its own stream, one worker at a time per lane. */
  async replay(): Promise<void> {
    const byGate = { in: [] as Swipe[], out: [] as Swipe[] };
    for (const s of this.shift.swipes) byGate[s.gate].push(s);
    const fg = this.faceGate();
    const faces = fg ? fg.gate.faceReady.then(() => fg.gate.face.cameraEnded()) : Promise.resolve();
    await Promise.all([...this.gates.map((g) => this.replayAt(g, byGate[g.name])), faces]);
  }

  private async replayAt(g: SimGate, swipes: Swipe[]): Promise<void> {
    const gap = this.opts.swipeGapMs ?? 20;
    for (const s of swipes) {
      if (this.aborted) return;
      const before = g.gate.controller.counters.swipes + g.gate.controller.counters.ignoredBusy;
      this.tracker.onSwipe(g.gateId, s);
      g.wiegand.send(encodeWiegand26(s.facility, s.card));
      // wait until the gate has taken the read and the lane is free again
      for (let i = 0; i < 500; i++) {
        await sleep(this.clock, 10);
        const c = g.gate.controller.counters;
        if (c.swipes + c.ignoredBusy > before && !g.gate.laneBusy('L1')) break;
      }
      await sleep(this.clock, gap);
    }
  }

  /** Waits until every platform row has reached the platform and every gate journal is acknowledged. */
  async settle(timeoutMs: number, onTick?: () => void): Promise<boolean> {
    const deadline = this.clock.monotonic() + timeoutMs;
    while (this.clock.monotonic() < deadline && !this.aborted) {
      this.tracker.pollPlatform((id) => this.hub.queue.get(id));
      onTick?.();
      if (this.tracker.allSettled() && this.gates.every((g) => g.gate.journal.unackedCount() === 0)) return true;
      await sleep(this.clock, 200);
    }
    this.tracker.pollPlatform((id) => this.hub.queue.get(id));
    return false;
  }

  /** Stops replay and settling early (SIGINT / SIGTERM during the demo). */
  abort(): void {
    this.aborted = true;
  }

  relayPulses(): number {
    return this.gates.reduce((n, g) => n + g.chip.pulses(DEMO_PINS.relayIn) + g.chip.pulses(DEMO_PINS.relayOut) + g.chip.pulses(DEMO_PINS.lane2.relayIn), 0);
  }

  async stop(): Promise<void> {
    for (const g of this.gates) await g.gate.stop().catch(() => undefined);
    await this.hub?.stop().catch(() => undefined);
    await this.platform?.stop().catch(() => undefined);
    await this.broker?.stop().catch(() => undefined);
  }
}
