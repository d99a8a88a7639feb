import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HubStore } from '../../src/hub/store.js';
import { CHAINS_AND_ENTRIES_BEFORE_EPOCHS } from './schema-before-epochs.js';

describe('hub store from before re-commissioning', () => {
  it('moves its entries and heads to per-epoch chains with the epoch its chain state names, losing none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-epochs-'));
    try {
      const path = join(dir, 'hub.db');
      const old = new Database(path);
      old.exec(CHAINS_AND_ENTRIES_BEFORE_EPOCHS);
      old.exec(`
        CREATE TABLE heads (gate_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, sig_alg TEXT NOT NULL, sig TEXT NOT NULL,
          cert_sha256 TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (gate_id, seq));
        INSERT INTO chains VALUES ('G1', 3, 2, 'h1');
        INSERT INTO entries VALUES ('G1', 0, 'punch', 'p0', '{"type":"punch"}', 'h0', 1, 0), ('G1', 1, 'passage', 'p0', '{}', 'h1', 1, 0), ('G2', 0, 'punch', 'q0', '{}', 'k0', 1, 1);
        INSERT INTO heads VALUES ('G1', 1, 'h1', 'ECDSA-P256-SHA256', 'AA==', 'c', 1);
      `);
      old.close();

      const store = new HubStore(path);
      expect(store.hashAt('G1', 3, 1)).toBe('h1');
      expect(store.hashAt('G1', 1, 1)).toBeNull();
      expect(store.hashAt('G2', 1, 0)).toBe('k0');
      expect(store.entryCount('G1') + store.entryCount('G2')).toBe(3);
      expect(store.punchEntry('G1', 'p0')).toEqual({ type: 'punch' });
      expect(store.db.prepare('SELECT epoch, seq FROM heads').all()).toEqual([{ epoch: 3, seq: 1 }]);
      expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%before_epochs'").all()).toEqual([]);
      store.close();
      // opening again changes nothing
      const again = new HubStore(path);
      expect(again.entryCount('G1')).toBe(2);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
