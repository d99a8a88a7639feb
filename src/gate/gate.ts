import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import type { Direction, PassageEntry, PunchEntry, PunchTime, SignedHead } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { RosterWorker } from '../core/worker.js';
import { parseRosterPublicKey } from '../core/roster-message.js';
import type { PassageEvent } from '../mqtt/events.js';
import { loadConfigFile, readSecretFile } from '../config/load.js';
import { gateConfigSchema, type GateConfig } from '../config/gate-config.js';
import type { ControlHandlers } from '../control/providers.js';
import { gateHandlers } from '../control/providers.js';
import { sqliteHealth, type HealthResult } from '../daemon/health.js';
import { topics } from '../mqtt/topics.js';
import { AccessController, type LaneActuator } from './access-controller.js';
import { GateCommands } from './gate-commands.js';
import { GateControlProvider } from './gate-control.js';
import { faceEventOf, indicatorFor, isTailgating, passageEventOf, refusedEventOf, tailgatingEventOf, type FireAlarmEvent } from './gate-events.js';
import { embedderModelId, GateEnrol } from './gate-enrol.js';
import { GateFace, type GateFaceProcessor } from './gate-face.js';
import { JournalHousekeeping } from './gate-housekeeping.js';
import { PhotoUploader } from './gate-photos.js';
import type { FaceCredential, FaceNoMatch, FaceSpoof } from './face/face-station.js';
import { FacePool, type FacePoolOptions } from './face/face-pool.js';
import { faceWorkerCount } from './face/face-worker-count.js';
import { defaultChooseOptions } from './face/choose-face.js';
import { defaultPipelineOptions } from './face/face-pipeline.js';
import { GateFaults } from './gate-faults.js';
import { GatePresence } from './gate-presence.js';
import { openGateLink } from './gate-link.js';
import { buildReader, type GateReader, type ReaderDeps } from './gate-readers.js';
import { planReload } from './gate-reload.js';
import { mqttStatus, statusLine, type GateSnapshot, type LaneMode } from './gate-status.js';
import { GateTime } from './gate-time.js';
import { GateToken, type GateSigner } from './gate-token.js';
import { FireAlarm } from './hw/fire-alarm.js';
import type { GpioProvider, InputLine } from './hw/gpio.js';
import { OnoffGpioProvider } from './hw/gpio-onoff.js';
import { GpioSocketClient } from './hw/gpio-socket.js';
import type { SamLinkOpener } from './hw/idcard-serial.js';
import { Indicator, type IndicatorPattern } from './hw/indicator.js';
import type { I2cBusOpener } from './hw/pn532-i2c.js';
import { Relay, relaySafeLevel } from './hw/relay.js';
import { TurnstileLane } from './hw/turnstile.js';
import { ChainSigning, type SignerFault } from './punch/chain-signing.js';
import { Journal, type JournalLimits } from './punch/journal.js';
import { PhotoStore } from './punch/photo-store.js';
import { Publisher } from './punch/publisher.js';
import { Pkcs11Signer } from './punch/signer.js';
import { importRosterFile } from './roster/roster-file-import.js';
import { RosterStore } from './roster/roster-store.js';
import { RosterSync, type RosterApplied } from './roster/roster-sync.js';

export type { FireAlarmEvent } from './gate-events.js';

export interface GateOptions {
  config: GateConfig;
  log: Logger;
  clock?: Clock;
  /** the file the config came from: reload() re-reads it */
  configPath?: string;
  /** GPIO lines; defaults to onoff on sysfs (config.gpio.driver 'sim' needs one passed in) */
  gpio?: GpioProvider;
  /** opens /dev/i2c-N for PN532 readers; tests pass a Pn532Sim */
  i2cOpener?: I2cBusOpener;
  /** opens ID card readers' serial links; default serialport on the configured path */
  samOpener?: SamLinkOpener;
  /** the chain signer; defaults to the PKCS#11 token named in config */
  signer?: GateSigner;
  /** tells whether the wall clock is synchronised (NTP); defaults to true */
  clockSynced?: () => boolean;
  statusEveryMs?: number;
  /** how often held passage entries are retried after a journal write failed; default 5000 */
  retryEveryMs?: number;
  /** journal capacity and page limit (tests make the disk "full" with maxPageCount); capacity defaults to config.journal.capacity */
  journalLimits?: Partial<JournalLimits>;
  /** the face workers; default a FacePool from config.face (tests pass a scripted processor) */
  faceProcessor?: GateFaceProcessor;
  /** where the face pool finds its models and manifest (default models/) */
  facePool?: Pick<FacePoolOptions, 'modelsDir' | 'manifestPath'>;
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
  /** an operator asked for the roster again (MQTT resync-roster): roster sync hooks here */
  resyncRoster: [{ commandId: string | null }];
  /** a command was acknowledged on cmd/ack */
  commandAck: [import('../mqtt/commands.js').CommandAck];
  /** the config was reloaded from its file */
  reloaded: [GateConfig];
  /** roster sync applied a delta or a snapshot from the hub (the face index is already updated) */
  rosterApplied: [RosterApplied];
  /** a face attempt that journalled no punch (spoof, unknown face), as published on the event topic */
  faceAttempt: [PassageEvent];
  /** the hub acknowledged these photos: they may be evicted */
  photosAcked: [readonly string[]];
}

