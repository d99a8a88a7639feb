import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { canonicalBytes, sha256Hex } from '../../core/canonical.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import {
  ROSTER_LIMITS,
  rosterChunkSchema,
  rosterDeltaSchema,
  rosterHeadSchema,
  snapshotDigest,
  verifyRosterSignature,
  type RosterChunk,
  type RosterDelta,
  type RosterHead,
  type RosterRequest,
  type RosterWorkerLike,
} from '../../core/roster-message.js';
import { rosterTopics, snapshotVersionOfTopic } from '../../mqtt/roster-topics.js';
import type { RosterStore } from './roster-store.js';

/** The part of an MQTT client roster sync uses. */
export interface RosterSyncLink {
  subscribeAsync(topic: string[], opts: { qos: 0 | 1 }): Promise<unknown>;
  publish(topic: string, payload: string, opts: { qos: 1 }, callback?: (err?: Error) => void): unknown;
}

export interface RosterSyncOptions {
  store: RosterStore;
  link: RosterSyncLink;
  siteId: string;
  gateId: string;
  /** the hub's roster key, pinned in the gate's config */
  hubKey: KeyObject;
  clock: Clock;
  log: Logger;
  /** first wait before an unanswered snapshot request is repeated; doubles up to retryMaxMs. Default 5000. */
  retryMinMs?: number;
  /** Default 120,000. */
  retryMaxMs?: number;
  /** how long a head newer than the roster waits for the deltas before a snapshot is asked for. Default 5000. */
  headGraceMs?: number;
  /** an unfinished snapshot is dropped after this long without a new chunk. Default 60,000. */
  chunkTimeoutMs?: number;
  /** workers written per staging transaction while a snapshot is applied. Default 2000. */
  stageBatch?: number;
}

export type RosterRejectReason =
  | 'too_large'
  | 'not_json'
  | 'bad_schema'
  | 'bad_signature'
  | 'workers_hash'
  | 'wrong_site'
  | 'bad_digest'
  | 'inconsistent'
  | 'apply_failed';

export interface RosterApplied {
  kind: 'delta' | 'snapshot';
  version: number;
  /** workerIds upserted by a delta (a snapshot replaces everyone) */
  upserts: string[];
  removes: string[];
  rulesChanged: boolean;
}

export interface RosterSyncEvents {
  applied: [RosterApplied];
  rejected: [{ reason: RosterRejectReason; topic: string; detail: string }];
}

interface Bucket {
  version: number;
  digest: string;
  count: number;
  header: { siteKey: string; rules: RosterChunk['rules'] };
  chunks: ({ workers: RosterWorkerLike[]; workersSha256: string } | undefined)[];
  received: number;
}

const DEFAULTS = { retryMinMs: 5000, retryMaxMs: 120_000, headGraceMs: 5000, chunkTimeoutMs: 60_000, stageBatch: 2000 } as const;

type Kind = 'delta' | 'head' | 'chunk';

/**
 * Keeps the gate's roster in step with the hub: verifies every message against the pinned hub
 * key, applies deltas in order (each in one transaction), asks for a snapshot on a gap (backing
 * off while unanswered), and switches in a complete, verified snapshot in one transaction. While
 * the hub is away the last good roster stays in use.
 */
export class RosterSync extends EventEmitter<RosterSyncEvents> {
  readonly counters = {
    deltasApplied: 0,
    snapshotsApplied: 0,
    chunksReceived: 0,
    requests: 0,
    /** operator resyncs asked for (requestResync) */
    resyncs: 0,
    gaps: 0,
    stale: 0,
    rejected: 0,
    rejectedBy: {} as Partial<Record<RosterRejectReason, number>>,
  };
  private readonly cfg;
  private queue: Promise<void> = Promise.resolve();
  private knownVersion: number | null = null;
  private bucket: Bucket | null = null;
  private requestTimer: TimerHandle | null = null;
  private retryMs: number;
  private headTimer: TimerHandle | null = null;
  private chunkTimer: TimerHandle | null = null;
  private lastAppliedMs: number | null = null;
  private lastChunkMono = 0;
  private stopped = false;
  private started = false;
  /** a request wanted before start() (a persistent session's messages can come first) */
  private askBeforeStart: RosterRequest['reason'] | null = null;
  /**
   * Set by requestResync(): the version the gate held then. Until a snapshot is applied, one of
   * the store's own version is taken too (the store is rebuilt, not just moved forward).
   */
  private resyncFrom: number | null = null;

