import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { PunchEntry, PunchTime } from '../../src/core/entries.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { RegistryWorker } from '../../src/core/worker.js';
import { HubPhotos } from '../../src/hub/hub-photos.js';
import { HubRows } from '../../src/hub/hub-rows.js';
import { Ingest } from '../../src/hub/ingest.js';
import { HubStore } from '../../src/hub/store.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { batchOf, pin, punchBody, type TestGate } from '../hub/ingest-fixture.js';

export const WORKER: RegistryWorker = { workerId: 'W1', name: '王伟', idCardType: '01', idNumber: '11010519491231002X', projectCode: 'P1', teamSysNo: 1 };

/** The hub's ingest → rows → upload queue path on one database, with photos, on a manual clock. */
export function rowsHarness(gates: TestGate[], opts: { photoWaitMs?: number; dir?: string } = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'hub-rows-'));
  const clock = new ManualClock(Date.now());
  const log = silentLogger();
  const store = new HubStore(join(dir, 'hub.db'));
  const queue = new UploadQueue(store.db, clock);
  queue.migrate();
  const photos = new HubPhotos({ dir: join(dir, 'photos'), maxBytes: () => 4 * 1024 * 1024, log });
  photos.start();
  const rows = new HubRows({
    db: store.db,
    findPunch: (gateId, punchId) => store.punchEntry(gateId, punchId) as PunchEntry | null,
    findWorker: (id) => (id === WORKER.workerId ? WORKER : undefined),
    policy: () => ({ rowsFrom: 'confirmed', attendTypes: { face: '3', wiegand: '1' } }),
    enqueue: (row) => queue.enqueue(row),
    hasPhoto: (h) => photos.has(h),
    photoImage: (h) => photos.platformImage(h),
    photoWaitMs: () => opts.photoWaitMs ?? 60_000,
    clock,
    log,
  });
  const pinned = new Map(gates.map((g) => [g.gateId, pin(g)]));
  const ingest = new Ingest({
    siteId: 'S1', store, gates: () => pinned, verify: verifyHeadSignature, now: () => clock.now(), log,
    onStored: (gateId, entries, q) => rows.onStored(gateId, entries, q),
  });
  return { dir, clock, store, queue, photos, rows, ingest };
}

/** Appends a granted punch and its confirmed passage (both at `time`); returns the punch. */
export function swipe(g: TestGate, time: PunchTime, extra: { face?: boolean; photoHash?: string } = {}): PunchEntry {
  const body = punchBody(g.gateId, WORKER.workerId);
  const p = g.journal.appendPunch({
    ...body,
    time,
    ...(extra.face
      ? { credential: { kind: 'face' as const, hmac: body.credential.hmac }, face: { score: 0.93, liveness: 0.98 }, photoHash: extra.photoHash ?? null }
      : {}),
  });
  g.journal.appendPassage({ gateId: g.gateId, punchId: p.punchId, outcome: 'confirmed', sensorCount: 1, time });
  return p;
}

/** Everything the gate journalled since `afterSeq`, signed at its head, as the MQTT payload. */
export function payloadSince(g: TestGate, afterSeq: number): Buffer {
  return Buffer.from(JSON.stringify(batchOf(g, afterSeq, g.journal.head.seq, g.key)));
}

export async function jpeg(width: number, height: number, quality: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).jpeg({ quality }).toBuffer();
}

export function photoPayload(bytes: Buffer, hash = sha256(bytes)): Buffer {
  return Buffer.from(JSON.stringify({ hash, jpegBase64: bytes.toString('base64') }));
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