interface LaneParts {
  relays: { in: Relay; out: Relay };
  sensor: InputLine;
  turnstile: TurnstileLane;
  /** new timings waiting for the lane's passage to settle (reload) */
  pending: GateConfig['lanes'][number] | null;
}

const FIRE_EVENTS_KEPT = 20;

/**
 * The gate controller daemon: the one place that wires readers, the turnstile, the journal,
 * the signer and the publisher. Drivers know bytes, core knows workers; this file knows both.
 * Faults (a reader, the token, the broker, the disk, the clock) degrade the gate and show in its
 * status; none of them stops it deciding for workers while it can still journal.
 */
export class Gate extends EventEmitter<GateEvents> {
  readonly clock: Clock;
  readonly bootId = randomUUID();
  readonly faults: GateFaults;
  journal!: Journal;
  controller!: AccessController;
  signing!: ChainSigning;
  publisher!: Publisher;
  roster!: RosterStore;
  /** where each worker was last seen (anti-passback): the hub's presence and this gate's own passages */
  presence!: GatePresence;
  token!: GateToken;
  time!: GateTime;
  photos!: PhotoStore;
  photoUploader!: PhotoUploader;
  face!: GateFace;
  /** enrolment at this gate (capture-face); wraps the face workers GateFace is given */
  enrol!: GateEnrol;
  /** granted passages with two or more people on one release */
  private readonly tailgating = { count: 0, lastAtMs: null as number | null, lastLane: null as string | null };
  /** null without roster.hubPublicKey (the roster comes from its file only) */
  rosterSync: RosterSync | null = null;
  housekeeping!: JournalHousekeeping;
  /** resolves once face matching has started, or has given up (models missing); never rejects */
  faceReady: Promise<void> = Promise.resolve();
  private rosterSyncStarted = false;
  private config: GateConfig;
  private gpio!: GpioProvider;
  private readonly startedMono: number;
  private lanes = new Map<string, LaneParts>();
  private lockdown = new Set<string>();
  private indicators = new Map<string, Indicator>();
  private fireAlarm: FireAlarm | null = null;
  private readonly fireEvents: FireAlarmEvent[] = [];
  private gpioSocket: GpioSocketClient | null = null;
  private readers: GateReader[] = [];
  private client: MqttClient | null = null;
  private commands!: GateCommands;
  private statusTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private journalFault: string | null = null;
  private lastAckMs: number | null = null;
  private stopped = false;
  private controlProvider: GateControlProvider | null = null;
  /** every GPIO line requested, released at stop() */
  private readonly requested: { close(): void }[] = [];

  constructor(private readonly opts: GateOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.config = opts.config;
    this.faults = new GateFaults(this.clock, opts.log);
    this.startedMono = this.clock.monotonic();
  }

  /** The config in force (after reloads). */
  get currentConfig(): GateConfig {
    return this.config;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const config = this.config;
    // Outputs first, in their safe state, before anything else runs.
    this.gpio = tracked(this.opts.gpio ?? (await this.defaultGpio()), this.requested);
    this.startLanes();
    await this.gpioSocket?.sync();

    mkdirSync(config.stateDir, { recursive: true });
    this.roster = new RosterStore(this.rosterPath);
    this.loadRosterFile();
    this.presence = new GatePresence({ path: join(config.stateDir, 'presence.db'), siteId: config.siteId, log: log.child({ part: 'presence' }) });
    this.presence.start();
    this.photos = new PhotoStore({ dir: join(config.stateDir, 'photos'), maxBytes: config.photos.maxBytes, wallClock: () => this.clock.now() });

    await this.openToken();
    this.journal = new Journal(
      this.journalPath,
      { gateId: config.gateId, certSha256: this.chainCertSha256(), epoch: config.epoch },
      () => this.clock.now(),
      { capacity: config.journal.capacity, maxPageCount: config.journal.maxPageCount, ...this.opts.journalLimits },
    );

    this.time = new GateTime(this.clock, this.opts.clockSynced ?? (() => true), (jump) => {
      if (jump) {
        this.faults.raise('clock_jumped_back', '', `the wall clock went back ${Math.round(jump.backMs / 1000)} s: punches are marked unsynchronised until it passes ${new Date(jump.fromMs).toISOString()}`);
      } else this.faults.clear('clock_jumped_back');
    });
    this.controller = new AccessController({
      siteId: config.siteId,
      gateId: config.gateId,
      journal: this.journal,
      roster: this.roster,
      lanes: this.actuators(),
      clock: this.clock,
      log,
      bootId: this.bootId,
      clockSynced: () => this.time.isSynced(),
      lockedDown: (lane) => this.lockdown.has(lane),
      faceFactor: (workerId) => this.face?.verifyRecent(workerId),
      overflow: () => this.config.journal.onOverflow,
      presence: this.presence,
    });
    this.signing = new ChainSigning({
      journal: this.journal,
      signer: { sigAlg: this.token.sigAlg, certSha256: () => this.journal.identity.certSha256, sign: (m) => this.token.sign(m) },
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
      reopen: () => this.token.reopen(),
    });
    this.wireController();
    this.signing.on('signed', (h) => {
      this.emit('signed', h);
      this.publisher?.kick();
    });
    this.signing.on('fault', (f) => {
      this.faults.raise('token_unavailable', '', `${f.message}; punches chain and wait for a signature`);
      this.emit('fault', f);
    });
    this.signing.on('recovered', () => this.faults.clear('token_unavailable'));

    const interrupted = this.controller.closeInterruptedPassages();
    if (interrupted) log.warn({ interrupted }, 'passages cut short by the last stop were closed as interrupted');
    this.signing.kick();

    this.commands = new GateCommands({
      clock: this.clock,
      log,
      target: {
        laneNames: () => [...this.lanes.keys()],
        openOnce: (lane, direction, who) => {
          const r = this.openLane(lane, direction, who);
          void r.passage;
          return { punchId: r.entry.punchId };
        },
        setLockdown: (lanes, on) => this.setLockdown(lanes, on),
        requestRosterResync: (commandId) => {
          if (!this.rosterSync) return { ok: false, code: 'unavailable', message: 'this gate takes its roster from its file only (no roster.hubPublicKey)' };
          this.emit('resyncRoster', { commandId });
          return { ok: true };
        },
        captureFace: (req) => {
          const r = this.enrol.begin(req);
          if (r.ok) this.publishStatus();
          return r;
        },
      },
    });
    this.on('resyncRoster', () => this.requestRosterSnapshot());
    this.buildRosterSync();
    this.photoUploader = new PhotoUploader({
      store: this.photos,
      link: () => this.client,
      siteId: config.siteId,
      gateId: config.gateId,
      clock: this.clock,
      log,
      onAcked: (hashes) => this.emit('photosAcked', hashes),
    });
    this.startLink();
    this.publisher = new Publisher({
      journal: this.journal,
      client: this.client!,
      siteId: config.siteId,
      clock: this.clock,
      log,
      batchSize: config.publish.batchSize,
      maxInFlight: config.publish.maxInFlight,
      ackTimeoutMs: config.publish.ackTimeoutMs,
      onAck: (ids) => {
        this.lastAckMs = this.clock.now();
        this.controller.checkCapacity();
        this.emit('acked', ids);
      },
    });
    this.publisher.start();
    this.photoUploader.start();
    this.startReaders();
    this.startFireAlarm();
    this.startFace();
    this.housekeeping = new JournalHousekeeping({
      journal: this.journal,
      clock: this.clock,
      log,
      pruneAfterDays: config.journal.pruneAfterDays,
      keepAckedRows: config.journal.keepAckedRows,
      afterRound: () => this.controller.checkCapacity(),
    });
    this.housekeeping.start();
    this.controller.checkCapacity();
    this.faults.setListener(() => this.publishStatus());
    this.scheduleStatus();
    this.scheduleRetry();
    log.info(
      { gateId: config.gateId, lanes: this.lanes.size, readers: this.readers.length, roster: this.roster.size(), rosterSync: this.rosterSync !== null, face: config.face.enabled, token: this.token.state },
      'gate started',
    );
  }

