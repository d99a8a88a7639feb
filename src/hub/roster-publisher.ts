import type { KeyObject } from 'node:crypto';
import { canonicalBytes, sha256Hex } from '../core/canonical.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  rosterRequestSchema,
  rosterWorkerSchema,
  signRosterMessage,
  snapshotDigest,
  type RosterDelta,
  type RosterChunk,
  type RosterHead,
  type RosterWorkerLike,
  type Unsigned,
} from '../core/roster-message.js';
import type { SiteRules } from '../core/site-rules.js';
import { parsePayload } from '../mqtt/schemas.js';
import { requestGateOfTopic, rosterTopics } from '../mqtt/roster-topics.js';

/** The whole roster at one version, as the registry gives it. */
export interface RosterSnapshotData {
  version: number;
  siteId: string;
  /** 32 bytes, or their 64 hex digits */
  siteKey: Buffer | string;
  /** null or absent: the site has not configured rules */
  rules?: SiteRules | null;
  workers: RosterWorkerLike[];
}

/** What changed after a version: each upserted worker in its state at `version`. */
export interface RosterChanges {
  version: number;
  upserts: RosterWorkerLike[];
  removes: string[];
  /** present when the rules changed */
  rules?: SiteRules;
  /** present when the site key changed */
  siteKey?: Buffer | string;
}

/** Implemented by the hub's registry. */
export interface RosterSource {
  version(): number;
  snapshot(): RosterSnapshotData;
  /** null: that version is too old to build a delta from (a snapshot goes out instead) */
  changesSince(version: number): RosterChanges | null;
}

/** The part of an MQTT client the publisher uses. */
export interface RosterPublisherLink {
  subscribeAsync(topic: string[], opts: { qos: 1 }): Promise<unknown>;
  publishAsync(topic: string, payload: Buffer | string, opts: { qos: 1; retain?: boolean }): Promise<unknown>;
}

export interface RosterPublisherOptions {
  source: RosterSource;
  link: RosterPublisherLink;
  siteId: string;
  /** the hub's Ed25519 roster key (readOrCreateRosterKey) */
  key: KeyObject;
  clock: Clock;
  log: Logger;
  /** bytes of workers per snapshot chunk. Default 256 KiB. */
  maxChunkBytes?: number;
  /** a delta larger than this goes out as a snapshot instead. Default 4 MiB. */
  maxDeltaBytes?: number;
  /** at most one snapshot starts per this many ms, however many gates ask. Default 5000. */
  minSnapshotIntervalMs?: number;
  /** chunks awaiting the broker's PUBACK. Default 16. */
  maxInFlight?: number;
  /** the version gates were last told about (default: the source's version at start) */
  publishedVersion?: number;
}

const DEFAULTS = { maxChunkBytes: 256 * 1024, maxDeltaBytes: 4 * 1024 * 1024, minSnapshotIntervalMs: 5000, maxInFlight: 16 } as const;

/**
 * The hub side of roster sync: a signed delta after each registry change, a signed snapshot in
 * chunks when gates ask (rate-limited) or when a delta cannot be built, and a retained head
 * naming the newest version.
 */
export class RosterPublisher {
  readonly counters = { deltas: 0, snapshots: 0, chunks: 0, requests: 0, requestsRefused: 0, invalidWorkers: 0, publishErrors: 0 };
  private readonly cfg;
  private queue: Promise<void> = Promise.resolve();
  private published: number;
  private lastSnapshotStartMono: number | null = null;
  private snapshotTimer: TimerHandle | null = null;
  private snapshotQueued = false;
  private stopped = false;

  constructor(private readonly opts: RosterPublisherOptions) {
    this.cfg = {
      maxChunkBytes: opts.maxChunkBytes ?? DEFAULTS.maxChunkBytes,
      maxDeltaBytes: opts.maxDeltaBytes ?? DEFAULTS.maxDeltaBytes,
      minSnapshotIntervalMs: opts.minSnapshotIntervalMs ?? DEFAULTS.minSnapshotIntervalMs,
      maxInFlight: opts.maxInFlight ?? DEFAULTS.maxInFlight,
    };
    this.published = opts.publishedVersion ?? -1;
  }

