import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { pemToDer } from '../core/cert.js';
import type { JournalEntry, PunchEntry } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { RegistryWorker } from '../core/worker.js';
import { readSecretFile } from '../config/load.js';
import type { HubConfig } from '../config/hub-config.js';
import { connectMqtt } from '../mqtt/client.js';
import { parsePayload } from '../mqtt/schemas.js';
import { gateStatusSchema, type HubStatus } from '../mqtt/status.js';
import { gateIdFromTopic, topics } from '../mqtt/topics.js';
import type { PlatformProfile } from '../municipal/profile.js';
import { createProfile, PROFILES } from '../municipal/profiles.js';
import { SqliteRequestLedger } from './budget.js';
import { Forwarder, type ForwarderFault } from './forwarder.js';
import { HaDiscovery } from './ha-discovery.js';
import { HubCommands } from './hub-commands.js';
import { Ingest, pinGate, type IngestOutcome, type PinnedGate } from './ingest.js';
import { Pacer } from './pacer.js';
import { platformRowFor } from './platform-rows.js';
import { readRegistryFile } from './registry-file.js';
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
}

export interface HubEvents {
  ingest: [string, IngestOutcome];
  /** entries stored (committed with the batch's transaction) */
  stored: [string, readonly JournalEntry[]];
  fault: [ForwarderFault];
}

/**
 * The hub daemon: ingest punches from the gates, store them, acknowledge, and forward platform
 * rows at the pace the platform allows. The one place that wires the hub's parts.
 */
export class Hub extends EventEmitter<HubEvents> {
  private readonly clock: Clock;
  private store!: HubStore;
  queue!: UploadQueue;
  ingest!: Ingest;
  forwarder!: Forwarder;
  private client: MqttClient | null = null;
  private gates = new Map<string, PinnedGate>();
  private registry = new Map<string, RegistryWorker>();
  private statusTimer: TimerHandle | null = null;
  private faults: ForwarderFault[] = [];
  private pacer!: Pacer;
  private token: SecurityToken | null = null;
  private discovery: HaDiscovery | null = null;
  private commands!: HubCommands;
  private readonly gateOnline = new Map<string, boolean>();
  readonly counters = { unknownWorkerRows: 0, ackPublished: 0, badGateStatus: 0, commandAcks: 0 };

