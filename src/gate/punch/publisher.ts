import type { MqttClient } from 'mqtt';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { PunchBatch } from '../../core/entries.js';
import type { Logger } from '../../core/log.js';
import { parsePayload, punchAckSchema } from '../../mqtt/schemas.js';
import { topics } from '../../mqtt/topics.js';
import type { Journal } from './journal.js';

export interface PublisherOptions {
  journal: Journal;
  client: MqttClient;
  siteId: string;
  clock: Clock;
  log: Logger;
  /** entries per message (each message ends at a signed head) */
  batchSize: number;
  /** messages awaiting the hub's acknowledgment */
  maxInFlight: number;
  /** no ack after this long: send again from the first unacknowledged entry */
  ackTimeoutMs: number;
  /** called with the punchIds the hub acknowledged */
  onAck?: (punchIds: readonly string[], seq: number) => void;
}

interface InFlight {
  lastSeq: number;
  sentAt: number;
}

/**
 * Sends journal entries to the hub in chain order, a bounded number of messages in flight.
 * A PUBACK is not durability (a killed broker loses acknowledged messages), so an entry leaves
 * the unacknowledged set only when the hub's application ack names its punch.
 */
export class Publisher {
  private sentUpTo = -1;
  private inFlight: InFlight[] = [];
  private timer: TimerHandle | null = null;
  private started = false;
  private readonly gateId: string;
  readonly counters = { batchesSent: 0, entriesSent: 0, acks: 0, badAcks: 0, resends: 0 };
  private lostAckResentFrom = -2;

  constructor(private readonly opts: PublisherOptions) {
    this.gateId = opts.journal.identity.gateId;
  }

  start(): void {
    const { client } = this.opts;
    this.started = true;
    this.sentUpTo = this.opts.journal.ackedThrough();
    client.on('connect', this.onConnect);
    client.on('message', this.onMessage);
    if (client.connected) this.onConnect();
    this.armTimer();
  }

  stop(): void {
    this.started = false;
    this.opts.client.off('connect', this.onConnect);
    this.opts.client.off('message', this.onMessage);
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  private readonly onConnect = (): void => {
    const ackTopic = topics.gateAck(this.opts.siteId, this.gateId);
    this.opts.client.subscribe(ackTopic, { qos: 1 }, (err) => {
      if (err) this.opts.log.warn({ err: err.message }, 'cannot subscribe to the ack topic');
    });
    this.rewind();
  };

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== topics.gateAck(this.opts.siteId, this.gateId)) return;
    const parsed = parsePayload(punchAckSchema, payload);
    if (!parsed.ok || parsed.value.gateId !== this.gateId) {
      this.counters.badAcks++;
      this.opts.log.warn({ error: parsed.ok ? 'gateId differs' : parsed.error }, 'ignored a malformed ack');
      return;
    }
    const ack = parsed.value;
    this.counters.acks++;
    this.opts.journal.ack(ack.punchIds, ack.seq);
    if (ack.punchIds.length) this.opts.onAck?.(ack.punchIds, ack.seq);
    const through = this.opts.journal.ackedThrough();
    if (through < ack.seq && ack.punchIds.length && through !== this.lostAckResentFrom) {
      // The hub holds everything up to ack.seq, yet some of it is unacknowledged here: the ack
      // naming those punches was lost (a broker's queue limit drops acks too). Send them again,
      // once per gap (later acks of batches already sent would ask again); the hub answers a
      // replay with an ack that names them, and the ack time-out covers a lost resend.
      this.lostAckResentFrom = through;
      this.rewind();
      return;
    }
    const before = this.inFlight.length;
    this.inFlight = this.inFlight.filter((b) => b.lastSeq > ack.seq);
    if (ack.punchIds.length === 0 && this.inFlight.length === before && ack.seq < this.sentUpTo) {
      // the hub is missing entries before what we sent (a lost message): resume from its position
      this.rewind(ack.seq);
      return;
    }
    this.pump();
  };

  /** A new signed head exists: send what it covers. */
  kick(): void {
    this.pump();
  }

  private rewind(to = this.opts.journal.ackedThrough()): void {
    if (this.inFlight.length) this.counters.resends++;
    this.inFlight = [];
    this.sentUpTo = Math.max(to, this.opts.journal.ackedThrough());
    this.pump();
  }

  private pump(): void {
    const { client } = this.opts;
    if (!this.started || !client.connected) return;
    while (this.inFlight.length < this.opts.maxInFlight) {
      const batch = this.nextBatch();
      if (!batch) return;
      const last = batch.entries[batch.entries.length - 1].seq;
      client.publish(topics.gatePunch(this.opts.siteId, this.gateId), JSON.stringify(batch), { qos: 1 }, (err) => {
        if (err) this.opts.log.warn({ err: err.message }, 'punch publish failed; will resend');
      });
      this.inFlight.push({ lastSeq: last, sentAt: this.opts.clock.monotonic() });
      this.sentUpTo = last;
      this.counters.batchesSent++;
      this.counters.entriesSent += batch.entries.length;
    }
  }

  /** Entries after sentUpTo, ending at a signed head, at most batchSize unless one signed segment is longer. */
  private nextBatch(): PunchBatch | null {
    const { journal, batchSize } = this.opts;
    const heads = journal.signedHeadsAfter(this.sentUpTo, 64);
    if (!heads.length) return null;
    let head = heads[0];
    for (const h of heads) {
      if (h.seq - this.sentUpTo <= batchSize) head = h;
      else break;
    }
    const entries = journal.entriesBetween(this.sentUpTo, head.seq, 1000).map((e) => e.entry);
    if (!entries.length || entries[entries.length - 1].seq !== head.seq) return null;
    return { gateId: this.gateId, epoch: journal.identity.epoch, entries, head };
  }

  private armTimer(): void {
    if (!this.started) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      const oldest = this.inFlight[0];
      if (oldest && this.opts.clock.monotonic() - oldest.sentAt >= this.opts.ackTimeoutMs) {
        this.opts.log.warn({ inFlight: this.inFlight.length }, 'no ack from the hub in time; sending again');
        this.rewind();
      }
      this.armTimer();
    }, Math.max(250, Math.floor(this.opts.ackTimeoutMs / 4)));
  }
}
