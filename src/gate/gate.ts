import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { certSubject, certValidity } from '../core/cert.js';
import type { PassageEntry, PunchEntry, SignedHead } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { RosterWorker } from '../core/worker.js';
import { readSecretFile } from '../config/load.js';
import type { GateConfig } from '../config/gate-config.js';
import { connectMqtt } from '../mqtt/client.js';
import { topics } from '../mqtt/topics.js';
import { AccessController, type LaneActuator } from './access-controller.js';
import { FireAlarm } from './hw/fire-alarm.js';
import type { GpioProvider } from './hw/gpio.js';
import { OnoffGpioProvider } from './hw/gpio-onoff.js';
import { GpioSocketClient } from './hw/gpio-socket.js';
import { GpiomonEdgeSource } from './hw/gpiomon-source.js';
import { Indicator, type IndicatorPattern } from './hw/indicator.js';
import { Relay, relaySafeLevel } from './hw/relay.js';
import { TurnstileLane } from './hw/turnstile.js';
import { GpioEdgeSource, WiegandReader, type EdgeSource } from './hw/wiegand-reader.js';
import { ChainSigning, type SignerFault } from './punch/chain-signing.js';
import { Journal } from './punch/journal.js';
import { Publisher } from './punch/publisher.js';
import { Pkcs11Signer, type HeadSigner } from './punch/signer.js';
import { readRosterFile } from './roster/roster-file.js';
import { RosterStore } from './roster/roster-store.js';

export interface GateOptions {
  config: GateConfig;
  log: Logger;
  clock?: Clock;
  /** GPIO lines; defaults to onoff on sysfs (config.gpio.driver 'sim' needs one passed in) */
  gpio?: GpioProvider;
  /** the chain signer; defaults to the PKCS#11 token named in config */
  signer?: HeadSigner & { open?(): Promise<void>; reopen?(): Promise<void>; close?(): Promise<void> };
  /** tells whether the wall clock is synchronised (NTP); defaults to true */
  clockSynced?: () => boolean;
  statusEveryMs?: number;
}

export interface GateEvents {
  punch: [PunchEntry, RosterWorker | null];
  relay: [PunchEntry, number];
  passage: [PassageEntry];
  signed: [SignedHead];
  fault: [SignerFault];
  /** the hub acknowledged these punches: they are stored there */
  acked: [readonly string[]];
  /** the fire alarm went active (every lane held open) or cleared (normal operation); no punch */
  fireAlarm: [FireAlarmEvent];
}

/** A punch-less event: the site's fire alarm changed state. */
export interface FireAlarmEvent {
  kind: 'fire_alarm';
  state: 'active' | 'cleared';
  gateId: string;
  /** lanes switched into (active) or out of (cleared) free passage */
  lanes: string[];
  /** wall ms, monotonic ms and whether the wall clock was synchronised, as in a punch's time */
  time: { ms: number; monoMs: number; clockSynced: boolean; bootId: string };
}

/**
 * The gate controller daemon: the one place that wires readers, the turnstile, the journal,
 * the signer and the publisher. Drivers know bytes, core knows workers; this file knows both.
 */
export class Gate extends EventEmitter<GateEvents> {
  readonly clock: Clock;
  readonly bootId = randomUUID();
  journal!: Journal;
  controller!: AccessController;
  signing!: ChainSigning;
  publisher!: Publisher;
  roster!: RosterStore;
  private signer!: NonNullable<GateOptions['signer']>;
  private lanes = new Map<string, TurnstileLane>();
  private indicators = new Map<string, Indicator>();
  private fireAlarm: FireAlarm | null = null;
  private gpioSocket: GpioSocketClient | null = null;
  private readers: WiegandReader[] = [];
  private client: MqttClient | null = null;
  private statusTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly opts: GateOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    // Outputs first, in their safe state, before anything else runs.
    const gpio = this.opts.gpio ?? (await this.defaultGpio());
    this.startLanes(gpio);
    await this.gpioSocket?.sync();

