// Punch durability figures (issue 4): token signing rates, journal commits, the hub's verified
// ingest, a 50,000-punch backlog drained to the hub's acknowledgment over the real broker, and
// the time to open and resume a journal holding 500,000 unacknowledged rows.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certSha256, derToPem } from '../../dist/core/cert.js';
import { headMessage } from '../../dist/core/chain.js';
import { sleep, systemClock } from '../../dist/core/clock.js';
import { newPunchId } from '../../dist/core/ids.js';
import { silentLogger } from '../../dist/core/log.js';
import { hubConfigSchema } from '../../dist/config/hub-config.js';
import { MosquittoBroker } from '../../dist/demo/mosquitto.js';
import { ChainSigning } from '../../dist/gate/punch/chain-signing.js';
import { Journal } from '../../dist/gate/punch/journal.js';
import { Publisher } from '../../dist/gate/punch/publisher.js';
import { Pkcs11Signer } from '../../dist/gate/punch/signer.js';
import { buildSelfSignedCertificate, provisionSoftHsmToken } from '../../dist/gate/punch/token-provision.js';
import { Hub } from '../../dist/hub/hub.js';
import { Ingest, pinGate } from '../../dist/hub/ingest.js';
import { HubStore } from '../../dist/hub/store.js';
import { verifyHeadSignature } from '../../dist/hub/verify-signature.js';
import { connectMqtt } from '../../dist/mqtt/client.js';

import { benchSoftHsmDir } from './softhsm-dir.ts';
const r1 = (v: number) => Math.round(v * 10) / 10;
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';

export default async function punches(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-punches-'));
  try {
    const out: Record<string, number> = {};
    // every token of this process lives in one SoftHSM directory (PKCS#11 is initialised once)
    const hsm = benchSoftHsmDir();
    const p256 = await token(hsm, 'bench-p256', 'ec-p256');
    const rsa = await token(hsm, 'bench-rsa', 'rsa-2048');
    out.sign_rsa2048_per_s = await signRate(rsa, 'rsa-sha256');
    out.sign_p256_per_s = await signRate(p256, 'ecdsa-p256');
    out.journal_commit_per_s = journalCommits(dir);
    out.hub_ingest_verified_per_s = await hubIngest(dir);
    out.gate_backlog_drain_per_s = await backlogDrain(dir, p256);
    out.journal_recover_ms_500k = journalRecover(dir);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function token(dir: string, label: string, keyType: 'ec-p256' | 'rsa-2048') {
  await provisionSoftHsmToken({ dir, tokenLabel: label, keyLabel: 'k', pin: '1234', soPin: '5678', keyType, subjectCN: label, validDays: 30 });
  return label;
}

async function signRate(label: string, mechanism: 'rsa-sha256' | 'ecdsa-p256'): Promise<number> {
  const signer = new Pkcs11Signer({ modulePath: SOFTHSM, tokenLabel: label, keyLabel: 'k', pin: '1234', mechanism });
  await signer.open();
  const msg = headMessage('G1', 1, 'ab'.repeat(32));
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) {
    await signer.sign(msg);
    n++;
  }
  const rate = (n * 1000) / (performance.now() - t0);
  await signer.close();
  return Math.round(rate);
}

function punchBody(gateId: string) {
  return {
    punchId: newPunchId(), gateId, siteId: 'S1', lane: 'L1', direction: 'in' as const,
    time: { ms: Date.now(), clockSynced: true, bootId: 'b', monoMs: 1 }, workerId: 'W1',
    credential: { kind: 'wiegand' as const, hmac: 'cd'.repeat(32) }, decision: 'granted' as const, reason: 'ok', face: null, photoHash: null,
  };
}

function journalCommits(dir: string): number {
  const j = new Journal(join(dir, 'commits.db'), { gateId: 'G1', certSha256: 'ab'.repeat(32), epoch: 1 });
  const n = 5000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) j.appendPunch(punchBody('G1'));
  const rate = (n * 1000) / (performance.now() - t0);
  j.close();
  return Math.round(rate);
}

async function softwareGate(dir: string, gateId: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certDer: Buffer = await buildSelfSignedCertificate({
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }), sigAlg: 'ECDSA-P256-SHA256', subjectCN: gateId,
    notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000 * 30),
    sign: async (tbs: Buffer) => cryptoSign('sha256', tbs, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  });
  const journal = new Journal(join(dir, `${gateId}.db`), { gateId, certSha256: certSha256(certDer), epoch: 1 });
  return { gateId, certDer, journal, key: privateKey };
}

