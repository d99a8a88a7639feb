// The card path the bench times: an AccessController over the real Journal (SQLite, full sync) and
// RosterStore (1,000 workers with Wiegand cards), and a TurnstileLane on a SimGpioChip whose
// passage sensor is line 3. `openedAt()` is when the lane last opened (performance.now()).
import { join } from 'node:path';
import { systemClock } from '../../dist/core/clock.js';
import { credentialHmac } from '../../dist/core/credential.js';
import { silentLogger } from '../../dist/core/log.js';
import { AccessController } from '../../dist/gate/access-controller.js';
import { Relay } from '../../dist/gate/hw/relay.js';
import { SimGpioChip } from '../../dist/gate/hw/sim/gpio-chip.js';
import { TurnstileLane } from '../../dist/gate/hw/turnstile.js';
import { Journal } from '../../dist/gate/punch/journal.js';
import { RosterStore } from '../../dist/gate/roster/roster-store.js';

export const RIG_WORKERS = 1000;
export const PASSAGE_SENSOR_LINE = 3;

/** The Wiegand number of the rig's worker `i` (0 ≤ i < RIG_WORKERS). */
export const rigCardNumber = (i: number): string => String(100000 + i);

export interface CardRig {
  controller: AccessController;
  journal: Journal;
  chip: SimGpioChip;
  openedAt(): number;
  close(): void;
}

export function openCardRig(dir: string, certSha256 = 'ab'.repeat(32)): CardRig {
  const clock = systemClock;
  const journal = new Journal(join(dir, 'journal.db'), { gateId: 'G1', certSha256, epoch: 1 });
  const siteKey = Buffer.alloc(32, 7);
  const roster = new RosterStore(join(dir, 'roster.db'));
  const workers = Array.from({ length: RIG_WORKERS }, (_, i) => ({
    workerId: `W${i}`, name: 'w', status: 'entered' as const, idValidTo: null,
    credentials: [{ kind: 'wiegand' as const, hmac: credentialHmac(siteKey, 'wiegand', rigCardNumber(i)) }],
  }));
  roster.replace({ version: 1, siteId: 'S1', siteKey: siteKey.toString('hex'), workers });
  const chip = new SimGpioChip(clock, { label: 'bench', lines: 32 });
  let openedAt = 0;
  const lane = new TurnstileLane({
    lane: 'L1',
    relays: { in: new Relay(chip.output({ chip: 'bench', offset: 1 }, 0), clock, { name: 'in' }), out: new Relay(chip.output({ chip: 'bench', offset: 2 }, 0), clock, { name: 'out' }) },
    passageSensor: chip.input({ chip: 'bench', offset: PASSAGE_SENSOR_LINE }, { edge: 'both' }),
    pulseMs: 50, passageTimeoutMs: 2000, passageClearMs: 0,
  }, clock, { opened: () => (openedAt = performance.now()) });
  lane.start();
  const controller = new AccessController({ siteId: 'S1', gateId: 'G1', journal, roster, lanes: new Map([['L1', lane]]), clock, log: silentLogger(), bootId: 'b', clockSynced: () => true });
  return {
    controller,
    journal,
    chip,
    openedAt: () => openedAt,
    close() {
      lane.stop();
      journal.close();
      roster.close();
    },
  };
}