  /** Subscribes to the gates' snapshot requests and publishes the head. */
  async start(): Promise<void> {
    if (this.published < 0) this.published = this.opts.source.version();
    await this.opts.link.subscribeAsync([rosterTopics.allRequests(this.opts.siteId)], { qos: 1 });
    await this.enqueue(() => this.publishHead());
  }

  /** The newest version gates were told about. */
  get publishedVersion(): number {
    return this.published;
  }

  /** Publishes what changed since the last published version (call after every registry change). */
  publishChanges(): Promise<void> {
    return this.enqueue(() => this.publishChangesNow());
  }

  /** True when the topic was a snapshot request (handled or refused). */
  handleMessage(topic: string, payload: Buffer): boolean {
    const gateId = requestGateOfTopic(this.opts.siteId, topic);
    if (gateId === null) return false;
    const r = parsePayload(rosterRequestSchema, payload);
    if (!r.ok || r.value.gateId !== gateId) {
      this.counters.requestsRefused++;
      this.opts.log.warn({ gateId, error: r.ok ? 'gateId differs from its topic' : r.error }, 'roster request refused');
      return true;
    }
    this.counters.requests++;
    this.opts.log.info({ gateId, have: r.value.haveVersion, reason: r.value.reason }, 'roster snapshot requested');
    this.scheduleSnapshot();
    return true;
  }

  /**
   * A snapshot soon: at once unless one started less than minSnapshotIntervalMs ago; requests
   * meanwhile share one later snapshot (it starts after each of them arrived).
   */
  scheduleSnapshot(): void {
    if (this.stopped || this.snapshotTimer || this.snapshotQueued) return;
    const now = this.opts.clock.monotonic();
    const wait = this.lastSnapshotStartMono === null ? 0 : Math.max(0, this.lastSnapshotStartMono + this.cfg.minSnapshotIntervalMs - now);
    const go = (): void => {
      this.snapshotTimer = null;
      this.snapshotQueued = true;
      void this.enqueue(async () => {
        this.snapshotQueued = false;
        await this.publishSnapshot();
      });
    };
    if (wait === 0) go();
    else this.snapshotTimer = this.opts.clock.setTimeout(go, wait);
  }

