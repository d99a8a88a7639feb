// The hub side of the roster sync tests: a RosterPublisher signing snapshots of `workers` workers
// onto an in-process bus, on a manual clock. Each test adds its gates (RosterSync) to the bus.
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { RosterPublisher } from '../../src/hub/roster-publisher.js';
import { keyPair, MemoryRosterSource, SITE, worker } from './helpers.js';
import { MemoryBus, type BusClient } from './memory-bus.js';

export interface SyncHub {
  clock: ManualClock;
  bus: MemoryBus;
  source: MemoryRosterSource;
  hub: RosterPublisher;
  hubLink: BusClient;
  key: ReturnType<typeof keyPair>;
}

/** Started; `onCleanup` receives its stop. */
export async function startSyncHub(opts: { workers: number; minSnapshotIntervalMs: number; onCleanup: (stop: () => Promise<void> | void) => void }): Promise<SyncHub> {
  const clock = new ManualClock();
  const bus = new MemoryBus();
  const key = keyPair();
  const source = new MemoryRosterSource(SITE, Array.from({ length: opts.workers }, (_, i) => worker(i)));
  let hub!: RosterPublisher;
  const hubLink = bus.client('hub', (t, p) => hub.handleMessage(t, p));
  hub = new RosterPublisher({ source, link: hubLink, siteId: SITE, key: key.privateKey, clock, log: silentLogger(), maxChunkBytes: 8 * 1024, minSnapshotIntervalMs: opts.minSnapshotIntervalMs });
  await hub.start();
  opts.onCleanup(() => hub.stop());
  return { clock, bus, source, hub, hubLink, key };
}
