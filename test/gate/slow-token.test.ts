import { sign as cryptoSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certSha256 } from '../../src/core/cert.js';
import { headMessage, verifyChainSegment } from '../../src/core/chain.js';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { ChainSigning, type ChainSigner } from '../../src/gate/punch/chain-signing.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { makeGate, punchBody } from '../hub/ingest-fixture.js';

const PUNCHES = process.env.SITEGATE_SOAK ? 50_000 : 5_000;
const SIGN_MS = 200;
const PUNCH_EVERY_MS = 10; // 100 punches per second of the injected clock

describe('a slow token signs the chain head, not every punch', () => {
  it(`${PUNCHES} punches at 100/s with 200 ms per signature: all verify through signed heads, backlog ≤ 50`, async () => {
    const clock = new ManualClock();
    const gate = await makeGate('G-SLOW');
    let signCalls = 0;
    const slowSigner: ChainSigner = {
      sigAlg: 'ECDSA-P256-SHA256',
      certSha256: () => certSha256(gate.certDer),
      sign: (message) =>
        new Promise((resolve) => {
          signCalls++;
          clock.setTimeout(() => resolve(cryptoSign('sha256', message, { key: gate.key, dsaEncoding: 'ieee-p1363' })), SIGN_MS);
        }),
    };
    const signing = new ChainSigning({
      journal: gate.journal,
      signer: slowSigner,
      clock,
      log: silentLogger(),
      maxEntriesPerSignature: 100,
      retryMs: 1000,
    });
    let maxBacklog = 0;
    for (let i = 0; i < PUNCHES; i++) {
      gate.journal.appendPunch(punchBody(gate.gateId));
      signing.kick();
      maxBacklog = Math.max(maxBacklog, signing.unsignedCount());
      await clock.advance(PUNCH_EVERY_MS);
    }
    await clock.runUntil(() => signing.unsignedCount() === 0, 10_000);
    signing.stop();

    // Walk the whole chain from the genesis, head by head, checking each signature.
    const heads = gate.journal.signedHeadsAfter(-1, 1_000_000);
    let start = { nextSeq: 0, prevHash: gate.journal.genesisHash };
    let covered = 0;
    for (const h of heads) {
      const entries = gate.journal.entriesBetween(start.nextSeq - 1, h.seq, 1_000).map((e) => e.entry);
      const check = verifyChainSegment(gate.gateId, start, entries, h);
      expect(check.ok).toBe(true);
      const sigOk = verifyHeadSignature(gate.certDer, h.sigAlg, headMessage(gate.gateId, h.seq, h.hash), Buffer.from(h.sig, 'base64'));
      expect(sigOk).toBe(true);
      covered += entries.length;
      start = { nextSeq: h.seq + 1, prevHash: h.hash };
    }
    console.log(`slow token: ${PUNCHES} punches, ${signCalls} signatures, max unsigned backlog ${maxBacklog}`);
    expect(covered).toBe(PUNCHES);
    expect(heads.at(-1)!.seq).toBe(PUNCHES - 1);
    expect(maxBacklog).toBeLessThanOrEqual(50);
    // one signature per punch would need 1,000 s of token time for 5,000 punches; the run took 50 s
    expect(signCalls).toBeLessThan(PUNCHES / 10);
    gate.journal.close();
  });
});