    mkdirSync(config.stateDir, { recursive: true });
    this.roster = new RosterStore(join(config.stateDir, 'roster.db'));
    this.loadRosterFile();

    this.signer = this.opts.signer ?? this.pkcs11Signer();
    await this.signer.open?.();
    this.journal = new Journal(
      join(config.stateDir, 'journal.db'),
      { gateId: config.gateId, certSha256: this.signer.certSha256(), epoch: config.epoch },
      () => this.clock.now(),
    );

    this.controller = new AccessController({
      siteId: config.siteId,
      gateId: config.gateId,
      journal: this.journal,
      roster: this.roster,
      lanes: this.lanes as ReadonlyMap<string, LaneActuator>,
      clock: this.clock,
      log,
      bootId: this.bootId,
      clockSynced: this.opts.clockSynced ?? (() => true),
    });
    this.signing = new ChainSigning({
      journal: this.journal,
      signer: this.signer,
      clock: this.clock,
      log,
      maxEntriesPerSignature: config.publish.batchSize,
      retryMs: config.token.retryMs,
      classify: (err) =>
        err instanceof SitegateError && (err.code === 'token_wrong_pin' || err.code === 'token_pin_locked')
          ? 'token_wrong_pin'
          : err instanceof SitegateError && err.code.startsWith('token_')
            ? 'token_unavailable'
            : 'sign_failed',
      reopen: async () => this.signer.reopen?.(),
    });
    this.controller.on('punch', (p, w) => {
      this.indicate(p.lane, p.decision === 'granted' ? 'granted' : p.reason === 'not_registered' ? 'unknown' : 'denied');
      this.emit('punch', p, w);
    });
    this.controller.on('relay', (p, ms) => this.emit('relay', p, ms));
    this.controller.on('passage', (p) => this.emit('passage', p));
    this.controller.on('journalled', () => this.signing.kick());
    this.signing.on('signed', (h) => {
      this.emit('signed', h);
      this.publisher?.kick();
    });
    this.signing.on('fault', (f) => this.emit('fault', f));

    const interrupted = this.controller.closeInterruptedPassages();
    if (interrupted) log.warn({ interrupted }, 'passages cut short by the last stop were closed as interrupted');
    this.signing.kick();

