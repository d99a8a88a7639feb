// Fixture child for the outage test: takes `count` punches in the gate's own state directory
// through the gate's AccessController and Journal (built code from dist/), standing in only for
// the reader and the turnstile: each read is a rostered worker's card, each grant's passage is
// confirmed at once. Run by the pinned Node 24 (type stripping) while the gate daemon is down,
// since one journal has one writer. Prints one JSON line: { punches, entries, head, pragmas }.
//
// Usage: node test/crash/fill-journal.ts '{"stateDir":…,"siteId":…,"gateId":…,"certSha256":…,"epoch":1,"count":5000,"cards":["1376232",…]}'
import { join } from 'node:path';
import { AccessController } from '../../dist/gate/access-controller.js';
import { Journal } from '../../dist/gate/punch/journal.js';
import { RosterStore } from '../../dist/gate/roster/roster-store.js';
import { systemClock } from '../../dist/core/clock.js';
import { silentLogger } from '../../dist/core/log.js';

interface FillArgs {
  stateDir: string;
  siteId: string;
  gateId: string;
  certSha256: string;
  epoch: number;
  count: number;
  /** Wiegand values (as the reader reports them) of rostered workers, used in turn */
  cards: string[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as FillArgs;
const journal = new Journal(join(args.stateDir, 'journal.db'), { gateId: args.gateId, certSha256: args.certSha256, epoch: args.epoch });
const roster = new RosterStore(join(args.stateDir, 'roster.db'));
const lane = {
  busy: false,
  open: () => Promise.resolve({ outcome: 'confirmed' as const, sensorCount: 1 }),
};
const controller = new AccessController({
  siteId: args.siteId,
  gateId: args.gateId,
  journal,
  roster,
  lanes: new Map([['L1', lane]]),
  clock: systemClock,
  log: silentLogger(),
  bootId: 'outage-fixture',
  clockSynced: () => true,
});
const before = journal.head.seq;
let punches = 0;
let granted = 0;
for (let i = 0; i < args.count; i++) {
  const p = controller.handle({ kind: 'wiegand', number: args.cards[i % args.cards.length], lane: 'L1', direction: 'in', readAtMono: systemClock.monotonic() });
  if (!p) throw new Error(`read ${i} produced no punch`);
  punches++;
  if (p.decision === 'granted') granted++;
  // let the passage (a resolved promise) be journalled before the next read, as on a turnstile
  await new Promise((resolve) => setImmediate(resolve));
}
const pragmas = journal.pragmas();
const open = journal.danglingGrantedPunches().length;
const out = { punches, granted, entries: journal.head.seq - before, head: journal.head.seq, openPassages: open, pragmas };
journal.close();
roster.close();
process.stdout.write(JSON.stringify(out) + '\n');