  get journalPath(): string {
    return join(this.config.stateDir, 'journal.db');
  }

  get rosterPath(): string {
    return join(this.config.stateDir, 'roster.db');
  }

  // --- token -----------------------------------------------------------------------------

  private async openToken(): Promise<void> {
    const signer = this.opts.signer ?? this.pkcs11Signer();
    this.token = new GateToken(signer, join(this.config.stateDir, 'gate-cert.der'));
    if (!(await this.token.open())) {
      const why = this.token.problem?.message ?? 'the token could not be opened';
      this.faults.raise('token_unavailable', '', `${why}; punches chain and wait for a signature`);
    }
  }

  /** The chain's certificate fingerprint: the token's, the one kept from its last open, or the journal's own. */
  private chainCertSha256(): string {
    const stored = Journal.storedIdentity(this.journalPath);
    const sha = this.token.certSha256(stored?.certSha256 ?? null);
    if (sha) return sha;
    throw new SitegateError(
      'token_never_read',
      `the gate's token "${this.config.token.tokenLabel}" has never been read on this gate, so its chain has no identity yet: ` +
        `plug the token in for the first start (${this.token.problem?.message ?? 'not opened'})`,
    );
  }

  private pkcs11Signer(): Pkcs11Signer {
    const t = this.config.token;
    return new Pkcs11Signer({
      modulePath: t.module,
      tokenLabel: t.tokenLabel,
      keyLabel: t.keyLabel,
      pin: readSecretFile(t.pinFile, 'token PIN'),
      mechanism: t.mechanism,
      sm2Mechanism: t.sm2Mechanism,
    });
  }

  // --- decisions -------------------------------------------------------------------------

