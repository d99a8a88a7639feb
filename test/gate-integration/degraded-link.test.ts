import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { pkcs11Library, SOFTHSM_MODULE, type Pkcs11 } from '../../src/gate/punch/pkcs11-session.js';
import { Pkcs11Signer } from '../../src/gate/punch/signer.js';
import { PINS, gateConfig, newGate, simWorld, startSite, waitFor, wiegandReader, type SimWorld, type TestSite } from './harness.js';

/** The real PKCS#11 library behind a switch: while pulled, opening a session says CKR_TOKEN_NOT_PRESENT, as a real token does. */
function pullableToken(real: Pkcs11): { pkcs11: Pkcs11; pulled: { on: boolean; refused: number } } {
  const pulled = { on: true, refused: 0 };
  const pkcs11 = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (pulled.on && (prop === 'C_OpenSession' || prop === 'C_Sign' || prop === 'C_SignAsync')) {
          pulled.refused++;
          throw new pkcs11js.Pkcs11Error('CKR_TOKEN_NOT_PRESENT', pkcs11js.CKR_TOKEN_NOT_PRESENT, String(prop));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { pkcs11, pulled };
}

// Degraded states that involve the world outside the gate: the broker and the token. Real
// mosquitto, a real SoftHSM2 token, an in-process hub that acknowledges.
describe('a gate without its broker or its token', () => {
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate | null = null;
  const punches: PunchEntry[] = [];
  const acked = new Set<string>();

  beforeAll(async () => {
    site = await startSite('link', { hub: true });
    world = simWorld(systemClock);
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await site?.stop();
  });

  async function run(g: Gate): Promise<Gate> {
    gate = g;
    g.on('punch', (p) => punches.push(p));
    g.on('acked', (ids) => ids.forEach((id) => acked.add(id)));
    await g.start();
    return g;
  }

  async function swipe(g: Gate): Promise<PunchEntry> {
    const n = punches.length;
    const pulses = world.chip.pulses(PINS.relayIn);
    new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await waitFor(() => punches.length > n, 5000, 'the punch');
    await waitFor(() => world.chip.pulses(PINS.relayIn) === pulses + 1, 5000, 'the relay pulse');
    await waitFor(() => !g.laneBusy('L1'), 5000, 'the passage');
    return punches.at(-1)!;
  }

  it('starts, decides and journals with the broker down, and delivers once it is back', async () => {
    await site.broker.stop();
    const g = await run(newGate(gateConfig(site, [wiegandReader], { stateDir: join(site.dir, 'gate-a') }), world));
    const p = await swipe(g);
    expect(p).toMatchObject({ decision: 'granted', workerId: 'W1' });
    await waitFor(() => g.faults.has('hub_unreachable'), 5000, 'the hub_unreachable fault');
    const down = g.snapshot();
    expect(down.hub.connected).toBe(false);
    expect(down.journal.unacked).toBe(2); // the punch and its passage
    expect(g.healthy().ok).toBe(true);

    await site.broker.start();
    await waitFor(() => acked.has(p.punchId), 30_000, 'the hub acknowledging after the outage');
    await waitFor(() => g.journal.unackedCount() === 0, 10_000, 'every entry acknowledged');
    expect(g.faults.has('hub_unreachable')).toBe(false);
    await g.stop();
    gate = null;
  }, 60_000);

  it('starts without its token, lets workers through, and signs the waiting punches when it appears', async () => {
    // the same gate as above (one gate, one chain at the hub): its first start read the token once
    const stateDir = join(site.dir, 'gate-a');
    expect(existsSync(join(stateDir, 'gate-cert.der'))).toBe(true);
    const { pkcs11, pulled } = pullableToken(pkcs11Library(SOFTHSM_MODULE));
    const signer = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: site.token.tokenLabel, keyLabel: 'punch-signing', pin: '246810', mechanism: 'ecdsa-p256', pkcs11 });
    const g = await run(newGate(gateConfig(site, [wiegandReader], { stateDir }), world, { signer }));
    expect(g.token.state).toBe('no_token');
    expect(g.faults.has('token_unavailable')).toBe(true);
    expect(g.snapshot().token.certDer?.length).toBeGreaterThan(0); // the kept certificate still names the gate
    const p1 = await swipe(g);
    expect(p1).toMatchObject({ decision: 'granted', workerId: 'W1' });
    expect(p1.prevHash).not.toBe(g.journal.genesisHash);
    const refused = pulled.refused;
    await waitFor(() => pulled.refused > refused, 10_000, 'a signing retry while the token is away');
    expect(g.signing.stats.unsigned).toBeGreaterThanOrEqual(2);
    expect(acked.has(p1.punchId)).toBe(false);

    pulled.on = false;
    await waitFor(() => acked.has(p1.punchId), 15_000, 'the punches signed and acknowledged once the token is back');
    expect(g.token.state).toBe('ready');
    expect(g.faults.has('token_unavailable')).toBe(false);
    await g.stop();
    gate = null;
  }, 60_000);

  it('refuses to start on a fresh gate whose token was never read (no chain identity)', async () => {
    const { pkcs11 } = pullableToken(pkcs11Library(SOFTHSM_MODULE));
    const signer = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: site.token.tokenLabel, keyLabel: 'punch-signing', pin: '246810', mechanism: 'ecdsa-p256', pkcs11 });
    const g = newGate(gateConfig(site, [wiegandReader], { stateDir: join(site.dir, 'gate-c') }), simWorld(systemClock), { signer });
    await expect(g.start()).rejects.toMatchObject({ code: 'token_never_read' });
    await g.stop();
  });
});