  constructor(private readonly opts: HubOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    mkdirSync(config.stateDir, { recursive: true });
    this.gates = loadPinnedGates(config);
    this.registry = readRegistryFile(config.registry.workersFile);
    this.store = new HubStore(join(config.stateDir, 'hub.db'));
    this.queue = new UploadQueue(this.store.db, this.clock);
    this.queue.migrate();

    this.ingest = new Ingest({
      siteId: config.siteId,
      store: this.store,
      gates: () => this.gates,
      verify: verifyHeadSignature,
      now: () => this.clock.now(),
      log,
      onStored: (gateId, entries, quarantined) => this.queueRows(gateId, entries, quarantined),
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
    const profile =
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
    const pacing = config.platform.pacing;
    this.pacer = new Pacer({
      clock: this.clock,
      minSpacingMs: pacing.minSpacingMs,
      bucket: { capacity: pacing.bucketCapacity, refillPerMs: 1 / Math.max(1, pacing.minSpacingMs) },
      dailyBudget: pacing.dailyBudget,
      ledger: new SqliteRequestLedger(this.store.db),
      backoff: { baseMs: pacing.backoffBaseMs, maxMs: Math.max(pacing.backoffBaseMs, pacing.backoffMaxMs) },
    });
    this.forwarder = new Forwarder({
      queue: this.queue,
      profile,
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

    this.commands = new HubCommands(
      {
        forwarder: this.forwarder,
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
    if (config.homeAssistant.enabled) {
      this.discovery = new HaDiscovery({
        siteId: config.siteId,
        prefix: config.homeAssistant.discoveryPrefix,
        gates: config.gates.map((g) => ({ gateId: g.gateId, lanes: g.lanes })),
        publisher: { publish: (topic, payload, opts) => void client.publish(topic, payload, opts) },
      });
    }
    await this.client.subscribeAsync(topics.allGatePunches(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.hubCmd(config.siteId), { qos: 1 });
    await this.client.subscribeAsync(topics.allGateStatus(config.siteId), { qos: 1 });
    if (this.discovery) await this.client.subscribeAsync(this.discovery.birthTopic, { qos: 1 });
    this.forwarder.start();
    this.publishStatus();
    this.discovery?.publishAll();
    log.info({ siteId: config.siteId, gates: this.gates.size, workers: this.registry.size }, 'hub started');
  }

  private onMessage(topic: string, payload: Buffer): void {
    const siteId = this.opts.config.siteId;
    if (topic === topics.hubCmd(siteId)) {
      void this.onCommand(payload);
      return;
    }
    if (this.discovery && topic === this.discovery.birthTopic) {
      this.discovery.onHaStatus(payload);
      return;
    }
    if (topic.endsWith('/status') && gateIdFromTopic(siteId, topic) !== null) {
      this.onGateStatus(gateIdFromTopic(siteId, topic)!, payload);
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
      this.client.publish(topics.gateAck(this.opts.config.siteId, ack.gateId), JSON.stringify(ack), { qos: 1 });
      this.counters.ackPublished++;
    }
    if (outcome.kind === 'stored' && outcome.newEntries > 0) {
      this.emit('stored', outcome.ack.gateId, outcome.stored);
      this.forwarder.notify();
    }
  }

  private async onCommand(payload: Buffer): Promise<void> {
    const ack = await this.commands.handle(payload);
    this.client?.publish(topics.hubCmdAck(this.opts.config.siteId), JSON.stringify(ack), { qos: 1 });
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
    if (parsed.value.lanes) this.discovery?.onGateLanes(gateId, Object.keys(parsed.value.lanes));
  }

  private queueRows(gateId: string, entries: readonly JournalEntry[], quarantined: boolean): void {
    if (quarantined) return; // kept for the operator; rows are made once the certificate question is settled
    const policy = this.opts.config.platform;
    for (const e of entries) {
      if (e.type !== 'passage') continue;
      const d = platformRowFor(
        e,
        (punchId) => this.store.punchEntry(gateId, punchId) as PunchEntry | null,
        (workerId) => this.registry.get(workerId),
        { rowsFrom: policy.rowsFrom, attendTypes: policy.attendTypes, location: policy.location },
      );
      if (d.kind === 'row') this.queue.enqueue(d.row);
      else if (d.kind === 'unknown_worker') {
        this.counters.unknownWorkerRows++;
        this.opts.log.warn({ gateId, punchId: d.punchId }, 'granted punch of a worker the registry does not know');
      }
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
    return {
      online: true,
      atMs: now,
      mode: this.opts.config.platform.mode,
      profile: this.opts.profile?.name ?? this.opts.config.platform.profile,
      faulted: pacer.haltedReason !== null,
      queue: { pending: counts.pending, inFlight: counts.inFlight, delivered: counts.delivered, rejected: counts.rejected },
      oldestWaitingMs: counts.oldestPendingMs,
      lastUploadMs: fwd.lastUploadMs,
      lastPlatformError: fwd.lastError ? asError(fwd.lastError) : null,
      faults: this.faults.slice(-5).map(asError),
      pacer: { requestsToday: pacer.today.requests, dailyBudget: pacer.today.budget, haltedReason: pacer.haltedReason, nextAllowedMs: pacer.nextAllowedMs },
      rejected: this.queue.rejectedRows(10).map((r) => ({
        rowId: r.rowId, workerId: r.workerId, teamSysNo: r.teamSysNo, reason: r.reason, idNumberMasked: r.idNumberMasked,
      })),
      gates,
      certExpiryMs: gates.length ? Math.min(...gates.map((g) => g.certNotAfterMs)) : null,
      securityToken: this.token ? { fingerprint: this.token.fingerprint(), installedMs: history?.installedMs ?? null } : null,
      ingest: { ...this.ingest.counters },
    };
  }

  /** Publishes the retained status now (the timer keeps doing so every statusEveryMs). */
  publishStatusNow(): void {
    if (!this.client) return;
    this.client.publish(topics.hubStatus(this.opts.config.siteId), JSON.stringify(this.status()), { qos: 1, retain: true });
  }

  private publishStatus(): void {
    this.publishStatusNow();
    this.statusTimer = this.clock.setTimeout(() => this.publishStatus(), this.opts.statusEveryMs ?? 5000);
  }

  async stop(): Promise<void> {
    if (this.statusTimer) this.clock.clearTimeout(this.statusTimer);
    this.statusTimer = null;
    await this.forwarder?.stop();
    if (this.client) {
      await this.client
        .publishAsync(topics.hubStatus(this.opts.config.siteId), JSON.stringify({ online: false }), { qos: 1, retain: true })
        .catch(() => undefined);
      await this.client.endAsync().catch(() => undefined);
      this.client = null;
    }
    this.store?.close();
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