  /** Resolves once everything scheduled so far has been published. */
  idle(): Promise<void> {
    return this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.snapshotTimer) this.opts.clock.clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    await this.queue;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await job();
      } catch (err) {
        this.counters.publishErrors++;
        this.opts.log.error({ err: errorMessage(err) }, 'roster not published; the next change or request tries again');
      }
    });
    this.queue = next;
    return next;
  }

  private async publishChangesNow(): Promise<void> {
    const { source, siteId, key, link } = this.opts;
    if (source.version() <= this.published) return;
    const ch = source.changesSince(this.published);
    if (ch === null) {
      this.opts.log.info({ from: this.published }, 'registry cannot build a delta from that version; sending a snapshot');
      this.scheduleSnapshot();
      return;
    }
    if (ch.version <= this.published) return;
    const body: Unsigned<RosterDelta> = {
      kind: 'roster-delta',
      siteId,
      fromVersion: this.published,
      version: ch.version,
      upserts: this.valid(ch.upserts) as RosterDelta['upserts'],
      removes: ch.removes,
      ...(ch.rules !== undefined ? { rules: ch.rules } : {}),
      ...(ch.siteKey !== undefined ? { siteKey: hexKey(ch.siteKey) } : {}),
    };
    const payload = JSON.stringify(signRosterMessage(body, key));
    if (Buffer.byteLength(payload) > this.cfg.maxDeltaBytes) {
      this.scheduleSnapshot();
      return;
    }
    await link.publishAsync(rosterTopics.delta(siteId), payload, { qos: 1 });
    this.published = ch.version;
    this.counters.deltas++;
    await this.publishHead();
  }

  private async publishSnapshot(): Promise<void> {
    const { source, siteId, key, link, log } = this.opts;
    this.lastSnapshotStartMono = this.opts.clock.monotonic();
    const snap = source.snapshot();
    const siteKey = hexKey(snap.siteKey);
    const rules = snap.rules ?? null;
    const groups = this.chunk(this.valid(snap.workers));
    const hashes = groups.map((g) => sha256Hex(g.bytes));
    const digest = snapshotDigest({ siteId, version: snap.version, siteKey, rules, chunks: hashes });
    const topic = rosterTopics.snapshot(siteId, snap.version);
    const inFlight = new Set<Promise<unknown>>();
    for (let index = 0; index < groups.length; index++) {
      const header: Omit<Unsigned<RosterChunk>, 'workers'> = {
        kind: 'roster-snapshot',
        siteId,
        version: snap.version,
        index,
        count: groups.length,
        digest,
        siteKey,
        rules,
        workersSha256: hashes[index],
      };
      // the workers go out as the very canonical bytes their hash covers
      const head = JSON.stringify(signRosterMessage(header, key));
      const payload = Buffer.concat([Buffer.from(`${head.slice(0, -1)},"workers":`), groups[index].bytes, Buffer.from('}')]);
      const p = link.publishAsync(topic, payload, { qos: 1 }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      this.counters.chunks++;
      if (inFlight.size >= this.cfg.maxInFlight) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    this.counters.snapshots++;
    if (snap.version > this.published) this.published = snap.version;
    log.info({ version: snap.version, workers: snap.workers.length, chunks: groups.length }, 'roster snapshot published');
    await this.publishHead();
  }

  /** Workers in groups of at most maxChunkBytes of canonical JSON (one worker at least per group). */
  private chunk(workers: RosterWorkerLike[]): { bytes: Buffer }[] {
    const groups: { bytes: Buffer }[] = [];
    let parts: Buffer[] = [];
    let size = 2;
    const flush = (): void => {
      const joined: Buffer[] = [Buffer.from('[')];
      parts.forEach((p, i) => joined.push(...(i ? [COMMA, p] : [p])));
      joined.push(Buffer.from(']'));
      groups.push({ bytes: Buffer.concat(joined) });
      parts = [];
      size = 2;
    };
    for (const w of workers) {
      const b = canonicalBytes(w);
      if (parts.length > 0 && size + b.length + 1 > this.cfg.maxChunkBytes) flush();
      parts.push(b);
      size += b.length + 1;
    }
    if (parts.length > 0 || groups.length === 0) flush();
    return groups;
  }

  private async publishHead(): Promise<void> {
    const head: Unsigned<RosterHead> = { kind: 'roster-head', siteId: this.opts.siteId, version: this.published, atMs: this.opts.clock.now() };
    await this.opts.link.publishAsync(rosterTopics.head(this.opts.siteId), JSON.stringify(signRosterMessage(head, this.opts.key)), { qos: 1, retain: true });
  }

  /** A worker every gate would refuse would sink the whole message: it is left out and logged. */
  private valid(workers: RosterWorkerLike[]): RosterWorkerLike[] {
    const out: RosterWorkerLike[] = [];
    for (const w of workers) {
      const r = rosterWorkerSchema.safeParse(w);
      if (r.success) out.push(w);
      else {
        this.counters.invalidWorkers++;
        const i = r.error.issues[0];
        this.opts.log.error({ workerId: typeof w?.workerId === 'string' ? w.workerId : null, field: i.path.join('.'), error: i.message }, 'worker left out of the roster: gates would refuse it');
      }
    }
    return out;
  }
}

const COMMA = Buffer.from(',');

function hexKey(k: Buffer | string): string {
  return typeof k === 'string' ? k : k.toString('hex');
}