  private wireController(): void {
    const { log } = this.opts;
    this.controller.on('punch', (p, w) => {
      if (p.credential.kind !== 'manual') this.indicate(p.lane, indicatorFor(p));
      const event = passageEventOf(p);
      if (event) this.publishEvent(event);
      this.emit('punch', p, w);
    });
    this.controller.on('relay', (p, ms) => this.emit('relay', p, ms));
    this.controller.on('passage', (p) => {
      this.emit('passage', p);
      const punch = this.journal.entriesOf(p.punchId).find((e) => e.type === 'punch');
      this.presence.onPassage(punch?.type === 'punch' ? punch : undefined, p);
      if (punch?.type === 'punch' && isTailgating(p, punch)) this.onTailgating(punch, p);
      this.applyPendingLane(punch?.lane);
    });
    this.controller.on('journalled', () => {
      if (this.journalFault) {
        this.faults.clear(this.journalFault);
        this.journalFault = null;
        log.info('the journal takes entries again');
      }
      this.signing.kick();
    });
    this.controller.on('refused', (read, err) => {
      this.indicate(read.lane, 'fault');
      this.journalRefused(err);
      const method = read.kind === 'manual' ? null : read.kind;
      if (method) {
        this.publishEvent(refusedEventOf({ gateId: this.config.gateId, lane: read.lane, direction: read.direction, method, code: err.code }, this.now()));
      }
    });
    this.controller.on('held', (err) => this.journalRefused(err));
    // handle() has logged it and counted it; the reader goes on
    this.controller.on('error', () => undefined);
    this.controller.on('overCapacity', (over, unacked) => {
      const { capacity, onOverflow } = this.config.journal;
      if (!over) {
        this.faults.clear('journal_over_capacity');
        return;
      }
      const what = onOverflow === 'deny' ? 'new swipes are denied (journal_full) until the hub catches up' : 'workers still pass and every punch is kept';
      this.faults.raise('journal_over_capacity', '', `the journal holds ${unacked} entries the hub has not acknowledged, over its capacity of ${capacity}: ${what}`);
    });
  }

  private onTailgating(punch: PunchEntry, passage: PassageEntry): void {
    this.tailgating.count++;
    this.tailgating.lastAtMs = passage.time.ms;
    this.tailgating.lastLane = punch.lane;
    this.opts.log.warn({ lane: punch.lane, punchId: punch.punchId, workerId: punch.workerId, sensorCount: passage.sensorCount }, 'tail-gating: more than one person passed on one release');
    this.publishEvent(tailgatingEventOf(punch, passage));
    this.publishStatus();
  }

  private journalRefused(err: SitegateError): void {
    if (this.journalFault === err.code) return;
    if (this.journalFault) this.faults.clear(this.journalFault);
    this.journalFault = err.code;
    this.faults.raise(err.code, '', `${err.message}: swipes are refused and nothing opens until it can write again`);
  }

  /** True while the journal takes entries (false after a write failed, until one succeeds). */
  get journalAccepting(): boolean {
    return this.journalFault === null;
  }

  /**
   * Opens a lane once for a technician or operator: journalled first as a manual open (credential
   * kind `manual`, no worker), then the relay; `passage` settles with the outcome.
   */
  openLane(lane: string, direction: Direction, who: string, reason?: string): { entry: PunchEntry; passage: Promise<string> } {
    let r;
    try {
      r = this.controller.manualOpen(lane, direction, who);
    } catch (err) {
      if (err instanceof SitegateError && err.code.startsWith('journal_')) this.journalRefused(err);
      throw err;
    }
    this.opts.log.warn({ lane, direction, who, reason, punchId: r.entry.punchId }, `manual open of ${lane} ${direction} by ${who}`);
    this.publishStatus();
    return r;
  }

  setLockdown(lanes: string[], on: boolean): void {
    for (const l of lanes) {
      if (!this.lanes.has(l)) continue;
      if (on) this.lockdown.add(l);
      else this.lockdown.delete(l);
    }
    this.opts.log.warn({ lanes, lockdown: on }, on ? 'lanes locked down by an operator' : 'lanes released to normal operation');
    this.publishStatus();
  }

  // --- hardware --------------------------------------------------------------------------

  private async defaultGpio(): Promise<GpioProvider> {
    const g = this.config.gpio;
    if (g.driver === 'sim') {
      throw new SitegateError('gpio_sim_needs_chip', 'gpio.driver "sim" runs only inside the demo or tests, which pass their simulated chip');
    }
    if (g.driver === 'socket') {
      const client = new GpioSocketClient({
        path: g.socket as string,
        clock: this.clock,
        onClose: (reason) => {
          if (!this.stopped) {
            this.opts.log.error({ reason }, 'GPIO socket lost: relays and readers are not driven');
            this.faults.raise('gpio_lost', '', `GPIO socket lost (${reason}): relays and readers are not driven`);
          }
        },
      });
      await client.start();
      this.gpioSocket = client;
      return client;
    }
    return new OnoffGpioProvider(this.clock, { sysfsRoot: g.sysfsRoot });
  }

  private startLanes(): void {
    const gpio = this.gpio;
    for (const l of this.config.lanes) {
      const relayFor = (dir: 'in' | 'out') => {
        const spec = l.relays[dir];
        if (!spec) return new Relay(nullOutput(), this.clock, { name: `${l.name}.${dir}` });
        // The line spec's activeLow is the board's polarity (the provider applies it); the relay's own
        // inversion is the fail state: with failState 'free' the relay is held energised to lock.
        const heldToLock = l.failState === 'free';
        return new Relay(gpio.output(spec, relaySafeLevel(heldToLock)), this.clock, { name: `${l.name}.${dir}`, activeLow: heldToLock });
      };
      const relays = { in: relayFor('in'), out: relayFor('out') };
      const sensor = gpio.input(l.passageSensor, { edge: 'both' });
      const turnstile = this.turnstile(l, relays, sensor);
      turnstile.start();
      this.lanes.set(l.name, { relays, sensor, turnstile, pending: null });
      if (l.indicator) {
        const out = (spec: typeof l.indicator.red) => (spec ? gpio.output(spec, 0) : undefined);
        const indicator = new Indicator({ red: out(l.indicator.red), green: out(l.indicator.green), buzzer: out(l.indicator.buzzer) }, this.clock);
        indicator.start();
        this.indicators.set(l.name, indicator);
      }
    }
  }

