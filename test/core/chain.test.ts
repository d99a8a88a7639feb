import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/core/canonical.js';
import { entryHash, genesisHash, headMessage, verifyChainSegment } from '../../src/core/chain.js';
import type { PassageEntry } from '../../src/core/entries.js';

const CERT = '11'.repeat(32);

function passage(seq: number, prevHash: string, punchId = '0190a0a0-0000-7000-8000-000000000001'): PassageEntry {
  return { type: 'passage', seq, prevHash, gateId: 'G1', punchId, outcome: 'confirmed', sensorCount: 1, time: { ms: 1, clockSynced: true, bootId: 'b', monoMs: 1 } };
}

describe('hash chain', () => {
  it('genesis depends on gate, certificate and epoch', () => {
    const g = genesisHash('G1', CERT, 1);
    expect(g).toMatch(/^[0-9a-f]{64}$/);
    expect(genesisHash('G2', CERT, 1)).not.toBe(g);
    expect(genesisHash('G1', '22'.repeat(32), 1)).not.toBe(g);
    expect(genesisHash('G1', CERT, 2)).not.toBe(g);
    expect(() => genesisHash('G1', 'xyz', 1)).toThrow(/64 hex/);
  });

  it('hashes canonical JSON: key order does not matter, any field change does', () => {
    const a = passage(0, genesisHash('G1', CERT, 1));
    const reordered = JSON.parse(JSON.stringify({ time: a.time, type: a.type, seq: a.seq, prevHash: a.prevHash, gateId: a.gateId, punchId: a.punchId, outcome: a.outcome, sensorCount: a.sensorCount }));
    expect(canonicalBytes(reordered).equals(canonicalBytes(a))).toBe(true);
    expect(entryHash(reordered)).toBe(entryHash(a));
    expect(entryHash({ ...a, sensorCount: 2 })).not.toBe(entryHash(a));
  });

  it('names gate, seq and hash in the signed head message', () => {
    expect(headMessage('G1', 7, 'ab').toString()).toBe('sitegate-head-v1\nG1\n7\nab');
  });

  it('reports gaps, forks, foreign entries and a head that does not match', () => {
    const g = genesisHash('G1', CERT, 1);
    const e0 = passage(0, g);
    const e1 = passage(1, entryHash(e0));
    const e2 = passage(2, entryHash(e1));
    const start = { nextSeq: 0, prevHash: g };
    expect(verifyChainSegment('G1', start, [e0, e1, e2], { seq: 2, hash: entryHash(e2) }).ok).toBe(true);
    expect(verifyChainSegment('G1', start, [e0, e2], { seq: 2, hash: entryHash(e2) })).toMatchObject({ ok: false, problem: { kind: 'gap' } });
    expect(verifyChainSegment('G1', start, [e0, { ...e1, prevHash: g }], { seq: 1, hash: 'x' })).toMatchObject({ ok: false, problem: { kind: 'fork' } });
    expect(verifyChainSegment('G1', start, [{ ...e0, gateId: 'G2' }], { seq: 0, hash: 'x' })).toMatchObject({ ok: false, problem: { kind: 'gateMismatch' } });
    expect(verifyChainSegment('G1', start, [e0, e1], { seq: 1, hash: entryHash(e2) })).toMatchObject({ ok: false, problem: { kind: 'headMismatch' } });
  });
});