  constructor(private readonly opts: RosterSyncOptions) {
    super();
    this.cfg = {
      retryMinMs: opts.retryMinMs ?? DEFAULTS.retryMinMs,
      retryMaxMs: opts.retryMaxMs ?? DEFAULTS.retryMaxMs,
      headGraceMs: opts.headGraceMs ?? DEFAULTS.headGraceMs,
      chunkTimeoutMs: opts.chunkTimeoutMs ?? DEFAULTS.chunkTimeoutMs,
      stageBatch: opts.stageBatch ?? DEFAULTS.stageBatch,
    };
    this.retryMs = this.cfg.retryMinMs;
  }

  /** Subscribes to the roster topics; a gate without a roster asks for a snapshot at once. */
  async start(): Promise<void> {
    this.started = true;
    const { siteId } = this.opts;
    await this.opts.link.subscribeAsync([rosterTopics.delta(siteId), rosterTopics.head(siteId)], { qos: 1 });
    // QoS 0: the broker queues no snapshot for a gate that is away (hundreds of MB each); a
    // chunk lost on the way is asked for again, and the hub's next snapshot fills the gap
    await this.opts.link.subscribeAsync([rosterTopics.allSnapshots(siteId)], { qos: 0 });
    if (this.stopped) return;
    if (this.opts.store.version() === null) this.askForSnapshot('fresh');
    else if (this.askBeforeStart) this.askForSnapshot(this.askBeforeStart);
    this.askBeforeStart = null;
  }

  /**
   * Takes a message from the client's message handler; true when the topic was a roster topic
   * (handled or refused), false to let the caller route it elsewhere.
   */
  handleMessage(topic: string, payload: Buffer): boolean {
    const kind = this.kindOf(topic);
    if (!kind) return false;
    if (this.stopped) return true;
    if (kind === 'chunk') {
      // a snapshot this gate already has: skip it before parsing megabytes
      if (!this.takesSnapshot(snapshotVersionOfTopic(this.opts.siteId, topic)!)) {
        this.counters.stale++;
        return true;
      }
    }
    this.queue = this.queue.then(() => this.process(kind, topic, payload)).catch((err) => {
      this.opts.log.error({ err: errorMessage(err), topic }, 'roster message handling failed');
    });
    return true;
  }

  /**
   * An operator's resync: asks the hub for a snapshot now and marks the next snapshot to be
   * applied even when its version equals the gate's, once, so a damaged or hand-edited store is
   * rebuilt from the hub's copy. An older snapshot is still refused. Asked again with back-off
   * until that snapshot is applied. Returns the version the gate holds.
   */
  requestResync(): { haveVersion: number | null } {
    const have = this.opts.store.version();
    if (this.stopped) return { haveVersion: have };
    this.counters.resyncs++;
    // a gate without a roster takes any snapshot anyway
    this.resyncFrom = have;
    const reason = have === null ? 'fresh' : 'resync';
    if (!this.started) {
      this.askBeforeStart = reason;
      return { haveVersion: have };
    }
    // the operator asks now: a request waiting on its back-off goes at once
    if (this.requestTimer) this.opts.clock.clearTimeout(this.requestTimer);
    this.requestTimer = null;
    this.askForSnapshot(reason);
    return { haveVersion: have };
  }

