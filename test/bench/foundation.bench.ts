// Foundation figures: card → relay through the real journal (SQLite, full sync) while a
// SoftHSM token signs the chain in the background; swipe → hub acknowledgment on the demo site.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, sleep } from '../../dist/core/clock.js';
import { silentLogger } from '../../dist/core/log.js';
import { percentile } from '../../dist/core/stats.js';
import { ChainSigning } from '../../dist/gate/punch/chain-signing.js';
import { Pkcs11Signer } from '../../dist/gate/punch/signer.js';
import { provisionSoftHsmToken } from '../../dist/gate/punch/token-provision.js';
import { DemoSite } from '../../dist/demo/site.js';
import { openCardRig, PASSAGE_SENSOR_LINE, RIG_WORKERS, rigCardNumber } from './card-rig.ts';
import { benchHsmBase, benchSoftHsmDir } from './softhsm-dir.ts';

const r2 = (v: number) => Math.round(v * 100) / 100;

export default async function foundation(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-foundation-'));
  try {
    const relay = await cardToRelay(dir);
    const hub = await punchToHub();
    return { ...relay, ...hub };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cardToRelay(dir: string) {
  const log = silentLogger();
  const clock = systemClock;
  const token = await provisionSoftHsmToken({
    dir: benchSoftHsmDir(), tokenLabel: 'bench-gate', keyLabel: 'k', pin: '1234', soPin: '5678', keyType: 'ec-p256', subjectCN: 'bench', validDays: 30,
  });
  const signer = new Pkcs11Signer({ modulePath: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'bench-gate', keyLabel: 'k', pin: '1234', mechanism: 'ecdsa-p256' });
  await signer.open();
  const card = openCardRig(dir, token.certSha256);
  const { controller, journal, chip } = card;
  const signing = new ChainSigning({ journal, signer, clock, log, maxEntriesPerSignature: 100, retryMs: 1000 });
  controller.on('journalled', () => signing.kick());
  const lat: number[] = [];
  for (let i = 0; i < RIG_WORKERS; i++) {
    const t0 = performance.now();
    controller.handle({ kind: 'wiegand', number: rigCardNumber(i), lane: 'L1', direction: 'in', readAtMono: clock.monotonic() });
    lat.push(card.openedAt() - t0);
    chip.inject(PASSAGE_SENSOR_LINE, 1);
    chip.inject(PASSAGE_SENSOR_LINE, 0);
    await sleep(clock, 1);
  }
  while (signing.unsignedCount() > 0) await sleep(clock, 5);
  const rss = process.memoryUsage().rss / 2 ** 20;
  signing.stop();
  card.close();
  await signer.close();
  return { card_to_relay_p50_ms: r2(percentile(lat, 50)), card_to_relay_p99_ms: r2(percentile(lat, 99)), gate_rss_mb: Math.round(rss) };
}

/** The demo site keeps its tokens in `<dir>/softhsm`: the bench process's one SoftHSM directory. */
async function punchToHub() {
  const site = new DemoSite({ dir: benchHsmBase(), log: silentLogger(), arrivals: 30, departures: 10, platformRate: { requests: 20, windowMs: 1000 }, pacing: { minSpacingMs: 50, pollDelayMs: 50 } });
  await site.start();
  try {
    await site.replay();
    await site.settle(60_000);
    const toHub = [...site.tracker.paths.values()].filter((p) => p.ackedAt !== null).map((p) => p.ackedAt! - p.swipeAt);
    return { punch_to_hub_p50_ms: r2(percentile(toHub, 50)), punch_to_hub_p99_ms: r2(percentile(toHub, 99)) };
  } finally {
    await site.stop();
  }
}