  private turnstile(l: GateConfig['lanes'][number], relays: LaneParts['relays'], sensor: InputLine): TurnstileLane {
    return new TurnstileLane(
      {
        lane: l.name,
        relays,
        passageSensor: sensor,
        pulseMs: l.pulseMs,
        passageTimeoutMs: l.passageTimeoutMs,
        passageClearMs: l.passageClearMs,
        ...(l.personGapMs !== undefined ? { personGapMs: l.personGapMs } : {}),
        holdMs: l.holdMs,
      },
      this.clock,
    );
  }

  /** The controller looks lanes up on every read, so a lane rebuilt by a reload is picked up at once. */
  private actuators(): ReadonlyMap<string, LaneActuator> {
    const lanes = this.lanes;
    return {
      get: (name: string) => lanes.get(name)?.turnstile,
      has: (name: string) => lanes.has(name),
      get size() {
        return lanes.size;
      },
    } as unknown as ReadonlyMap<string, LaneActuator>;
  }

  private readerDeps(): ReaderDeps {
    const g = this.config.gpio;
    const mode = g.wiegandEdges ?? (this.opts.gpio === undefined && g.driver === 'onoff' ? 'gpiomon' : 'driver');
    return {
      gpio: this.gpio,
      clock: this.clock,
      log: this.opts.log,
      wiegandEdges: mode,
      gpiomonCommands: g.gpiomon,
      i2cOpener: this.opts.i2cOpener,
      samOpener: this.opts.samOpener,
    };
  }

  private makeReader(spec: GateConfig['readers'][number]): GateReader {
    return buildReader(spec, this.readerDeps(), {
      credential: (_r, read) => this.controller.handle(read),
      fault: (r, err) => {
        this.faults.raise('reader_fault', r.name, `${r.kind} reader at ${r.device}: ${err.message}`);
        this.indicate(r.lane, 'fault');
      },
      recovered: (r) => this.faults.clear('reader_fault', r.name),
    });
  }

  private startReaders(): void {
    for (const spec of this.config.readers) {
      const reader = this.makeReader(spec);
      reader.start();
      this.readers.push(reader);
    }
  }

  private startFireAlarm(): void {
    const f = this.config.fireAlarm;
    if (!f) return;
    this.fireAlarm = new FireAlarm({ input: this.gpio.input(f.input, { edge: 'both' }), activeLevel: f.activeLevel, debounceMs: f.debounceMs }, this.clock);
    this.fireAlarm.onChange(({ active }) => {
      for (const lane of this.lanes.values()) lane.turnstile.setFreePassage(active);
      const lanes = [...this.lanes.keys()];
      this.opts.log.warn({ lanes }, active ? 'FIRE ALARM: every lane held open' : 'fire alarm cleared: lanes back to normal');
      const time = this.now();
      const event: FireAlarmEvent = { v: 1, kind: 'fire_alarm', event_type: 'fire_alarm', state: active ? 'active' : 'cleared', gateId: this.config.gateId, lanes, atMs: time.ms, time };
      this.fireEvents.push(event);
      if (this.fireEvents.length > FIRE_EVENTS_KEPT) this.fireEvents.shift();
      if (active) this.faults.raise('fire_alarm', '', `fire alarm active since ${new Date(time.ms).toISOString()}: every lane held open`);
      else this.faults.clear('fire_alarm');
      this.publishEvent(event);
      this.emit('fireAlarm', event);
    });
    this.fireAlarm.start();
  }

  /** True while the fire alarm holds every lane open. */
  get fireAlarmActive(): boolean {
    return this.fireAlarm?.alarm ?? false;
  }

  /** The fire alarm's recent changes, oldest first (punch-less events kept for `sitegate status`). */
  fireAlarmEvents(): readonly FireAlarmEvent[] {
    return this.fireEvents;
  }

  /** Plays a lane's LED/buzzer pattern (a lane without indicator outputs ignores it). */
  indicate(lane: string, pattern: IndicatorPattern): void {
    this.indicators.get(lane)?.play(pattern);
  }

  /** The pattern a lane's indicator plays now (null: none, or no indicator). */
  indicatorPlaying(lane: string): IndicatorPattern | null {
    return this.indicators.get(lane)?.playing ?? null;
  }

  private loadRosterFile(): void {
    const file = this.config.roster.file;
    if (file === undefined) return;
    if (this.config.roster.hubPublicKey && !existsSync(file)) {
      this.opts.log.info({ file }, 'no roster file; the roster comes from the hub');
      return;
    }
    // an unchanged file (same bytes as last time) is not parsed again
    importRosterFile(this.roster, file, { log: this.opts.log.child({ part: 'roster' }) });
  }

  // --- roster sync -----------------------------------------------------------------------

