import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryHash, genesisHash, headMessage } from '../../src/core/chain.js';
import { certSha256, pemToDer } from '../../src/core/cert.js';
import type { JournalEntry, SigAlg } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { shanghaiDateTime } from '../../src/core/shanghai-time.js';
import { DemoSite } from '../../src/demo/site.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { readFileSync } from 'node:fs';

// Real mosquitto, real SoftHSM2 tokens through pkcs11js, the platform simulator with its
// default limit (1 request per 1200 ms) on: two gates, a short shift.
describe('a card swipe travels reader → journal → relay → signature → MQTT → hub → platform', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sitegate-e2e-'));
  const site = new DemoSite({ dir, log: silentLogger(), arrivals: 14, departures: 6 });
  let settled = false;

  beforeAll(async () => {
    await site.start();
    await site.replay();
    settled = await site.settle(120_000);
  }, 180_000);

  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('settles: every platform row delivered and every journal acknowledged', () => {
    expect(settled).toBe(true);
  });

  it('delivers every granted punch with a confirmed passage to the platform exactly once', () => {
    const paths = [...site.tracker.paths.values()];
    const expected = paths.filter((p) => p.rowExpected);
    expect(expected.length).toBeGreaterThanOrEqual(18);
    const byWorker = new Map(site.shift.workers.map((w) => [w.workerId, w]));
    const key = (idNumber: string, date: string, dir: string) => `${idNumber}|${date}|${dir}`;
    const accepted = site.platform.accepted.map((r) => key(r.idNumber, r.date, r.direction));
    expect(new Set(accepted).size).toBe(accepted.length);
    const want = expected.map((p) => {
      const entry = site.gates.flatMap((g) => g.gate.journal.entriesOf(p.punchId)).find((e) => e.type === 'punch');
      if (!entry || entry.type !== 'punch') throw new Error('punch missing from its journal');
      return key(byWorker.get(p.workerId!)!.idNumber, shanghaiDateTime(entry.time.ms), entry.direction === 'in' ? '01' : '02');
    });
    expect([...accepted].sort()).toEqual([...want].sort());
    expect(site.platform.counters.overLimit).toBe(0);
  });

  it('leaves no unacknowledged row in any gate journal', () => {
    for (const g of site.gates) expect(g.gate.journal.unackedCount()).toBe(0);
  });

  it('stores chains at the hub whose every entry verifies through a head signed by the pinned certificate', () => {
    const db = new Database(join(dir, 'hub', 'hub.db'), { readonly: true });
    try {
      for (const g of site.gates) {
        const certDer = pemToDer(readFileSync(join(dir, `${g.gateId}.crt.pem`), 'utf8'));
        const rows = db.prepare('SELECT seq, body, hash FROM entries WHERE gate_id = ? ORDER BY seq').all(g.gateId) as { seq: number; body: string; hash: string }[];
        expect(rows.length).toBe(g.gate.journal.head.seq + 1);
        let prev = genesisHash(g.gateId, certSha256(certDer), 1);
        rows.forEach((r, i) => {
          const e = JSON.parse(r.body) as JournalEntry;
          expect(e.seq).toBe(i);
          expect(e.prevHash).toBe(prev);
          prev = entryHash(e);
          expect(prev).toBe(r.hash);
        });
        const heads = db.prepare('SELECT seq, hash, sig_alg, sig FROM heads WHERE gate_id = ? ORDER BY seq').all(g.gateId) as { seq: number; hash: string; sig_alg: SigAlg; sig: string }[];
        expect(heads.at(-1)!.seq).toBe(rows.length - 1);
        for (const h of heads) {
          expect(h.hash).toBe(rows[h.seq].hash);
          expect(verifyHeadSignature(certDer, h.sig_alg, headMessage(g.gateId, h.seq, h.hash), Buffer.from(h.sig, 'base64'))).toBe(true);
        }
      }
    } finally {
      db.close();
    }
  });

  it('denies unknown and blacklisted cards without touching the relay, and records the denial at the hub', () => {
    const paths = [...site.tracker.paths.values()];
    const unknown = paths.filter((p) => p.reason === 'not_registered');
    const blacklisted = paths.filter((p) => p.reason === 'blacklisted');
    expect(unknown.length).toBeGreaterThanOrEqual(1);
    expect(blacklisted.length).toBe(1);
    for (const p of [...unknown, ...blacklisted]) {
      expect(p.decision).toBe('denied');
      expect(p.cardToRelayMs).toBeNull();
      expect(p.hubAt).not.toBeNull();
    }
    const granted = paths.filter((p) => p.decision === 'granted').length;
    expect(site.relayPulses()).toBe(granted);
    expect(site.platform.accepted.length).toBe(paths.filter((p) => p.rowExpected).length);
  });
});
