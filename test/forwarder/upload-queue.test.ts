import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';
import { makeRow } from './fake-platform.js';

const T0 = Date.UTC(2026, 10, 21, 0, 0, 0);

function newQueue() {
  const clock = new ManualClock(T0);
  const db = new Database(':memory:');
  const queue = new UploadQueue(db, clock);
  queue.migrate();
  queue.migrate(); // a second start finds the tables in place
  return { clock, db, queue };
}

describe('upload queue', () => {
  it('queues a punch once however often it is enqueued', () => {
    const { queue } = newQueue();
    expect(queue.enqueue(makeRow(1, T0))).toBe('queued');
    expect(queue.enqueue(makeRow(1, T0))).toBe('already_queued');
    expect(queue.enqueue({ ...makeRow(1, T0), workerId: 'someone-else' })).toBe('already_queued');
    expect(queue.counts().pending).toBe(1);
    expect(queue.get('punch-1-1')?.workerId).toBe('w-1-1');
  });

  it('gives the oldest pending rows of one team, at most max', () => {
    const { queue } = newQueue();
    // team 2 holds the oldest punch; team 1 rows interleave with it
    queue.enqueue(makeRow(1, T0 + 5_000, 1));
    queue.enqueue(makeRow(1, T0 + 1_000, 2));
    queue.enqueue(makeRow(2, T0 + 2_000, 1));
    queue.enqueue(makeRow(2, T0 + 3_000, 2));
    queue.enqueue(makeRow(3, T0 + 4_000, 2));
    const batch = queue.nextBatch(2);
    expect(batch?.teamSysNo).toBe(2);
    expect(batch?.rows.map((r) => r.rowId)).toEqual(['punch-2-1', 'punch-2-2']);
    queue.markInFlight(batch!.rows.map((r) => r.rowId), null);
    const next = queue.nextBatch(20);
    expect(next?.teamSysNo).toBe(1);
    expect(next?.rows.map((r) => r.rowId)).toEqual(['punch-1-2', 'punch-1-1']);
  });

  it('returns null when nothing is pending', () => {
    const { queue } = newQueue();
    expect(queue.nextBatch()).toBeNull();
    queue.enqueue(makeRow(1, T0));
    queue.markInFlight(['punch-1-1'], null);
    expect(queue.nextBatch()).toBeNull();
  });

  it('moves rows through in flight to delivered or rejected, and back to pending on failure', () => {
    const { queue, clock } = newQueue();
    for (let i = 1; i <= 4; i++) queue.enqueue(makeRow(i, T0 + i));
    const ids = queue.nextBatch()!.rows.map((r) => r.rowId);
    queue.markInFlight(ids, null);
    queue.recordAttempt(ids);
    queue.markInFlight(ids, 'S1');
    expect(queue.get(ids[0])).toMatchObject({ state: 'in_flight', requestSerialCode: 'S1', attempts: 1 });
    clock.setWall(T0 + 60_000);
    queue.markDelivered(ids[0], 'accepted');
    queue.markDelivered(ids[1], 'duplicate');
    queue.markRejected(ids[2], 'unknown worker');
    queue.returnToPending([ids[3]], 'timeout: no answer');
    expect(queue.get(ids[1])).toMatchObject({ state: 'delivered', result: 'duplicate', settledMs: T0 + 60_000 });
    expect(queue.get(ids[3])).toMatchObject({ state: 'pending', lastError: 'timeout: no answer', requestSerialCode: null });
    expect(queue.counts()).toEqual({ pending: 1, inFlight: 0, delivered: 2, rejected: 1, oldestPendingMs: T0 + 4 });
    // settled rows never move again
    queue.returnToPending([ids[0]], 'late');
    queue.markRejected(ids[0], 'late');
    expect(queue.get(ids[0])).toMatchObject({ state: 'delivered', result: 'accepted' });
  });

  it('takes back the attempt of rows given back before their request went out', () => {
    const { queue } = newQueue();
    queue.enqueue(makeRow(1, T0));
    queue.atomically(() => {
      queue.markInFlight(['punch-1-1'], null);
      queue.recordAttempt(['punch-1-1']);
    });
    queue.returnToPending(['punch-1-1'], 'timeout');
    expect(queue.get('punch-1-1')).toMatchObject({ state: 'pending', attempts: 1 });
    queue.markInFlight(['punch-1-1'], null);
    queue.recordAttempt(['punch-1-1']);
    queue.returnToPending(['punch-1-1'], 'not sent: stopping', { unsent: true });
    expect(queue.get('punch-1-1')).toMatchObject({ state: 'pending', attempts: 1, lastError: 'not sent: stopping' });
  });

  it('lists rejected rows with the reason and a masked ID number', () => {
    const { queue } = newQueue();
    queue.enqueue(makeRow(7, T0));
    queue.markRejected('punch-1-7', 'unknown worker');
    const [view] = queue.rejectedRows(10);
    expect(view).toMatchObject({ rowId: 'punch-1-7', workerId: 'w-1-7', reason: 'unknown worker' });
    expect(view.idNumberMasked).toBe('3101**********007X');
    expect(JSON.stringify(view)).not.toContain(makeRow(7, T0).idNumber);
  });

  it('after a crash re-sends exactly the batch that was in flight, before older rows', () => {
    const { queue } = newQueue();
    for (let i = 1; i <= 30; i++) queue.enqueue(makeRow(i, T0 + i * 1000));
    queue.markInFlight(['punch-1-1', 'punch-1-2'], null); // an earlier request, then returned
    queue.returnToPending(['punch-1-1', 'punch-1-2'], 'timeout');
    const inFlight = ['punch-1-5', 'punch-1-6', 'punch-1-7'];
    queue.markInFlight(inFlight, 'S9');
    expect(queue.recoverInFlight()).toBe(3);
    expect(queue.counts().inFlight).toBe(0);
    const batch = queue.nextBatch(20)!;
    expect(batch.rows.map((r) => r.rowId)).toEqual(inFlight);
    queue.markInFlight(inFlight, null);
    // after that, the usual order again
    expect(queue.nextBatch(3)!.rows.map((r) => r.rowId)).toEqual(['punch-1-1', 'punch-1-2', 'punch-1-3']);
  });

  it('refuses a malformed row with a message naming the field', () => {
    const { queue } = newQueue();
    expect(() => queue.enqueue({ ...makeRow(1, T0), teamSysNo: 1.5 })).toThrow(/teamSysNo/);
    expect(() => queue.enqueue({ ...makeRow(1, T0), direction: 'sideways' as 'in' })).toThrow(/direction/);
    expect(() => queue.enqueue({ ...makeRow(1, T0), idNumber: '' })).toThrow(/idNumber/);
    expect(queue.counts().pending).toBe(0);
  });
});