  /** Built before the MQTT client: a persistent session's deltas can arrive before CONNACK. */
  private buildRosterSync(): void {
    const c = this.config;
    const r = c.roster;
    if (!r.hubPublicKey) return;
    const sync = new RosterSync({
      store: this.roster,
      link: {
        subscribeAsync: (topic, opts) => (this.client ? this.client.subscribeAsync(topic, opts) : Promise.reject(new SitegateError('no_link', 'no MQTT client'))),
        publish: (topic, payload, opts, cb) => (this.client ? this.client.publish(topic, payload, opts, cb) : cb?.(new SitegateError('no_link', 'no MQTT client'))),
      },
      siteId: c.siteId,
      gateId: c.gateId,
      hubKey: parseRosterPublicKey(r.hubPublicKey),
      clock: this.clock,
      log: this.opts.log.child({ part: 'roster' }),
      retryMinMs: r.retryMinMs,
      retryMaxMs: r.retryMaxMs,
      headGraceMs: r.headGraceMs,
      chunkTimeoutMs: r.chunkTimeoutMs,
    });
    sync.on('applied', (a) => {
      this.face?.rosterApplied(a);
      this.opts.log.info({ kind: a.kind, version: a.version, upserts: a.upserts.length, removes: a.removes.length }, 'roster applied');
      this.emit('rosterApplied', a);
      this.publishStatus();
    });
    this.rosterSync = sync;
  }

  private startRosterSync(): void {
    const sync = this.rosterSync;
    if (!sync || this.rosterSyncStarted || this.stopped) return;
    this.rosterSyncStarted = true;
    sync.start().catch((err) => {
      this.rosterSyncStarted = false; // subscribed again at the next connect
      this.opts.log.warn({ err: errorMessage(err) }, 'roster sync could not subscribe; tried again when the link comes back');
    });
  }

  /**
   * An operator's resync-roster: asks the hub for a snapshot now, applied even at the version the
   * gate holds (once), so a damaged or hand-edited store is rebuilt from the hub's copy.
   */
  private requestRosterSnapshot(): void {
    if (!this.rosterSync) return;
    const { haveVersion } = this.rosterSync.requestResync();
    this.opts.log.info({ haveVersion }, 'roster resync: snapshot requested from the hub');
  }

  // --- face ------------------------------------------------------------------------------

  private startFace(): void {
    const c = this.config.face;
    const inner = this.opts.faceProcessor ?? new FacePool({
      workers: faceWorkerCount(c.workers),
      ...this.opts.facePool,
      pipeline: { ...defaultPipelineOptions, choose: { ...defaultChooseOptions, minEyeDistancePx: c.minEyeDistancePx } },
    });
    this.enrol = new GateEnrol({
      gateId: this.config.gateId,
      inner,
      clock: this.clock,
      log: this.opts.log.child({ part: 'enrol' }),
      publish: (msg) => this.client?.publish(topics.gateEnrol(this.config.siteId, this.config.gateId), JSON.stringify(msg), { qos: 1 }, (err) => {
        if (err) this.opts.log.warn({ err: errorMessage(err), requestId: msg.requestId }, 'enrolment answer not sent');
      }),
      available: () => {
        if (!this.config.face.enabled || !this.config.face.camera) return { ok: false, why: 'face matching is not enabled in its config (face.enabled, face.camera)' };
        if (!this.face?.running) return { ok: false, why: `face matching is not running${this.face?.status().problem ? ` (${this.face.status().problem})` : ' (still starting)'}` };
        return { ok: true };
      },
      modelId: embedderModelId(this.opts.facePool?.manifestPath),
    });
    this.face = new GateFace({
      config: c,
      roster: this.roster,
      clock: this.clock,
      log: this.opts.log.child({ part: 'face' }),
      faults: this.faults,
      processor: this.enrol.processor,
      pool: this.opts.facePool,
      handlers: {
        credential: (x) => this.onFaceCredential(x),
        spoof: (x) => this.onFaceSpoof(x),
        noMatch: (x) => this.onFaceNoMatch(x),
      },
    });
    this.faceReady = this.face.start().catch((err) => {
      this.opts.log.error({ err: errorMessage(err) }, 'face matching could not start');
      this.faults.raise('face_models', '', `face matching could not start: ${errorMessage(err)}`);
    });
  }

