// The gate's MQTT link says what happened to it: a broker that goes away is a warning (punches
// wait in the journal), the gate's own stop is not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep, systemClock } from '../../src/core/clock.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { openGateLink } from '../../src/gate/gate-link.js';

const dir = mkdtempSync(join(tmpdir(), 'gate-link-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await sleep(systemClock, 25);
  if (!what()) throw new Error(`timed out waiting for ${label}`);
}

async function linkOn(broker: MosquittoBroker) {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  let downs = 0;
  let ups = 0;
  const client = openGateLink({
    url: broker.url, username: 'G1', password: 'g1-pw', clientId: `G1-${Math.random()}`,
    reconnectMinMs: 60_000, reconnectMaxMs: 60_000, keepaliveS: 30, log,
    will: { topic: 'sitegate/S1/gate/G1/status', payload: '{}' },
    onUp: () => ups++,
    onDown: () => downs++,
  });
  await until(() => ups === 1, 'the link up');
  return { client, lines, downs: () => downs };
}

describe('gate link logging', () => {
  it('warns when the broker goes away, and only logs the close when the gate stops it', async () => {
    const broker = new MosquittoBroker({ dir: join(dir, 'broker'), siteId: 'S1', hub: { user: 'hub', password: 'hub-pw' }, gates: [{ gateId: 'G1', password: 'g1-pw' }] });
    await broker.start();
    try {
      const own = await linkOn(broker);
      await own.client.endAsync();
      await until(() => own.downs() === 1, 'the close');
      expect(own.lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
      expect(own.lines.map((l) => l.msg)).toContain('hub link closed');

      const lost = await linkOn(broker);
      await broker.stop();
      await until(() => lost.downs() === 1, 'the drop');
      expect(lost.lines.filter((l) => l.level === 40).map((l) => l.msg)).toContain('hub link down; punches stay in the journal');
      lost.client.end(true);
    } finally {
      await broker.stop().catch(() => undefined);
    }
  }, 30_000);
});
