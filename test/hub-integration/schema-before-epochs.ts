// The hub database's chain and entry tables as they were before re-commissioning (one chain per
// gate, no epochs): migration tests build such a database and open it with today's HubStore.
export const CHAINS_AND_ENTRIES_BEFORE_EPOCHS = `
  CREATE TABLE chains (gate_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, next_seq INTEGER NOT NULL, last_hash TEXT NOT NULL);
  CREATE TABLE entries (gate_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, punch_id TEXT NOT NULL, body TEXT NOT NULL,
    hash TEXT NOT NULL, received_ms INTEGER NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gate_id, seq));
  CREATE INDEX entries_punch ON entries (punch_id, type);
`;