  private onFaceCredential(c: FaceCredential): void {
    if (this.roster.rules()?.verification === 'card+face') {
      // the face is the second factor: the card read that follows asks the station for it
      this.opts.log.debug({ lane: c.lane, workerId: c.workerId }, 'face seen; waiting for the card (card+face)');
      return;
    }
    let photoHash: string | null = null;
    try {
      photoHash = this.photos.put(c.photo);
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'face photo not stored; the punch goes without it');
    }
    this.controller.handle({
      kind: 'face',
      number: c.workerId,
      lane: c.lane,
      direction: c.direction,
      readAtMono: c.readAtMono,
      face: { workerId: c.workerId, score: c.score, liveness: Math.min(c.liveness.antispoof, c.liveness.liveness), photoHash },
    });
    if (photoHash) this.photoUploader.kick();
  }

  private onFaceSpoof(s: FaceSpoof): void {
    this.indicate(s.lane, 'spoof');
    this.opts.log.warn({ lane: s.lane, reason: s.reason }, 'face refused: liveness check failed');
    this.faceAttempt({ lane: s.lane, type: 'spoof', reason: s.reason, score: null, liveness: Math.min(s.liveness.antispoof, s.liveness.liveness) });
  }

  private onFaceNoMatch(n: FaceNoMatch): void {
    this.indicate(n.lane, 'unknown');
    const type = n.reason === 'empty_index' ? 'no_face' : 'unknown';
    this.faceAttempt({ lane: n.lane, type, reason: n.reason, score: n.best?.score ?? null, liveness: Math.min(n.liveness.antispoof, n.liveness.liveness) });
  }

  private faceAttempt(a: { lane: string; type: 'spoof' | 'unknown' | 'no_face'; reason: string; score: number | null; liveness: number | null }): void {
    const direction = this.config.face.camera?.direction ?? 'in';
    const event = faceEventOf({ gateId: this.config.gateId, direction, ...a }, this.now());
    this.publishEvent(event);
    this.emit('faceAttempt', event);
  }

  /** True while the lane has a passage open (a read then is ignored). */
  laneBusy(lane: string): boolean {
    return this.lanes.get(lane)?.turnstile.busy ?? false;
  }

  laneMode(lane: string): LaneMode {
    const l = this.lanes.get(lane);
    if (this.lockdown.has(lane)) return 'lockdown';
    return l && (l.turnstile.busy || l.turnstile.freePassage) ? 'open' : 'normal';
  }

  readerList(): readonly GateReader[] {
    return this.readers;
  }

  // --- MQTT ------------------------------------------------------------------------------

  private startLink(): void {
    const { log } = this.opts;
    const c = this.config;
    const statusTopic = topics.gateStatus(c.siteId, c.gateId);
    this.client = openGateLink({
      url: c.mqtt.url,
      username: c.mqtt.username ?? c.gateId,
      password: readSecretFile(c.mqtt.passwordFile, 'MQTT password'),
      clientId: `sitegate-gate-${c.gateId}`,
      reconnectMinMs: c.mqtt.reconnectMinMs,
      reconnectMaxMs: c.mqtt.reconnectMaxMs,
      clock: this.clock,
      keepaliveS: c.mqtt.keepaliveS,
      ca: c.mqtt.caFile ? readFileSync(c.mqtt.caFile) : undefined,
      will: { topic: statusTopic, payload: JSON.stringify({ online: false }) },
      log,
      onUp: () => {
        this.faults.clear('hub_unreachable');
        this.client?.subscribe([topics.gateCmd(c.siteId, c.gateId), topics.gatePhotoAck(c.siteId, c.gateId), this.presence.topic], { qos: 1 }, (err) => {
          if (err) log.warn({ err: err.message }, 'cannot subscribe to the command, photo ack and presence topics');
        });
        this.startRosterSync();
        this.photoUploader.kick();
        this.publishStatus();
      },
      onDown: (why) => {
        if (!this.stopped) this.faults.raise('hub_unreachable', '', `the broker at ${c.mqtt.url} is unreachable (${why}): punches stay in the journal`);
      },
    });
    this.client.on('message', (topic, payload) => {
      if (this.rosterSync?.handleMessage(topic, payload)) return;
      if (this.photoUploader.handleMessage(topic, payload)) return;
      if (this.presence.handleMessage(topic, payload)) return;
      if (topic !== topics.gateCmd(c.siteId, c.gateId)) return;
      const ack = this.commands.handle(payload);
      this.client?.publish(topics.gateCmdAck(c.siteId, c.gateId), JSON.stringify(ack), { qos: 1 });
      this.emit('commandAck', ack);
    });
  }

  private publishEvent(event: object): void {
    const c = this.client;
    if (!c?.connected) return;
    c.publish(topics.gateEvent(this.config.siteId, this.config.gateId), JSON.stringify(event), { qos: 0 });
  }

  private publishStatus(): void {
    if (!this.client?.connected || this.stopped || !this.journal) return;
    try {
      this.client.publish(topics.gateStatus(this.config.siteId, this.config.gateId), JSON.stringify(mqttStatus(this.snapshot(), this.bootId)), {
        qos: 1,
        retain: true,
      });
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'status not published');
    }
  }

  private scheduleStatus(): void {
    this.statusTimer = this.clock.setTimeout(() => {
      this.publishStatus();
      this.scheduleStatus();
    }, this.opts.statusEveryMs ?? 10_000);
  }

  private scheduleRetry(): void {
    this.retryTimer = this.clock.setTimeout(() => {
      this.controller.retryHeld();
      this.time.isSynced(); // notices a clock that jumped while nobody swiped
      this.scheduleRetry();
    }, this.opts.retryEveryMs ?? 5000);
  }

  // --- status and control ----------------------------------------------------------------

  private now(): PunchTime {
    return { ms: this.clock.now(), clockSynced: this.time.isSynced(), bootId: this.bootId, monoMs: Math.round(this.clock.monotonic()) };
  }

  /** Everything the status documents are made from, at this moment. */
  snapshot(): GateSnapshot {
    const relays: GateSnapshot['relays'] = [];
    for (const [lane, l] of this.lanes) {
      for (const direction of ['in', 'out'] as const) {
        if (!this.config.lanes.find((c) => c.name === lane)?.relays[direction]) continue;
        const s = l.relays[direction].stats();
        relays.push({ lane, direction, active: l.relays[direction].active, pulses: s.pulses, writeErrors: s.writeErrors });
      }
    }
    return {
      siteId: this.config.siteId,
      gateId: this.config.gateId,
      version: packageVersion(),
      uptimeS: (this.clock.monotonic() - this.startedMono) / 1000,
      nowMs: this.clock.now(),
      clockSynced: this.time.isSynced(),
      readers: this.readers.map((r) => ({ name: r.name, kind: r.kind, lane: r.lane, direction: r.direction, device: r.device, health: r.health() })),
      relays,
      lanes: Object.fromEntries([...this.lanes.keys()].map((l) => [l, this.laneMode(l)])),
      fireAlarm: this.fireAlarm ? (this.fireAlarm.alarm ? 'active' : 'normal') : 'not-wired',
      token: { state: this.token.state, certDer: this.token.certificateDer() },
      roster: { version: this.roster.version(), size: this.roster.size() },
      rosterSync: this.rosterSync?.status() ?? null,
      face: this.face?.status() ?? null,
      photos: this.photos.stats(),
      journal: {
        headSeq: this.journal.head.seq,
        unacked: this.journal.unackedCount(),
        oldestUnackedMs: this.journal.oldestUnackedMs(),
        accepting: this.journalAccepting,
      },
      journalCapacity: { capacity: this.journal.limits.capacity, over: this.journal.overCapacity, onOverflow: this.config.journal.onOverflow },
      hub: { connected: this.client?.connected ?? false, lastAckMs: this.lastAckMs, inFlight: this.publisher?.inFlightCount ?? 0 },
      faults: this.faults.list(),
      tailgating: { ...this.tailgating },
      presence: { ...this.presence.counters },
      enrol: this.enrol ? { ...this.enrol.status() } : undefined,
    };
  }

  /** The retained MQTT status document (also what `status` used to return). */
  status(): ReturnType<typeof mqttStatus> {
    return mqttStatus(this.snapshot(), this.bootId);
  }

  /** DaemonHandle: the watchdog asks this. Only a journal that does not answer is unhealthy. */
  healthy(): HealthResult {
    return sqliteHealth('the journal', this.journal.db)();
  }

  statusLine(): string {
    return statusLine(this.snapshot());
  }

  control(): ControlHandlers {
    this.controlProvider ??= new GateControlProvider(this);
    return gateHandlers(this.controlProvider);
  }

  // --- reload ----------------------------------------------------------------------------

  /**
   * Re-reads the config file and applies what can change under a running gate (reader poll
   * settings, lane timings) without dropping a punch: a reader is rebuilt between two polls, a
   * lane once its passage has settled. Anything else, or an invalid file, throws and the old
   * config stays in force.
   */
  async reload(): Promise<void> {
    if (!this.opts.configPath) throw new SitegateError('reload_no_file', 'this gate was started without a config file to re-read');
    const next = loadConfigFile(gateConfigSchema, this.opts.configPath);
    const plan = planReload(this.config, next);
    for (const i of plan.readers) {
      const old = this.readers[i];
      await old.stop();
      const reader = this.makeReader(next.readers[i]);
      this.readers[i] = reader;
      if (!this.stopped) reader.start();
    }
    for (const name of plan.lanes) {
      const parts = this.lanes.get(name);
      const spec = next.lanes.find((l) => l.name === name);
      if (!parts || !spec) continue;
      parts.pending = spec;
      this.applyPendingLane(name);
    }
    this.config = next;
    this.opts.log.info({ readers: plan.readers.length, lanes: plan.lanes }, 'config reloaded');
    this.emit('reloaded', next);
  }

  private applyPendingLane(name: string | undefined): void {
    if (!name) return;
    const parts = this.lanes.get(name);
    if (!parts?.pending || parts.turnstile.busy || this.stopped) return;
    const spec = parts.pending;
    parts.pending = null;
    const free = parts.turnstile.freePassage;
    parts.turnstile.stop();
    parts.turnstile = this.turnstile(spec, parts.relays, parts.sensor);
    parts.turnstile.start();
    if (free) parts.turnstile.setFreePassage(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.statusTimer) this.clock.clearTimeout(this.statusTimer);
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    for (const r of this.readers) await r.stop().catch(() => undefined);
    this.enrol?.stop();
    await this.face?.stop().catch(() => undefined);
    this.housekeeping?.stop();
    this.photoUploader?.stop();
    this.fireAlarm?.stop();
    for (const i of this.indicators.values()) i.stop();
    for (const l of this.lanes.values()) l.turnstile.stop();
    this.signing?.stop();
    this.publisher?.stop();
    await this.rosterSync?.stop();
    if (this.client) {
      const t = topics.gateStatus(this.config.siteId, this.config.gateId);
      if (this.client.connected) await this.client.publishAsync(t, JSON.stringify({ online: false }), { qos: 1, retain: true }).catch(() => undefined);
      await this.client.endAsync(true).catch(() => undefined);
      this.client = null;
    }
    this.controlProvider?.close();
    for (const line of this.requested.splice(0).reverse()) {
      try {
        line.close();
      } catch {
        // already released by its owner
      }
    }
    await this.token?.close().catch(() => undefined);
    this.journal?.close();
    this.photos?.close();
    this.roster?.close();
    this.presence?.stop();
    this.gpioSocket?.stop();
  }
}

/** The provider, noting every line it hands out so that stop() can release them all. */
function tracked(gpio: GpioProvider, into: { close(): void }[]): GpioProvider {
  return {
    output: (spec, initial) => {
      const line = gpio.output(spec, initial);
      into.push(line);
      return line;
    },
    input: (spec, opts) => {
      const line = gpio.input(spec, opts);
      into.push(line);
      return line;
    },
  };
}

/** A relay slot the lane does not wire (a one-way lane). */
function nullOutput() {
  let v: 0 | 1 = 0;
  return { write: (x: 0 | 1) => void (v = x), read: () => v, close: () => undefined };
}

let version: string | null = null;

/** The package's version, read once (src/gate and dist/gate both sit two levels below package.json). */
export function packageVersion(): string {
  if (version === null) {
    try {
      version = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0');
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
