import { ManualClock } from '../../src/core/manual-clock.js';
import { Pn532, type Pn532Options } from '../../src/gate/hw/pn532.js';
import { Pn532I2cTransport } from '../../src/gate/hw/pn532-i2c.js';
import { Pn532Sim, type Pn532SimOptions } from '../../src/gate/hw/sim/pn532-sim.js';

/** A simulated PN532 behind the production I2C transport, on a ManualClock. */
export function pn532Rig(opts: { sim?: Pn532SimOptions; pn532?: Pn532Options } = {}) {
  const clock = new ManualClock();
  const sim = new Pn532Sim(clock, opts.sim);
  const transport = new Pn532I2cTransport({ bus: 1, openBus: async () => sim });
  const pn532 = new Pn532(transport, clock, opts.pn532);
  return { clock, sim, transport, pn532 };
}

/** Advances the clock in 1 ms steps until the promise settles; returns its outcome. */
export async function settle<T>(clock: ManualClock, p: Promise<T>, maxMs = 5000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
  p.then((value) => (outcome = { ok: true, value }), (error) => (outcome = { ok: false, error }));
  await clock.runUntil(() => outcome !== null, maxMs, 1);
  if (!outcome) throw new Error(`still pending after ${maxMs} ms on the manual clock`);
  return outcome;
}

export async function value<T>(clock: ManualClock, p: Promise<T>, maxMs?: number): Promise<T> {
  const o = await settle(clock, p, maxMs);
  if (!o.ok) throw o.error;
  return o.value;
}

export async function failure(clock: ManualClock, p: Promise<unknown>, maxMs?: number): Promise<unknown> {
  const o = await settle(clock, p, maxMs);
  if (o.ok) throw new Error('expected a failure, got a value');
  return o.error;
}