    const statusTopic = topics.gateStatus(config.siteId, config.gateId);
    this.client = await connectMqtt({
      url: config.mqtt.url,
      username: config.mqtt.username ?? config.gateId,
      password: readSecretFile(config.mqtt.passwordFile, 'MQTT password'),
      clientId: `sitegate-gate-${config.gateId}`,
      clean: false,
      sessionExpirySec: 7 * 24 * 3600,
      reconnectPeriodMs: config.mqtt.reconnectMinMs,
      will: { topic: statusTopic, payload: JSON.stringify({ online: false }), qos: 1, retain: true },
      log,
    });
    this.publisher = new Publisher({
      journal: this.journal,
      client: this.client,
      siteId: config.siteId,
      clock: this.clock,
      log,
      batchSize: config.publish.batchSize,
      maxInFlight: config.publish.maxInFlight,
      ackTimeoutMs: config.publish.ackTimeoutMs,
      onAck: (ids) => this.emit('acked', ids),
    });
    this.publisher.start();
    this.startReaders(gpio);
    this.startFireAlarm(gpio);
    this.publishStatus();
    log.info({ gateId: config.gateId, lanes: this.lanes.size, readers: this.readers.length, roster: this.roster.size() }, 'gate started');
  }

  private async defaultGpio(): Promise<GpioProvider> {
    const g = this.opts.config.gpio;
    if (g.driver === 'sim') {
      throw new SitegateError('gpio_sim_needs_chip', 'gpio.driver "sim" runs only inside the demo or tests, which pass their simulated chip');
    }
    if (g.driver === 'socket') {
      const client = new GpioSocketClient({
        path: g.socket as string,
        clock: this.clock,
        onClose: (reason) => {
          if (!this.stopped) this.opts.log.error({ reason }, 'GPIO socket lost: relays and readers are not driven');
        },
      });
      await client.start();
      this.gpioSocket = client;
      return client;
    }
    return new OnoffGpioProvider(this.clock, { sysfsRoot: g.sysfsRoot });
  }

  private startLanes(gpio: GpioProvider): void {
    for (const l of this.opts.config.lanes) {
      const relayFor = (dir: 'in' | 'out') => {
        const spec = l.relays[dir];
        if (!spec) return new Relay(nullOutput(), this.clock, { name: `${l.name}.${dir}` });
        // The line spec's activeLow is the board's polarity (the provider applies it); the relay's own
        // inversion is the fail state: with failState 'free' the relay is held energised to lock.
        const heldToLock = l.failState === 'free';
        return new Relay(gpio.output(spec, relaySafeLevel(heldToLock)), this.clock, { name: `${l.name}.${dir}`, activeLow: heldToLock });
      };
      const lane = new TurnstileLane(
        {
          lane: l.name,
          relays: { in: relayFor('in'), out: relayFor('out') },
          passageSensor: gpio.input(l.passageSensor, { edge: 'both' }),
          pulseMs: l.pulseMs,
          passageTimeoutMs: l.passageTimeoutMs,
          passageClearMs: l.passageClearMs,
          holdMs: l.holdMs,
        },
        this.clock,
      );
      lane.start();
      this.lanes.set(l.name, lane);
      if (l.indicator) {
        const out = (spec: typeof l.indicator.red) => (spec ? gpio.output(spec, 0) : undefined);
        const indicator = new Indicator({ red: out(l.indicator.red), green: out(l.indicator.green), buzzer: out(l.indicator.buzzer) }, this.clock);
        indicator.start();
        this.indicators.set(l.name, indicator);
      }
    }
  }

  private startReaders(gpio: GpioProvider): void {
    for (const r of this.opts.config.readers) {
      const reader = new WiegandReader(this.wiegandEdges(gpio, r), this.clock, {
        name: `${r.lane}.${r.direction}`,
        frameGapMs: r.frameGapMs,
      });
      reader.on('frame', (f) => {
        this.controller.handle({ kind: 'wiegand', number: String(f.value), lane: r.lane, direction: r.direction, readAtMono: this.clock.monotonic() });
      });
      reader.on('error', (e) => this.opts.log.warn({ reader: `${r.lane}.${r.direction}`, code: e.code }, `wiegand frame rejected: ${e.message}`));
      reader.start();
      this.readers.push(reader);
    }
  }

  private wiegandEdges(gpio: GpioProvider, r: GateConfig['readers'][number]): EdgeSource {
    const g = this.opts.config.gpio;
    const mode = g.wiegandEdges ?? (this.opts.gpio === undefined && g.driver === 'onoff' ? 'gpiomon' : 'driver');
    if (mode === 'driver') return new GpioEdgeSource(gpio, { d0: r.d0, d1: r.d1 });
    const name = `${r.lane}.${r.direction}`;
    return new GpiomonEdgeSource({
      d0: r.d0,
      d1: r.d1,
      clock: this.clock,
      commands: g.gpiomon,
      onFault: (err) => {
        this.opts.log.error({ reader: name, code: err.code }, err.message);
        this.indicate(r.lane, 'fault');
      },
    });
  }

  private startFireAlarm(gpio: GpioProvider): void {
    const f = this.opts.config.fireAlarm;
    if (!f) return;
    this.fireAlarm = new FireAlarm({ input: gpio.input(f.input, { edge: 'both' }), activeLevel: f.activeLevel, debounceMs: f.debounceMs }, this.clock);
    this.fireAlarm.onChange(({ active }) => {
      for (const lane of this.lanes.values()) lane.setFreePassage(active);
      this.opts.log.warn({ lanes: [...this.lanes.keys()] }, active ? 'FIRE ALARM: every lane held open' : 'fire alarm cleared: lanes back to normal');
      this.emit('fireAlarm', {
        kind: 'fire_alarm',
        state: active ? 'active' : 'cleared',
        gateId: this.opts.config.gateId,
        lanes: [...this.lanes.keys()],
        time: { ms: this.clock.now(), monoMs: Math.round(this.clock.monotonic()), clockSynced: (this.opts.clockSynced ?? (() => true))(), bootId: this.bootId },
      });
    });
    this.fireAlarm.start();
  }

  /** True while the fire alarm holds every lane open. */
  get fireAlarmActive(): boolean {
    return this.fireAlarm?.alarm ?? false;
  }

  /** Plays a lane's LED/buzzer pattern (a lane without indicator outputs ignores it). */
  indicate(lane: string, pattern: IndicatorPattern): void {
    this.indicators.get(lane)?.play(pattern);
  }

  private loadRosterFile(): void {
    const doc = readRosterFile(this.opts.config.roster.file);
    const have = this.roster.version();
    if (have === null || doc.version > have) this.roster.replace(doc);
  }

  private pkcs11Signer(): Pkcs11Signer {
    const t = this.opts.config.token;
    return new Pkcs11Signer({
      modulePath: t.module,
      tokenLabel: t.tokenLabel,
      keyLabel: t.keyLabel,
      pin: readSecretFile(t.pinFile, 'token PIN'),
      mechanism: t.mechanism,
      sm2Mechanism: t.sm2Mechanism,
    });
  }

  /** True while the lane has a passage open (a read then is ignored). */
  laneBusy(lane: string): boolean {
    return this.lanes.get(lane)?.busy ?? false;
  }

  status() {
    const cert = this.signer.certificateDer();
    const validity = certValidity(cert);
    return {
      online: true,
      gateId: this.opts.config.gateId,
      atMs: this.clock.now(),
      bootId: this.bootId,
      journal: { head: this.journal.head.seq, unacked: this.journal.unackedCount(), oldestUnackedMs: this.journal.oldestUnackedMs() },
      signing: { ...this.signing.stats, token: this.signer.state },
      publisher: this.publisher?.counters,
      roster: { version: this.roster.version(), size: this.roster.size() },
      counters: this.controller.counters,
      certificate: {
        sha256: this.signer.certSha256(),
        subject: certSubject(cert),
        notAfter: validity.notAfter.toISOString(),
        pem: cert.toString('base64'),
      },
    };
  }

  private publishStatus(): void {
    if (!this.client || this.stopped) return;
    try {
      this.client.publish(topics.gateStatus(this.opts.config.siteId, this.opts.config.gateId), JSON.stringify(this.status()), {
        qos: 1,
        retain: true,
      });
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'status not published');
    }
    this.statusTimer = this.clock.setTimeout(() => this.publishStatus(), this.opts.statusEveryMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.statusTimer) this.clock.clearTimeout(this.statusTimer);
    for (const r of this.readers) r.stop();
    this.fireAlarm?.stop();
    for (const i of this.indicators.values()) i.stop();
    for (const l of this.lanes.values()) l.stop();
    this.signing?.stop();
    this.publisher?.stop();
    if (this.client) {
      const t = topics.gateStatus(this.opts.config.siteId, this.opts.config.gateId);
      await this.client.publishAsync(t, JSON.stringify({ online: false }), { qos: 1, retain: true }).catch(() => undefined);
      await this.client.endAsync().catch(() => undefined);
      this.client = null;
    }
    await this.signer?.close?.();
    this.journal?.close();
    this.roster?.close();
    this.gpioSocket?.stop();
  }
}

/** A relay slot the lane does not wire (a one-way lane). */
function nullOutput() {
  let v: 0 | 1 = 0;
  return { write: (x: 0 | 1) => void (v = x), read: () => v, close: () => undefined };
}
