import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { batchOf, makeGate, makeIngest, payload, signedBatch, topic } from './ingest-fixture.js';

describe('hub ingest', () => {
  it('stores a verified batch before acknowledging every punch in it', async () => {
    const g = await makeGate('G1');
    const { ingest, store } = makeIngest([g]);
    const batch = signedBatch(g, 3);
    const out = ingest.handle(topic('G1'), payload(batch));
    expect(out.kind).toBe('stored');
    if (out.kind !== 'stored') return;
    expect(out.newEntries).toBe(6);
    expect(out.ack.seq).toBe(5);
    expect(new Set(out.ack.punchIds)).toEqual(new Set(batch.entries.map((e) => e.punchId)));
    expect(store.entryCount('G1')).toBe(6);
    expect(store.chainState('G1')).toMatchObject({ nextSeq: 6 });
  });

  it('acknowledges a replayed batch again but stores it once', async () => {
    const g = await makeGate('G1');
    const { ingest, store } = makeIngest([g]);
    const batch = signedBatch(g, 2);
    ingest.handle(topic('G1'), payload(batch));
    const again = ingest.handle(topic('G1'), payload(batch));
    expect(again).toMatchObject({ kind: 'stored', newEntries: 0, replayed: 4, ack: { seq: 3 } });
    expect(store.entryCount('G1')).toBe(4);
    // a batch that overlaps what is stored adds only the new part
    const more = signedBatch(g, 1, 1);
    expect(ingest.handle(topic('G1'), payload(more))).toMatchObject({ kind: 'stored', newEntries: 2, replayed: 2 });
    expect(store.entryCount('G1')).toBe(6);
    expect(ingest.counters.replayed).toBe(6);
  });

  it('rejects and counts malformed payloads without storing anything', async () => {
    const g = await makeGate('G1');
    const { ingest, store } = makeIngest([g]);
    const good = signedBatch(g, 1);
    const cases: [string, Buffer][] = [
      ['not json', Buffer.from('{{{')],
      ['empty object', payload({})],
      ['bad seq', payload({ ...good, entries: [{ ...good.entries[0], seq: -1 }] })],
      ['extra key', payload({ ...good, extra: 1 })],
      ['bad hash', payload({ ...good, head: { ...good.head, hash: 'XYZ' } })],
    ];
    for (const [, p] of cases) expect(ingest.handle(topic('G1'), p)).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(ingest.counters.malformed).toBe(cases.length);
    expect(store.entryCount('G1')).toBe(0);
    const named = ingest.handle(topic('G1'), payload({ ...good, entries: [{ ...good.entries[0], direction: 'sideways' }] }));
    expect(named.kind === 'rejected' && named.detail).toMatch(/^entries\.0\.direction/);
  });

  it('rejects a payload whose gateId differs from its topic', async () => {
    const a = await makeGate('GA');
    const b = await makeGate('GB');
    const { ingest, store } = makeIngest([a, b]);
    const out = ingest.handle(topic('GB'), payload(signedBatch(a, 1)));
    expect(out).toMatchObject({ kind: 'rejected', reason: 'gate_mismatch' });
    expect(ingest.counters.gate_mismatch).toBe(1);
    expect(store.entryCount('GA') + store.entryCount('GB')).toBe(0);
  });

  it('rejects a forged signature, a batch signed by another gate and a punch from an unknown gate', async () => {
    const a = await makeGate('GA');
    const b = await makeGate('GB');
    const stranger = await makeGate('GX');
    const { ingest, store } = makeIngest([a, b]);
    signedBatch(a, 1);
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(ingest.handle(topic('GA'), payload(batchOf(a, -1, a.journal.head.seq, forger)))).toMatchObject({ kind: 'rejected', reason: 'bad_signature' });
    // GB's key signs GA's chain: fails against GA's pinned certificate
    expect(ingest.handle(topic('GA'), payload(batchOf(a, -1, a.journal.head.seq, b.key)))).toMatchObject({ kind: 'rejected', reason: 'bad_signature' });
    // GB's certificate named in the head: not the one pinned for GA
    const withOtherCert = batchOf(a, -1, a.journal.head.seq, b.key);
    withOtherCert.head.certSha256 = (await import('../../src/core/cert.js')).certSha256(b.certDer);
    expect(ingest.handle(topic('GA'), payload(withOtherCert))).toMatchObject({ kind: 'rejected', reason: 'cert_not_pinned' });
    expect(ingest.handle(topic('GX'), payload(signedBatch(stranger, 1)))).toMatchObject({ kind: 'rejected', reason: 'unknown_gate' });
    expect(ingest.counters.bad_signature).toBe(2);
    expect(ingest.counters.unknown_gate).toBe(1);
    expect(store.entryCount('GA')).toBe(0);
    // the genuine batch still goes in afterwards
    expect(ingest.handle(topic('GA'), payload(batchOf(a, -1, a.journal.head.seq, a.key))).kind).toBe('stored');
  });

  it('detects an altered field even when the head is re-signed by the right key', async () => {
    const g = await makeGate('G1');
    const { ingest, store } = makeIngest([g]);
    const batch = signedBatch(g, 2);
    const altered = structuredClone(batch);
    const first = altered.entries[0];
    if (first.type === 'punch') first.direction = 'out';
    expect(ingest.handle(topic('G1'), payload(altered))).toMatchObject({ kind: 'rejected', reason: 'chain_fork' });
    const lastAltered = structuredClone(batch);
    const last = lastAltered.entries[lastAltered.entries.length - 1];
    if (last.type === 'passage') last.sensorCount = 9;
    expect(ingest.handle(topic('G1'), payload(lastAltered))).toMatchObject({ kind: 'rejected', reason: 'altered' });
    expect(store.entryCount('G1')).toBe(0);
    ingest.handle(topic('G1'), payload(batch));
    // once stored, a different entry at a stored position is an alteration, never stored
    const rewrite = structuredClone(batch);
    if (rewrite.entries[0].type === 'punch') rewrite.entries[0].workerId = 'W666';
    expect(ingest.handle(topic('G1'), payload(rewrite))).toMatchObject({ kind: 'rejected', reason: 'altered' });
    expect(store.entryCount('G1')).toBe(4);
  });

  it('answers a gap with the position it holds so the gate sends again from there', async () => {
    const g = await makeGate('G1');
    const { ingest } = makeIngest([g]);
    ingest.handle(topic('G1'), payload(signedBatch(g, 1)));
    signedBatch(g, 1); // lost on the way
    const after = signedBatch(g, 1, 3);
    const out = ingest.handle(topic('G1'), payload(after));
    expect(out).toMatchObject({ kind: 'rejected', reason: 'chain_gap', ack: { seq: 1, punchIds: [] } });
  });

  it('quarantines punches signed with a certificate that has expired, keeping them', async () => {
    const g = await makeGate('G1', { from: Date.now() - 10 * 86_400_000, to: Date.now() - 86_400_000 });
    const seen: boolean[] = [];
    const { ingest, store } = makeIngest([g], (_id, _n, q) => seen.push(q));
    const out = ingest.handle(topic('G1'), payload(signedBatch(g, 1)));
    expect(out).toMatchObject({ kind: 'stored', quarantined: true });
    expect(seen).toEqual([true]);
    expect(store.entryCount('G1')).toBe(2);
    expect(ingest.counters.quarantined).toBe(2);
  });
});
