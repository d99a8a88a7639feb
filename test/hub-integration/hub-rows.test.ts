import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PunchTime } from '../../src/core/entries.js';
import { MAX_IMAGE_BYTES } from '../../src/municipal/national-wire.js';
import { makeGate, topic } from '../hub/ingest-fixture.js';
import { jpeg, payloadSince, photoPayload, rowsHarness, sha256, swipe } from './rows-helpers.js';

const REAL_BOOT = Date.UTC(2026, 10, 21, 6, 0, 0); // when the gate booted, in real time
const unsynced = (monoMs: number, bootId = 'boot-A'): PunchTime => ({ ms: 1000 + monoMs, clockSynced: false, bootId, monoMs });
const synced = (monoMs: number, bootId = 'boot-A'): PunchTime => ({ ms: REAL_BOOT + monoMs, clockSynced: true, bootId, monoMs });

describe('platform rows at the hub: clock correction and photos', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('holds the rows of punches taken before the clock sync and sends them with corrected times once a later batch of the same boot is synchronised', async () => {
    const g = await makeGate('G1');
    const h = rowsHarness([g]);
    dirs.push(h.dir);

    const early = [swipe(g, unsynced(5_000)), swipe(g, unsynced(9_000))];
    const otherBoot = swipe(g, unsynced(7_000, 'boot-B'));
    expect(h.ingest.handle(topic('G1'), payloadSince(g, -1))).toMatchObject({ kind: 'stored', newEntries: 6 });
    // stored and acknowledged, but no row: their real time is not known yet
    for (const p of [...early, otherBoot]) expect(h.queue.get(p.punchId)).toBeNull();
    expect(h.rows.held()).toEqual({ clock: 3, photo: 0 });

    const seqBefore = g.journal.head.seq;
    const late = swipe(g, synced(60_000));
    expect(h.ingest.handle(topic('G1'), payloadSince(g, seqBefore))).toMatchObject({ kind: 'stored', newEntries: 2 });
    expect(h.queue.get(early[0].punchId)).toMatchObject({ timeMs: REAL_BOOT + 5_000, state: 'pending', idNumber: '11010519491231002X' });
    expect(h.queue.get(early[1].punchId)).toMatchObject({ timeMs: REAL_BOOT + 9_000 });
    expect(h.queue.get(late.punchId)).toMatchObject({ timeMs: REAL_BOOT + 60_000 });
    // another boot's synchronised punch says nothing about boot B
    expect(h.queue.get(otherBoot.punchId)).toBeNull();
    expect(h.rows.held()).toEqual({ clock: 1, photo: 0 });

    // later unsynchronised punches of boot A are corrected at once
    const seq2 = g.journal.head.seq;
    const after = swipe(g, unsynced(70_000));
    h.ingest.handle(topic('G1'), payloadSince(g, seq2));
    expect(h.queue.get(after.punchId)).toMatchObject({ timeMs: REAL_BOOT + 70_000 });
    expect(h.rows.counters.clockCorrected).toBe(3);
  });

  it('sends a face punch with its photo: at once when the photo came first, when it arrives otherwise, without it after the wait', async () => {
    const g = await makeGate('G1');
    const h = rowsHarness([g], { photoWaitMs: 30_000 });
    dirs.push(h.dir);
    const first = await jpeg(320, 240, 60);
    const second = await jpeg(320, 240, 55);
    expect(first.length).toBeLessThan(MAX_IMAGE_BYTES);

    expect(await h.photos.receive(photoPayload(first))).toEqual({ kind: 'stored', hash: sha256(first) });
    const now = () => ({ ms: h.clock.now(), clockSynced: true, bootId: 'b', monoMs: 1 });
    const withPhotoFirst = swipe(g, now(), { face: true, photoHash: sha256(first) });
    const photoLater = swipe(g, now(), { face: true, photoHash: sha256(second) });
    const neverComes = swipe(g, now(), { face: true, photoHash: 'f'.repeat(64) });
    const card = swipe(g, now());
    h.ingest.handle(topic('G1'), payloadSince(g, -1));

    expect(h.queue.get(withPhotoFirst.punchId)).toMatchObject({ image: first.toString('base64'), attendType: '3' });
    expect(h.queue.get(card.punchId)?.image).toBeUndefined();
    expect(h.queue.get(photoLater.punchId)).toBeNull();
    expect(h.rows.held().photo).toBe(2);

    expect(await h.photos.receive(photoPayload(second))).toMatchObject({ kind: 'stored' });
    expect(h.rows.onPhoto(sha256(second))).toBe(1);
    expect(h.queue.get(photoLater.punchId)?.image).toBe(second.toString('base64'));

    await h.clock.advance(29_000);
    expect(h.rows.sweep()).toBe(0);
    await h.clock.advance(1_000);
    expect(h.rows.sweep()).toBe(1);
    const late = h.queue.get(neverComes.punchId);
    expect(late).not.toBeNull();
    expect(late?.image).toBeUndefined();
    expect(h.rows.held()).toEqual({ clock: 0, photo: 0 });
    expect(h.rows.counters).toMatchObject({ withPhoto: 2, withoutPhoto: 1 });
  });

  it('stores a photo only when its bytes hash to its name and are a JPEG, and gives the platform a copy within 50 KB', async () => {
    const g = await makeGate('G1');
    const h = rowsHarness([g]);
    dirs.push(h.dir);
    const big = await jpeg(1280, 960, 95);
    expect(big.length).toBeGreaterThan(MAX_IMAGE_BYTES);

    expect(await h.photos.receive(photoPayload(big, sha256(Buffer.from('something else'))))).toMatchObject({ kind: 'rejected', reason: 'hash_mismatch' });
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    expect(await h.photos.receive(photoPayload(png))).toMatchObject({ kind: 'rejected', reason: 'not_jpeg' });
    expect(await h.photos.receive(Buffer.from('{"hash":"nope"}'))).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(h.photos.has(sha256(big))).toBe(false);

    expect(await h.photos.receive(photoPayload(big))).toMatchObject({ kind: 'stored' });
    expect(await h.photos.receive(photoPayload(big))).toMatchObject({ kind: 'known' });
    const image = Buffer.from(h.photos.platformImage(sha256(big))!, 'base64');
    expect(image.length).toBeLessThanOrEqual(MAX_IMAGE_BYTES);
    expect([...image.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(h.photos.counters).toMatchObject({ stored: 1, known: 1, reduced: 1, hash_mismatch: 1, not_jpeg: 1, malformed: 1 });
  });

  it('keeps what waits across a restart of the hub', async () => {
    const g = await makeGate('G1');
    const h = rowsHarness([g]);
    dirs.push(h.dir);
    const p = swipe(g, unsynced(1_000));
    h.ingest.handle(topic('G1'), payloadSince(g, -1));
    h.store.close();

    // same database, fresh parts: the held row is still there and is released by the next sync
    const again = rowsHarness([g], { dir: h.dir });
    expect(again.rows.held()).toEqual({ clock: 1, photo: 0 });
    const seq = g.journal.head.seq;
    swipe(g, synced(2_000));
    again.ingest.handle(topic('G1'), payloadSince(g, seq));
    expect(again.queue.get(p.punchId)).toMatchObject({ timeMs: REAL_BOOT + 1_000 });
    expect(again.rows.held()).toEqual({ clock: 0, photo: 0 });
    again.store.close();
  });
});