  /** Resolves once every message handed in so far has been dealt with. */
  idle(): Promise<void> {
    return this.queue;
  }

  status() {
    const b = this.bucket;
    return {
      version: this.opts.store.version(),
      size: this.opts.store.size(),
      knownVersion: this.knownVersion,
      asking: this.requestTimer !== null,
      receiving: b ? { version: b.version, chunks: b.received, of: b.count } : null,
      resyncPending: this.resyncFrom !== null,
      lastAppliedMs: this.lastAppliedMs,
      ...this.counters,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.requestTimer, this.headTimer, this.chunkTimer]) if (t) this.opts.clock.clearTimeout(t);
    this.requestTimer = this.headTimer = this.chunkTimer = null;
    this.bucket = null;
    await this.queue;
  }

  private kindOf(topic: string): Kind | null {
    const { siteId } = this.opts;
    if (topic === rosterTopics.delta(siteId)) return 'delta';
    if (topic === rosterTopics.head(siteId)) return 'head';
    if (snapshotVersionOfTopic(siteId, topic) !== null) return 'chunk';
    return null;
  }

  private async process(kind: Kind, topic: string, payload: Buffer): Promise<void> {
    if (this.stopped) return;
    if (payload.length > ROSTER_LIMITS.maxPayloadBytes) return this.reject('too_large', topic, `${payload.length} bytes`);
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.reject('not_json', topic, 'payload is not JSON');
    }
    const schema = kind === 'delta' ? rosterDeltaSchema : kind === 'head' ? rosterHeadSchema : rosterChunkSchema;
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      return this.reject('bad_schema', topic, `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    }
    const rawObj = raw as Record<string, unknown>;
    if (kind === 'chunk' && sha256Hex(canonicalBytes(rawObj.workers)) !== (parsed.data as RosterChunk).workersSha256) {
      return this.reject('workers_hash', topic, 'the workers do not match the signed hash');
    }
    if (!verifyRosterSignature(rawObj, this.opts.hubKey)) return this.reject('bad_signature', topic, 'signature does not verify against the pinned hub key');
    const msg = parsed.data as RosterDelta | RosterHead | RosterChunk;
    if (msg.siteId !== this.opts.siteId) return this.reject('wrong_site', topic, `signed for site ${msg.siteId}`);
    if (msg.kind === 'roster-snapshot' && snapshotVersionOfTopic(this.opts.siteId, topic) !== msg.version) {
      return this.reject('inconsistent', topic, `chunk of version ${msg.version} on another version's topic`);
    }

    if (msg.kind === 'roster-delta') this.onDelta(msg, topic);
    else if (msg.kind === 'roster-head') this.onHead(msg);
    else await this.onChunk(msg, topic);
  }

  private onDelta(d: RosterDelta, topic: string): void {
    this.hear(d.version);
    const have = this.opts.store.version();
    if (have === null) {
      this.askForSnapshot('fresh');
      return;
    }
    if (d.version <= have) {
      this.counters.stale++;
      return;
    }
    if (d.fromVersion > have) {
      this.counters.gaps++;
      this.opts.log.warn({ have, fromVersion: d.fromVersion, version: d.version }, 'roster gap: asking the hub for a snapshot');
      this.askForSnapshot('gap');
      return;
    }
    try {
      this.opts.store.applyDelta({
        siteId: d.siteId,
        fromVersion: d.fromVersion,
        version: d.version,
        upserts: d.upserts as RosterWorkerLike[],
        removes: d.removes,
        rules: d.rules,
        siteKey: d.siteKey,
      });
    } catch (err) {
      this.reject('apply_failed', topic, errorMessage(err));
      this.askForSnapshot('gap');
      return;
    }
    this.counters.deltasApplied++;
    this.applied({ kind: 'delta', version: d.version, upserts: d.upserts.map((w) => w.workerId), removes: d.removes, rulesChanged: d.rules !== undefined });
  }

  private onHead(h: RosterHead): void {
    this.hear(h.version);
    const have = this.opts.store.version();
    if (have === null) {
      this.askForSnapshot('fresh');
      return;
    }
    if (h.version <= have || this.headTimer || this.requestTimer) return;
    // queued deltas usually follow the head within moments; ask only if they do not
    this.headTimer = this.opts.clock.setTimeout(() => {
      this.headTimer = null;
      if (!this.satisfied()) this.askForSnapshot('behind');
    }, this.cfg.headGraceMs);
  }

  private async onChunk(c: RosterChunk, topic: string): Promise<void> {
    this.hear(c.version);
    if (!this.takesSnapshot(c.version)) {
      this.counters.stale++;
      return;
    }
    let b = this.bucket;
    if (b && (b.version !== c.version || b.digest !== c.digest)) {
      if (b.version > c.version) {
        this.counters.stale++;
        return;
      }
      b = null; // a newer snapshot, or the same version published again in other chunks
    }
    if (!b) {
      b = { version: c.version, digest: c.digest, count: c.count, header: { siteKey: c.siteKey, rules: c.rules }, chunks: new Array(c.count), received: 0 };
      this.bucket = b;
    }
    if (c.count !== b.count) return this.reject('inconsistent', topic, `chunk says ${c.count} chunks, its snapshot ${b.count}`);
    this.counters.chunksReceived++;
    this.lastChunkMono = this.opts.clock.monotonic();
    this.armChunkTimeout();
    if (b.chunks[c.index]) return;
    b.chunks[c.index] = { workers: c.workers as RosterWorkerLike[], workersSha256: c.workersSha256 };
    b.received++;
    if (b.received < b.count) return;

    this.bucket = null;
    if (this.chunkTimer) this.opts.clock.clearTimeout(this.chunkTimer);
    this.chunkTimer = null;
    const digest = snapshotDigest({ siteId: this.opts.siteId, version: b.version, siteKey: b.header.siteKey, rules: b.header.rules, chunks: b.chunks.map((x) => x!.workersSha256) });
    if (digest !== b.digest) {
      this.reject('bad_digest', topic, 'the chunks do not add up to the signed snapshot digest');
      this.askForSnapshot('bad_snapshot');
      return;
    }
    await this.applySnapshot(b, topic);
  }

  private async applySnapshot(b: Bucket, topic: string): Promise<void> {
    const { store, log } = this.opts;
    const staging = store.beginSnapshot();
    let size = 0;
    try {
      for (const chunk of b.chunks) {
        const workers = chunk!.workers;
        for (let i = 0; i < workers.length; i += this.cfg.stageBatch) {
          staging.add(workers.slice(i, i + this.cfg.stageBatch));
          // between batches the gate goes on deciding with the roster it has
          await new Promise<void>((r) => setImmediate(r));
          if (this.stopped) {
            staging.abandon();
            return;
          }
        }
        size += workers.length;
      }
      if (!this.takesSnapshot(b.version)) {
        staging.abandon();
        this.counters.stale++;
        return;
      }
      staging.commit({ version: b.version, siteId: this.opts.siteId, siteKey: b.header.siteKey, rules: b.header.rules });
    } catch (err) {
      staging.abandon();
      this.reject('apply_failed', topic, errorMessage(err));
      return;
    }
    this.counters.snapshotsApplied++;
    const forced = this.resyncFrom !== null;
    this.resyncFrom = null;
    log.info({ version: b.version, workers: size, chunks: b.count, resync: forced }, 'roster snapshot applied');
    this.applied({ kind: 'snapshot', version: b.version, upserts: [], removes: [], rulesChanged: true });
  }

  private applied(a: RosterApplied): void {
    this.lastAppliedMs = this.opts.clock.now();
    if (this.satisfied()) {
      if (this.requestTimer) this.opts.clock.clearTimeout(this.requestTimer);
      if (this.headTimer) this.opts.clock.clearTimeout(this.headTimer);
      this.requestTimer = this.headTimer = null;
      this.retryMs = this.cfg.retryMinMs;
    }
    this.emit('applied', a);
  }

  private hear(version: number): void {
    if (this.knownVersion === null || version > this.knownVersion) this.knownVersion = version;
  }

  private satisfied(): boolean {
    const have = this.opts.store.version();
    return have !== null && this.resyncFrom === null && (this.knownVersion === null || have >= this.knownVersion);
  }

  /**
   * A snapshot is taken when newer than the roster, or of the same version while a resync waits
   * (resyncFrom never exceeds the store's version: versions only grow).
   */
  private takesSnapshot(version: number): boolean {
    const have = this.opts.store.version();
    return have === null || version > have || (version === have && this.resyncFrom !== null);
  }

  /** Sends a request now unless one is already waiting; repeats it with back-off until answered. */
  private askForSnapshot(reason: RosterRequest['reason']): void {
    if (!this.started) {
      this.askBeforeStart ??= reason;
      return;
    }
    if (this.requestTimer || this.stopped) return;
    this.sendRequest(reason);
    this.retryMs = this.cfg.retryMinMs;
    this.requestTimer = this.opts.clock.setTimeout(() => this.retry(), this.retryMs);
  }

  private retry(): void {
    this.requestTimer = null;
    if (this.stopped) return;
    const k = this.knownVersion;
    if (this.resyncFrom !== null && k !== null && k < this.resyncFrom) {
      // the hub holds an older roster than this gate: its snapshots would be refused forever
      this.opts.log.warn({ have: this.resyncFrom, hub: k }, "roster resync dropped: the hub's roster is older than this gate's");
      this.resyncFrom = null;
    }
    if (this.satisfied()) {
      this.retryMs = this.cfg.retryMinMs;
      return;
    }
    // chunks still coming in: the answer is on its way. Chunks stopped short of the whole: ask
    // again, keeping those in hand (the same version comes in the same chunks)
    const receiving = this.bucket !== null && this.opts.clock.monotonic() - this.lastChunkMono < this.retryMs;
    if (!receiving) this.sendRequest('retry');
    this.retryMs = Math.min(this.retryMs * 2, this.cfg.retryMaxMs);
    this.requestTimer = this.opts.clock.setTimeout(() => this.retry(), this.retryMs);
  }

  private sendRequest(reason: RosterRequest['reason']): void {
    const { siteId, gateId, link, log } = this.opts;
    const req: RosterRequest = { kind: 'roster-request', gateId, haveVersion: this.opts.store.version(), wantVersion: this.knownVersion, reason };
    this.counters.requests++;
    link.publish(rosterTopics.request(siteId, gateId), JSON.stringify(req), { qos: 1 }, (err) => {
      if (err) log.warn({ err: errorMessage(err) }, 'roster snapshot request not sent; will ask again');
    });
  }

  private armChunkTimeout(): void {
    if (this.chunkTimer) this.opts.clock.clearTimeout(this.chunkTimer);
    this.chunkTimer = this.opts.clock.setTimeout(() => {
      this.chunkTimer = null;
      const b = this.bucket;
      if (!b) return;
      this.opts.log.warn({ version: b.version, received: b.received, count: b.count }, 'unfinished roster snapshot dropped');
      this.bucket = null;
      if (!this.satisfied()) this.askForSnapshot('retry');
    }, this.cfg.chunkTimeoutMs);
  }

  private reject(reason: RosterRejectReason, topic: string, detail: string): void {
    this.counters.rejected++;
    this.counters.rejectedBy[reason] = (this.counters.rejectedBy[reason] ?? 0) + 1;
    this.opts.log.warn({ reason, topic, detail }, 'roster message rejected');
    this.emit('rejected', { reason, topic, detail });
  }
}
