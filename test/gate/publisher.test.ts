import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { PunchBatch } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Journal } from '../../src/gate/punch/journal.js';
import { Publisher } from '../../src/gate/punch/publisher.js';
import { punchBody } from '../hub/ingest-fixture.js';

const ACK = 'sitegate/v1/S1/gate/G1/ack';

/** An MQTT client stand-in that records what the publisher sends; the test plays the hub. */
class FakeClient extends EventEmitter {
  connected = true;
  sent: PunchBatch[] = [];
  subscribe(_t: string, _o: unknown, cb?: (e: Error | null) => void) {
    cb?.(null);
  }
  publish(_t: string, payload: string, _o: unknown, cb?: (e?: Error) => void) {
    this.sent.push(JSON.parse(payload) as PunchBatch);
    cb?.();
  }
  ack(batch: PunchBatch) {
    const ids = [...new Set(batch.entries.map((e) => e.punchId))];
    this.emit('message', ACK, Buffer.from(JSON.stringify({ gateId: 'G1', seq: batch.head.seq, punchIds: ids })));
  }
}

describe('gate publisher', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  function setup(entries: number) {
    const dir = mkdtempSync(join(tmpdir(), 'publisher-'));
    dirs.push(dir);
    const journal = new Journal(join(dir, 'j.db'), { gateId: 'G1', certSha256: 'ab'.repeat(32), epoch: 1 });
    for (let i = 0; i < entries; i++) {
      journal.appendPunch(punchBody('G1'));
      if ((i + 1) % 10 === 0) journal.recordHead({ seq: i, hash: journal.hashAt(i)!, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: 'ab'.repeat(32) });
    }
    const client = new FakeClient();
    const clock = new ManualClock();
    const publisher = new Publisher({ journal, client: client as unknown as MqttClient, siteId: 'S1', clock, log: silentLogger(), batchSize: 10, maxInFlight: 4, ackTimeoutMs: 15_000 });
    return { journal, client, clock, publisher };
  }

  it('sends again what a lost ack named, although later acks arrived and the link stayed up', async () => {
    const { journal, client, publisher } = setup(40);
    publisher.start();
    expect(client.sent.map((b) => b.head.seq)).toEqual([9, 19, 29, 39]);
    const [b0, , b2, b3] = client.sent;
    client.ack(b0);
    // the ack of b1 is lost (the broker dropped it); b2's and b3's arrive
    client.ack(b2);
    client.ack(b3);
    expect(journal.unackedCount()).toBe(10);
    // the publisher sent b1's entries again, once; the hub answers the replay naming them
    const resent = client.sent.slice(4);
    expect(resent.map((b) => b.entries[0].seq)).toContain(10);
    expect(resent.filter((b) => b.entries[0].seq === 10)).toHaveLength(1);
    client.ack(resent.find((b) => b.entries[0].seq === 10)!);
    expect(journal.unackedCount()).toBe(0);
    expect(journal.ackedThrough()).toBe(39);
    publisher.stop();
    journal.close();
  });

  it('leaves a backlog alone while every ack arrives', () => {
    const { journal, client, publisher } = setup(40);
    publisher.start();
    for (const b of client.sent.slice()) client.ack(b);
    expect(client.sent).toHaveLength(4);
    expect(publisher.counters.resends).toBe(0);
    expect(journal.unackedCount()).toBe(0);
    publisher.stop();
    journal.close();
  });
});

describe('gate link reconnects', () => {
  it('back off exponentially from the minimum to the maximum, half of each delay random', async () => {
    const { reconnectDelay } = await import('../../src/gate/gate-link.js');
    expect([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, 1000, 60_000, () => 0))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, 1000, 60_000, () => 0.999999))).toEqual([1000, 2000, 4000, 8000, 60_000]);
    expect(reconnectDelay(1000, 1000, 60_000, () => 0.5)).toBe(45_000);
  });
});