/** Batches of 100 entries (50 punches, 50 passages) verified and stored by the hub's ingest, no network. */
async function hubIngest(dir: string): Promise<number> {
  const g = await softwareGate(dir, 'G-ING');
  const batches: Buffer[] = [];
  for (let b = 0; b < 200; b++) {
    const after = g.journal.head.seq;
    for (let i = 0; i < 50; i++) {
      const p = g.journal.appendPunch(punchBody(g.gateId));
      g.journal.appendPassage({ gateId: g.gateId, punchId: p.punchId, outcome: 'confirmed', sensorCount: 1, time: p.time });
    }
    const seq = g.journal.head.seq;
    const hash = g.journal.hashAt(seq)!;
    const sig = cryptoSign('sha256', headMessage(g.gateId, seq, hash), { key: g.key, dsaEncoding: 'ieee-p1363' }).toString('base64');
    const entries = g.journal.entriesBetween(after, seq, 1000).map((e: { entry: unknown }) => e.entry);
    batches.push(Buffer.from(JSON.stringify({ gateId: g.gateId, epoch: 1, entries, head: { seq, hash, sigAlg: 'ECDSA-P256-SHA256', sig, certSha256: certSha256(g.certDer) } })));
  }
  const store = new HubStore(join(dir, 'hub-ingest.db'));
  const pinned = new Map([[g.gateId, pinGate(g.gateId, 1, g.certDer)]]);
  const ingest = new Ingest({ siteId: 'S1', store, gates: () => pinned, verify: verifyHeadSignature, now: () => Date.now(), log: silentLogger() });
  const t0 = performance.now();
  for (const b of batches) {
    const o = ingest.handle(`sitegate/v1/S1/gate/${g.gateId}/punch`, b);
    if (o.kind !== 'stored') throw new Error(`bench batch rejected: ${o.reason}`);
  }
  const rate = (batches.length * 100 * 1000) / (performance.now() - t0);
  store.close();
  g.journal.close();
  return Math.round(rate);
}

/** 50,000 punches journalled while the hub was away, then signed (SoftHSM) and published until the hub acknowledged them all. */
async function backlogDrain(dir: string, tokenLabel: string): Promise<number> {
  const log = silentLogger();
  const broker = new MosquittoBroker({ dir: join(dir, 'broker'), siteId: 'S1', hub: { user: 'hub', password: 'hub-pw' }, gates: [{ gateId: 'G1', password: 'g1-pw' }] });
  await broker.start();
  const signer = new Pkcs11Signer({ modulePath: SOFTHSM, tokenLabel, keyLabel: 'k', pin: '1234', mechanism: 'ecdsa-p256' });
  await signer.open();
  const journal = new Journal(join(dir, 'drain.db'), { gateId: 'G1', certSha256: signer.certSha256(), epoch: 1 });
  journal.db.transaction(() => {
    for (let i = 0; i < 50_000; i++) journal.appendPunch({ ...punchBody('G1'), decision: 'denied', reason: 'not_registered', workerId: null });
  })();
  writeFileSync(join(dir, 'g1.pem'), derToPem(signer.certificateDer()));
  writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
  writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
  writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workers: [] }));
  const config = hubConfigSchema.parse({
    siteId: 'S1', stateDir: join(dir, 'hub'),
    mqtt: { url: broker.url, passwordFile: join(dir, 'hub.pw') },
    gates: [{ gateId: 'G1', certFile: join(dir, 'g1.pem') }],
    registry: { workersFile: join(dir, 'registry.json') },
    platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecretFile: join(dir, 'secret'), mode: 'joint-test' },
  });
  const hub = new Hub({ config, log });
  await hub.start();
  const client = await connectMqtt({ url: broker.url, username: 'G1', password: 'g1-pw', clientId: 'bench-g1', clean: false, sessionExpirySec: 3600, log });
  const clock = systemClock;
  const t0 = performance.now();
  const signing = new ChainSigning({ journal, signer, clock, log, maxEntriesPerSignature: 100, retryMs: 1000 });
  const publisher = new Publisher({ journal, client, siteId: 'S1', clock, log, batchSize: 100, maxInFlight: 8, ackTimeoutMs: 15_000 });
  signing.on('signed', () => publisher.kick());
  publisher.start();
  signing.kick();
  while (journal.unackedCount() > 0 && performance.now() - t0 < 300_000) await sleep(clock, 20);
  const rate = (50_000 * 1000) / (performance.now() - t0);
  signing.stop();
  publisher.stop();
  await client.endAsync();
  await hub.stop();
  await broker.stop();
  await signer.close();
  journal.close();
  return Math.round(rate);
}

/**
 * Opening a journal with 500,000 unacknowledged punches (each with its passage entry, the last
 * three cut short by the crash) and finding where to resume.
 */
function journalRecover(dir: string): number {
  const path = join(dir, 'recover.db');
  const identity = { gateId: 'G1', certSha256: 'ab'.repeat(32), epoch: 1 };
  const j = new Journal(path, identity);
  j.db.transaction(() => {
    for (let i = 0; i < 500_000; i++) {
      const p = j.appendPunch(punchBody('G1'));
      if (i < 500_000 - 3) j.appendPassage({ gateId: 'G1', punchId: p.punchId, outcome: 'confirmed', sensorCount: 1, time: p.time });
    }
  })();
  j.close();
  const t0 = performance.now();
  const again = new Journal(path, identity);
  if (again.danglingGrantedPunches().length !== 3) throw new Error('journal lost track of open passages'); // start-up closes these
  again.ackedThrough();
  again.signedHeadsAfter(again.ackedThrough(), 64);
  const ms = performance.now() - t0;
  again.close();
  return r1(ms);
}
