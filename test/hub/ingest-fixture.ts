import { createHash, createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certSha256 } from '../../src/core/cert.js';
import { headMessage } from '../../src/core/chain.js';
import type { PunchBatch, PunchBody } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { silentLogger } from '../../src/core/log.js';
import { Journal } from '../../src/gate/punch/journal.js';
import { buildSelfSignedCertificate } from '../../src/gate/punch/token-provision.js';
import { Ingest, pinGate, type PinnedGate } from '../../src/hub/ingest.js';
import { HubStore } from '../../src/hub/store.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';

/** A gate with a software P-256 key (the SoftHSM path is covered by test/signer and test/e2e). */
export interface TestGate {
  gateId: string;
  key: KeyObject;
  certDer: Buffer;
  journal: Journal;
}

export async function makeGate(gateId: string, validity = { from: Date.now() - 86_400_000, to: Date.now() + 365 * 86_400_000 }): Promise<TestGate> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certDer = await buildSelfSignedCertificate({
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    sigAlg: 'ECDSA-P256-SHA256',
    subjectCN: gateId,
    notBefore: new Date(validity.from),
    notAfter: new Date(validity.to),
    sign: async (tbs) => cryptoSign('sha256', tbs, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  });
  const dir = mkdtempSync(join(tmpdir(), `ingest-${gateId}-`));
  const journal = new Journal(join(dir, 'journal.db'), { gateId, certSha256: certSha256(certDer), epoch: 1 });
  return { gateId, key: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })), certDer, journal };
}

export function punchBody(gateId: string, workerId = 'W1'): PunchBody {
  return {
    punchId: newPunchId(),
    gateId,
    siteId: 'S1',
    lane: 'L1',
    direction: 'in',
    time: { ms: Date.now(), clockSynced: true, bootId: 'boot', monoMs: 5 },
    workerId,
    credential: { kind: 'wiegand', hmac: createHash('sha256').update(workerId).digest('hex') },
    decision: 'granted',
    reason: 'ok',
    face: null,
    photoHash: null,
  };
}

/** Appends `n` punches with confirmed passages and returns a signed batch of everything after `afterSeq`. */
export function signedBatch(g: TestGate, n: number, afterSeq = g.journal.head.seq): PunchBatch {
  for (let i = 0; i < n; i++) {
    const p = g.journal.appendPunch(punchBody(g.gateId));
    g.journal.appendPassage({ gateId: g.gateId, punchId: p.punchId, outcome: 'confirmed', sensorCount: 1, time: p.time });
  }
  return batchOf(g, afterSeq, g.journal.head.seq, g.key);
}

export function batchOf(g: TestGate, afterSeq: number, uptoSeq: number, key: KeyObject): PunchBatch {
  const entries = g.journal.entriesBetween(afterSeq, uptoSeq, 1000).map((e) => e.entry);
  const hash = g.journal.hashAt(uptoSeq)!;
  const sig = cryptoSign('sha256', headMessage(g.gateId, uptoSeq, hash), { key, dsaEncoding: 'ieee-p1363' });
  return {
    gateId: g.gateId,
    epoch: 1,
    entries,
    head: { seq: uptoSeq, hash, sigAlg: 'ECDSA-P256-SHA256', sig: sig.toString('base64'), certSha256: certSha256(g.certDer) },
  };
}

export function pin(g: TestGate): PinnedGate {
  return pinGate(g.gateId, 1, g.certDer);
}

export function makeIngest(gates: TestGate[], onStored?: (gateId: string, n: number, quarantined: boolean) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'hubstore-'));
  const store = new HubStore(join(dir, 'hub.db'));
  const pinned = new Map(gates.map((g) => [g.gateId, pin(g)]));
  const ingest = new Ingest({
    siteId: 'S1',
    store,
    gates: () => pinned,
    verify: verifyHeadSignature,
    now: () => Date.now(),
    log: silentLogger(),
    onStored: (gateId, entries, q) => onStored?.(gateId, entries.length, q),
  });
  return { ingest, store };
}

export const topic = (gateId: string) => `sitegate/v1/S1/gate/${gateId}/punch`;
export const payload = (b: unknown) => Buffer.from(JSON.stringify(b));
