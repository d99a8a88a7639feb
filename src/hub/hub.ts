import { mkdirSync, readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { pemToDer } from '../core/cert.js';
import type { JournalEntry, PunchEntry } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { rosterKeyFingerprint, rosterPublicKeyText } from '../core/roster-message.js';
import { readSecretFile } from '../config/load.js';
import type { HubConfig } from '../config/hub-config.js';
import { registryPath } from './registry/registry-store.js';
import { hubHandlers, type ControlHandlers } from '../control/providers.js';
import type { HubStatusView } from '../control/views.js';
import { sqliteHealth, type HealthResult } from '../daemon/health.js';
import { connectMqtt } from '../mqtt/client.js';
import { parsePayload } from '../mqtt/schemas.js';
import { gateStatusSchema, type HubStatus } from '../mqtt/status.js';
import { gateIdFromTopic, topics } from '../mqtt/topics.js';
import type { PlatformProfile } from '../municipal/profile.js';
import { createProfile, PROFILES } from '../municipal/profiles.js';
import { SqliteRequestLedger } from './budget.js';
import { SqliteReplyLog } from './reply-log.js';
import { Forwarder, type ForwarderFault } from './forwarder.js';
import { HaDiscovery } from './ha-discovery.js';
import { HubCommands } from './hub-commands.js';
import { hubStatusView } from './hub-control.js';
import { HubPhotos } from './hub-photos.js';
import { HubPresence } from './hub-presence.js';
import { checkReloadable, forwarderChanged } from './hub-reload.js';
import { HubEnrol } from './hub-enrol.js';
import { RegistryRosterSource } from './hub-roster-source.js';
import { HubRows } from './hub-rows.js';
import { Ingest, pinGate, type IngestOutcome, type PinnedGate } from './ingest.js';
import { Pacer } from './pacer.js';
import { importWorkersFileOnce } from './registry-file.js';
import { RegistryStore } from './registry/registry-store.js';
import { readOrCreateRosterKey } from './roster-key.js';
import { RosterPublisher } from './roster-publisher.js';
import { SecurityToken } from './security-token.js';
import { HubStore } from './store.js';
import { UploadQueue } from './upload-queue.js';
import { verifyHeadSignature } from './verify-signature.js';

export interface HubOptions {
  config: HubConfig;
  log: Logger;
  clock?: Clock;
  /** replaces the configured platform profile (tests) */
  profile?: PlatformProfile;
  /** how often the retained hub status is refreshed */
  statusEveryMs?: number;
  /** re-reads the config file (systemctl reload); without it reload() refuses */
  loadConfig?: () => HubConfig;
}

export interface HubEvents {
  ingest: [string, IngestOutcome];
  /** entries stored (committed with the batch's transaction) */
  stored: [string, readonly JournalEntry[]];
  fault: [ForwarderFault];
  /** a photo was stored (or was already there) and acknowledged */
  photo: [string, string];
}

/**
 * The hub daemon: ingest punches from the gates, store them, acknowledge, and forward platform
 * rows at the pace the platform allows; keep the worker registry and sign its roster for the
 * gates; keep the photos the gates send. The one place that wires the hub's parts.
 */
export class Hub extends EventEmitter<HubEvents> {
  private readonly clock: Clock;
  private config: HubConfig;
  private store!: HubStore;
  registry!: RegistryStore;
  queue!: UploadQueue;
  ingest!: Ingest;
  forwarder!: Forwarder;
  rows!: HubRows;
  photos!: HubPhotos;
  roster!: RosterPublisher;
  /** shares confirmed passages with every gate (anti-passback) */
  presence!: HubPresence;
  /** enrolment answers from the gates (capture-face) */
  enrol!: HubEnrol;
  private client: MqttClient | null = null;
  private gates = new Map<string, PinnedGate>();
  private statusTimer: TimerHandle | null = null;
  private tickTimer: TimerHandle | null = null;
  private faults: ForwarderFault[] = [];
  private pacer!: Pacer;
  private profile!: PlatformProfile;
  private token: SecurityToken | null = null;
  private discovery: HaDiscovery | null = null;
  private commands!: HubCommands;
  private rosterKey!: KeyObject;
  private rosterBusy: Promise<void> | null = null;
  private savedRosterVersion: string | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private startedMono = 0;
  private stopped = false;
  private readonly gateOnline = new Map<string, boolean>();
  private readonly gateLanes = new Map<string, string[]>();
  private readonly lastSeenMs = new Map<string, number>();
  readonly counters = {
    ackPublished: 0, badGateStatus: 0, commandAcks: 0, photoAcks: 0, photosFromUnknownGates: 0, rosterPolls: 0, reloads: 0, reloadsRefused: 0,
  };

  constructor(private readonly opts: HubOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.config = opts.config;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const config = this.config;
    this.startedMono = this.clock.monotonic();
    mkdirSync(config.stateDir, { recursive: true });
    this.gates = loadPinnedGates(config);
    this.store = new HubStore(join(config.stateDir, 'hub.db'));
    this.queue = new UploadQueue(this.store.db, this.clock);
    this.queue.migrate();
    this.openRegistry();
    this.photos = new HubPhotos({ dir: join(config.stateDir, 'photos'), maxBytes: () => this.config.photos.maxBytes, log });
    this.photos.start();

    this.rows = new HubRows({
      db: this.store.db,
      findPunch: (gateId, punchId) => this.store.punchEntry(gateId, punchId) as PunchEntry | null,
      findWorker: (workerId) => this.registry.registryWorker(workerId),
      policy: () => ({ rowsFrom: this.config.platform.rowsFrom, attendTypes: this.config.platform.attendTypes, location: this.config.platform.location }),
      enqueue: (row) => this.queue.enqueue(row),
      hasPhoto: (hash) => this.photos.has(hash),
      photoImage: (hash) => this.photos.platformImage(hash),
      photoWaitMs: () => this.config.photos.waitMs,
      clock: this.clock,
      log,
    });

    this.ingest = new Ingest({
      siteId: config.siteId,
      store: this.store,
      gates: () => this.gates,
      verify: verifyHeadSignature,
      now: () => this.clock.now(),
      log,
      onStored: (gateId, entries, quarantined) => this.rows.onStored(gateId, entries, quarantined),
    });

    this.presence = new HubPresence({
      siteId: config.siteId,
      findPunch: (gateId, punchId) => this.store.punchEntry(gateId, punchId) as PunchEntry | null,
      realTimeMs: (gateId, time) => this.store.realTimeMs(gateId, time),
      publish: (topic, payload) => void this.client?.publish(topic, payload, { qos: 1 }),
      log: log.child({ part: 'presence' }),
    });

    if (config.platform.securityTokenFile) {
      this.token = new SecurityToken({
        file: config.platform.securityTokenFile,
        historyFile: join(config.stateDir, 'security-token-history.jsonl'),
        clock: this.clock,
        log,
      });
      if (PROFILES[config.platform.profile]?.needsSecurityToken) this.token.current(); // fails at start, not at the first upload
    }
    const token = this.token;
    this.profile =
      this.opts.profile ??
      createProfile(
        config.platform.profile,
        {
          baseUrl: config.platform.baseUrl,
          appId: config.platform.appId,
          appSecret: readSecretFile(config.platform.appSecretFile, 'platform app secret'),
          timeoutMs: config.platform.timeoutMs,
          clock: this.clock,
          ...(token ? { securityToken: () => token.current() } : {}),
        },
        config.platform.profileOptions,
      );
    this.buildForwarder(config);

    const hub = this;
    this.commands = new HubCommands(
      {
        get forwarder() {
          return hub.forwarder;
        },
        reloadToken: () => {
          const fingerprint = this.token?.fingerprint() ?? null;
          // a halt for an unreadable token is lifted once the token reads again
          if (fingerprint !== null && this.pacer.halted?.startsWith('credentials_unavailable')) this.forwarder.resume();
          return fingerprint;
        },
        publishStatus: () => {
          this.publishStatusNow();
          this.discovery?.publishAll();
        },
      },
      this.clock,
      log,
    );

    const keyFile = config.rosterSigning.keyFile ?? join(config.stateDir, 'roster-key.pem');
    const { key, created } = readOrCreateRosterKey(keyFile);
    this.rosterKey = key;
    log[created ? 'warn' : 'info'](
      { keyFile, fingerprint: rosterKeyFingerprint(key), rosterPublicKey: rosterPublicKeyText(key) },
      created ? 'created the roster signing key: pin its public key (rosterPublicKey) in every gate' : 'roster signing key',
    );

    // before the link: a persistent session may deliver answers queued while the hub was away
    this.enrol = new HubEnrol({
      registry: () => this.registry,
      stateDir: () => this.config.stateDir,
      clock: this.clock,
      log: log.child({ part: 'enrol' }),
      publish: (r) => this.client?.publish(topics.hubEnrol(this.config.siteId), JSON.stringify(r), { qos: 1 }),
    });
    const statusTopic = topics.hubStatus(config.siteId);
    this.client = await connectMqtt({
      url: config.mqtt.url,
      username: config.mqtt.username ?? 'hub',
      password: readSecretFile(config.mqtt.passwordFile, 'MQTT password'),
      clientId: `sitegate-hub-${config.siteId}`,
      clean: false,
      sessionExpirySec: 7 * 24 * 3600,
      reconnectPeriodMs: config.mqtt.reconnectMinMs,
      will: { topic: statusTopic, payload: JSON.stringify({ online: false }), qos: 1, retain: true },
      onMessage: (topic, payload) => this.onMessage(topic, payload),
      log,
    });
    const client = this.client;
    if (config.homeAssistant.enabled) this.discovery = this.buildDiscovery(config, client);
    const stored = this.store.meta('rosterPublishedVersion');
    this.roster = new RosterPublisher({
      source: new RegistryRosterSource(this.registry, config.siteId),
      link: client,
      siteId: config.siteId,
      key: this.rosterKey,
      clock: this.clock,
      log: log.child({ part: 'roster' }),
      ...(stored !== null ? { publishedVersion: Number(stored) } : {}),
    });
    await this.client.subscribeAsync(topics.allGatePunches(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.allGatePhotos(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.hubCmd(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.allGateStatus(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.allGateEnrols(config.siteId), { qos: 1 });
    if (this.discovery) await this.client.subscribeAsync(this.discovery.birthTopic, { qos: 1 });
    await this.roster.start();
    this.forwarder.start();
    this.publishStatus();
    this.discovery?.publishAll();
    this.tick();
    log.info({ siteId: config.siteId, gates: this.gates.size, workers: this.registry.count(), registryVersion: this.registry.version() }, 'hub started');
  }

  /** Opens the registry database, imports the configured workers file once, and makes the stored rules the configured ones. */
  private openRegistry(): void {
    this.registry = new RegistryStore(registryPath(this.config.stateDir), this.clock);
    this.importWorkersFile(this.config.registry.workersFile);
    this.registry.syncRules(this.config.rules);
  }

  private importWorkersFile(file: string | undefined): void {
    if (!file) return;
    const r = importWorkersFileOnce(this.registry, file, this.clock);
    if (!r.imported) return;
    const log = this.opts.log;
    log.info({ file, format: r.format, added: r.added, updated: r.updated, unchanged: r.unchanged, rejected: r.rejected.length, version: r.version }, 'workers file imported into the registry');
    for (const e of r.rejected.slice(0, 50)) log.warn({ file, row: e.row, field: e.field, error: e.message }, 'workers file row not imported');
  }

  private buildForwarder(config: HubConfig): void {
    const { log } = this.opts;
    const pacing = config.platform.pacing;
    this.pacer = new Pacer({
      clock: this.clock,
      minSpacingMs: pacing.minSpacingMs,
      ...(pacing.window ? { window: pacing.window } : {}),
      bucket: {
        capacity: pacing.bucketCapacity,
        refillPerMs: pacing.window ? pacing.window.requests / Math.max(1, pacing.window.windowMs) : 1 / Math.max(1, pacing.minSpacingMs),
      },
      dailyBudget: pacing.dailyBudget,
      ledger: new SqliteRequestLedger(this.store.db),
      replyLog: new SqliteReplyLog(this.store.db),
      backoff: { baseMs: pacing.backoffBaseMs, maxMs: Math.max(pacing.backoffBaseMs, pacing.backoffMaxMs) },
    });
    this.forwarder = new Forwarder({
      queue: this.queue,
      profile: this.profile,
      pacer: this.pacer,
      clock: this.clock,
      log,
      mode: config.platform.mode,
      pollDelayMs: pacing.pollDelayMs,
      maxRowsPerRequest: pacing.rowsPerRequest,
      onFault: (f) => {
        this.faults.push(f);
        if (this.faults.length > 20) this.faults.shift();
        log.error({ kind: f.kind, code: f.code }, `platform fault: ${f.message}`);
        this.emit('fault', f);
      },
    });
  }

  private buildDiscovery(config: HubConfig, client: MqttClient): HaDiscovery {
    const discovery = new HaDiscovery({
      siteId: config.siteId,
      prefix: config.homeAssistant.discoveryPrefix,
      gates: config.gates.map((g) => ({ gateId: g.gateId, lanes: g.lanes })),
      publisher: { publish: (topic, payload, opts) => void client.publish(topic, payload, opts) },
    });
    for (const [gateId, lanes] of this.gateLanes) discovery.onGateLanes(gateId, lanes);
    return discovery;
  }

  /** Housekeeping on the hub's clock: registry changes made by the CLI reach the gates; rows stop waiting for photos that did not come. */
  private tick(): void {
    if (this.stopped) return;
    try {
      this.counters.rosterPolls++;
      if (!this.rosterBusy && this.registry.version() > this.roster.publishedVersion) {
        this.rosterBusy = this.publishRoster().finally(() => (this.rosterBusy = null));
      }
      this.saveRosterVersion(); // snapshots asked for by gates move it too
      if (this.rows.sweep() > 0) this.forwarder.notify();
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'hub housekeeping failed; trying again at the next tick');
    }
    this.tickTimer = this.clock.setTimeout(() => this.tick(), this.config.registry.pollMs);
  }

  /** Publishes what changed in the registry and remembers how far the gates were told. */
  async publishRoster(): Promise<void> {
    await this.roster.publishChanges();
    this.saveRosterVersion();
  }

  /** After a restart the publisher sends a delta from here: changes made while the hub was down are not skipped. */
  private saveRosterVersion(): void {
    const v = String(this.roster.publishedVersion);
    if (v === this.savedRosterVersion || !this.store.db.open) return;
    this.store.setMeta('rosterPublishedVersion', v);
    this.savedRosterVersion = v;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const siteId = this.config.siteId;
    if (topic === topics.hubCmd(siteId)) {
      void this.onCommand(payload);
      return;
    }
    if (this.discovery && topic === this.discovery.birthTopic) {
      this.discovery.onHaStatus(payload);
      return;
    }
    const gateId = gateIdFromTopic(siteId, topic);
    if (gateId !== null && this.gates.has(gateId)) this.lastSeenMs.set(gateId, this.clock.now());
    if (this.roster?.handleMessage(topic, payload)) return;
    if (gateId !== null && topic === topics.gateStatus(siteId, gateId)) {
      this.onGateStatus(gateId, payload);
      return;
    }
    if (gateId !== null && topic === topics.gateEnrol(siteId, gateId)) {
      if (this.gates.has(gateId)) this.enrol.handle(gateId, payload);
      else this.opts.log.warn({ gateId }, 'enrolment answer from a gate not commissioned here; ignored');
      return;
    }
    if (gateId !== null && topic === topics.gatePhoto(siteId, gateId)) {
      void this.onPhoto(gateId, payload);
      return;
    }
    let outcome: IngestOutcome;
    try {
      outcome = this.ingest.handle(topic, payload);
    } catch (err) {
      // a database error: nothing was acknowledged, so the gate sends the batch again
      this.opts.log.error({ err: errorMessage(err), topic }, 'ingest failed; the gate will resend');
      return;
    }
    this.emit('ingest', topic, outcome);
    const ack = outcome.ack;
    if (ack && this.client) {
      this.client.publish(topics.gateAck(siteId, ack.gateId), JSON.stringify(ack), { qos: 1 });
      this.counters.ackPublished++;
    }
    if (outcome.kind === 'stored' && outcome.newEntries > 0) {
      this.emit('stored', outcome.ack.gateId, outcome.stored);
      this.presence.onStored(outcome.ack.gateId, outcome.stored);
      this.forwarder.notify();
    }
  }

  private async onPhoto(gateId: string, payload: Buffer): Promise<void> {
    if (!this.gates.has(gateId)) {
      this.counters.photosFromUnknownGates++;
      this.opts.log.warn({ gateId }, 'photo from a gate not commissioned here; ignored');
      return;
    }
    const outcome = await this.photos.receive(payload);
    if (outcome.kind === 'rejected') {
      this.opts.log.warn({ gateId, reason: outcome.reason, detail: outcome.detail }, 'photo refused');
      return;
    }
    // stored and synced: the gate may now evict its copy
    this.client?.publish(topics.gatePhotoAck(this.config.siteId, gateId), JSON.stringify({ photos: [outcome.hash] }), { qos: 1 });
    this.counters.photoAcks++;
    try {
      if (this.rows.onPhoto(outcome.hash) > 0) this.forwarder.notify();
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'rows waiting for a photo not released; they go at the next sweep');
    }
    this.emit('photo', gateId, outcome.hash);
  }

  private async onCommand(payload: Buffer): Promise<void> {
    const ack = await this.commands.handle(payload);
    this.client?.publish(topics.hubCmdAck(this.config.siteId), JSON.stringify(ack), { qos: 1 });
    this.counters.commandAcks++;
  }

  private onGateStatus(gateId: string, payload: Buffer): void {
    if (!this.gates.has(gateId)) return;
    if (payload.length === 0) return; // a retained status being cleared
    const parsed = parsePayload(gateStatusSchema, payload);
    if (!parsed.ok) {
      this.counters.badGateStatus++;
      this.opts.log.warn({ gateId, error: parsed.error }, 'malformed gate status');
      return;
    }
    this.gateOnline.set(gateId, parsed.value.online);
    if (parsed.value.lanes) {
      const lanes = Object.keys(parsed.value.lanes);
      this.gateLanes.set(gateId, lanes);
      this.discovery?.onGateLanes(gateId, lanes);
    }
  }

  status(): HubStatus {
    const now = this.clock.now();
    const counts = this.queue.counts();
    const fwd = this.forwarder.counters;
    const pacer = this.pacer.stats;
    const gates = [...this.gates.values()].map((g) => ({
      gateId: g.gateId,
      online: this.gateOnline.get(g.gateId) ?? null,
      certNotAfterMs: g.notAfterMs,
      certDaysLeft: Math.floor((g.notAfterMs - now) / 86_400_000),
    }));
    const history = this.token?.history().at(-1);
    const asError = (e: { kind: string; code?: number; message: string; atMs: number }) => ({
      kind: e.kind, code: e.code ?? null, message: e.message, atMs: e.atMs,
    });
    const epochFaults = [...this.ingest.epochMismatches].map(([gateId, m]) => ({
      kind: 'unexpected_epoch',
      code: null,
      message: `gate ${gateId} sent ${m.batches} batch(es) of chain epoch ${m.epoch}; it is commissioned for epoch ${m.commissioned}: re-commission it (gates[].epoch: ${m.epoch}, then reload) to accept the new chain`,
      atMs: m.lastMs,
    }));
    const held = this.rows.held();
    return {
      online: true,
      atMs: now,
      mode: this.config.platform.mode,
      profile: this.opts.profile?.name ?? this.config.platform.profile,
      faulted: pacer.haltedReason !== null,
      queue: { pending: counts.pending, inFlight: counts.inFlight, delivered: counts.delivered, rejected: counts.rejected },
      oldestWaitingMs: counts.oldestPendingMs,
      lastUploadMs: fwd.lastUploadMs,
      lastPlatformError: fwd.lastError ? asError(fwd.lastError) : null,
      faults: [...epochFaults, ...this.faults.slice(-5).map(asError)],
      pacer: { requestsToday: pacer.today.requests, dailyBudget: pacer.today.budget, haltedReason: pacer.haltedReason, nextAllowedMs: pacer.nextAllowedMs },
      rejected: this.queue.rejectedRows(10).map((r) => ({
        rowId: r.rowId, workerId: r.workerId, teamSysNo: r.teamSysNo, reason: r.reason, idNumberMasked: r.idNumberMasked,
      })),
      gates,
      certExpiryMs: gates.length ? Math.min(...gates.map((g) => g.certNotAfterMs)) : null,
      securityToken: this.token ? { fingerprint: this.token.fingerprint(), installedMs: history?.installedMs ?? null } : null,
      ingest: {
        ...this.ingest.counters,
        unknownWorkerRows: this.rows.counters.unknownWorker,
        rowsWaitingForClock: held.clock,
        rowsWaitingForPhoto: held.photo,
        rowsClockCorrected: this.rows.counters.clockCorrected,
        photosStored: this.photos.counters.stored,
        photosRefused: this.photos.counters.malformed + this.photos.counters.hash_mismatch + this.photos.counters.not_jpeg + this.photos.counters.too_large,
        rosterVersion: this.roster?.publishedVersion ?? -1,
      },
    };
  }

  /** Publishes the retained status now (the timer keeps doing so every statusEveryMs). */
  publishStatusNow(): void {
    if (!this.client) return;
    this.client.publish(topics.hubStatus(this.config.siteId), JSON.stringify(this.status()), { qos: 1, retain: true });
  }

  private publishStatus(): void {
    this.publishStatusNow();
    this.statusTimer = this.clock.setTimeout(() => this.publishStatus(), this.opts.statusEveryMs ?? 5000);
  }

  // --- DaemonHandle: systemd's watchdog and reload, the control socket ---

  /** The watchdog's question: does the hub's database still answer? Platform and broker faults only degrade. */
  healthy(): HealthResult {
    if (!this.store) return { ok: true };
    return sqliteHealth('the hub database', this.store.db)();
  }

  statusLine(): string {
    if (!this.store?.db.open || !this.queue) return `hub ${this.config.siteId} starting`;
    const c = this.queue.counts();
    const online = [...this.gateOnline.values()].filter(Boolean).length;
    const halted = this.pacer.halted;
    return [
      `hub ${this.config.siteId}`,
      `${online}/${this.gates.size} gates online`,
      `${c.pending + c.inFlight} rows waiting`,
      `roster v${this.roster?.publishedVersion ?? '?'}`,
      this.config.platform.mode,
      ...(halted ? [`platform halted: ${halted}`] : []),
      ...(this.ingest.epochMismatches.size ? [`${this.ingest.epochMismatches.size} gate(s) on an unexpected epoch`] : []),
    ].join(', ');
  }

  /** `sitegate status` on the hub's control socket. */
  controlStatus(): HubStatusView {
    return hubStatusView({
      siteId: this.config.siteId,
      uptimeS: (this.clock.monotonic() - this.startedMono) / 1000,
      health: this.healthy(),
      brokerConnected: this.client?.connected ?? false,
      status: this.status(),
      lastSeenMs: this.lastSeenMs,
      rowsHeld: this.rows.held(),
    });
  }

  control(): ControlHandlers {
    return hubHandlers({ status: () => this.controlStatus() });
  }

  /**
   * Re-reads the config (SIGHUP): commissioned gates and their pins and epochs, the rules, the
   * workers file, photos, and the platform's pacing, mode and row policy. Nothing is dropped: the
   * forwarder, when its settings changed, finishes its request in flight and a new one resumes
   * from the queue no sooner than the old pacing allows. A config that fails to load, names an
   * unreadable certificate or changes a restart-only key is refused whole (the old one stays).
   */
  reload(): Promise<void> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<void> {
    const { log } = this.opts;
    if (!this.opts.loadConfig) throw new SitegateError('reload_unavailable', 'this hub was started without a config file to re-read');
    let next: HubConfig;
    let gates: Map<string, PinnedGate>;
    try {
      next = this.opts.loadConfig();
      checkReloadable(this.config, next);
      gates = loadPinnedGates(next);
      // each is one transaction of its own; a failure leaves the registry and the running config as they were
      this.importWorkersFile(next.registry.workersFile);
      this.registry.syncRules(next.rules);
    } catch (err) {
      this.counters.reloadsRefused++;
      throw err;
    }
    const before = this.config;
    this.config = next;
    this.gates = gates;
    this.ingest.settleEpochMismatches();
    for (const g of next.gates) {
      const old = before.gates.find((o) => o.gateId === g.gateId);
      if (old && old.epoch !== g.epoch) log.warn({ gateId: g.gateId, from: old.epoch, to: g.epoch }, 'gate re-commissioned: a new chain epoch is accepted');
    }
    if (this.client && next.homeAssistant.enabled) {
      this.discovery = this.buildDiscovery(next, this.client);
      this.discovery.publishAll();
    }
    if (forwarderChanged(before, next)) await this.replaceForwarder(next);
    this.counters.reloads++;
    this.publishStatusNow();
    log.info({ gates: this.gates.size, mode: next.platform.mode }, 'hub config reloaded');
  }

  /** A new pacer and forwarder for new settings; the old one's request in flight finishes first. */
  private async replaceForwarder(next: HubConfig): Promise<void> {
    const old = { forwarder: this.forwarder, pacer: this.pacer };
    await old.forwarder.stop();
    const halted = old.pacer.halted;
    const nextAllowed = old.pacer.stats.nextAllowedMs;
    this.buildForwarder(next);
    if (halted) this.pacer.halt(halted);
    // the new pacer knows the window's replies (reply log) but not the old one's spacing and back-off: it starts no sooner than the old one would have
    const wait = nextAllowed === null ? 0 : nextAllowed - this.clock.now();
    if (wait > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
    if (!this.stopped) this.forwarder.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.statusTimer) this.clock.clearTimeout(this.statusTimer);
    if (this.tickTimer) this.clock.clearTimeout(this.tickTimer);
    this.statusTimer = null;
    this.tickTimer = null;
    await this.reloading;
    await this.forwarder?.stop();
    // a roster message waiting for an absent broker must not hold the stop
    const rosterStopped = Promise.all([this.roster?.stop(), this.rosterBusy]).catch(() => undefined);
    let bound: TimerHandle | null = null;
    await Promise.race([rosterStopped, new Promise<void>((resolve) => (bound = this.clock.setTimeout(resolve, 3000)))]);
    if (bound) this.clock.clearTimeout(bound);
    if (this.client) {
      // with the broker away a QoS 1 publish would wait for a reconnect forever: the will says offline then
      if (this.client.connected) {
        await this.client
          .publishAsync(topics.hubStatus(this.config.siteId), JSON.stringify({ online: false }), { qos: 1, retain: true })
          .catch(() => undefined);
      }
      await this.client.endAsync(!this.client.connected).catch(() => undefined);
      this.client = null;
    }
    this.store?.close();
    this.registry?.close();
  }
}

function loadPinnedGates(config: HubConfig): Map<string, PinnedGate> {
  const gates = new Map<string, PinnedGate>();
  for (const g of config.gates) {
    let der: Buffer;
    try {
      const text = readFileSync(g.certFile);
      der = text.subarray(0, 10).toString().startsWith('-----') ? pemToDer(text.toString()) : text;
    } catch (err) {
      throw new SitegateError('gate_cert_unreadable', `gate ${g.gateId}: cannot read certificate ${g.certFile}: ${errorMessage(err)}`);
    }
    gates.set(g.gateId, pinGate(g.gateId, g.epoch, der));
  }
  return gates;
}
