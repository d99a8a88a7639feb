// PN532 figures on the real clock, over the production protocol and I2C transport code, with the
// simulated chip behind them:
//   pn532_poll_to_uid_p50_ms / _p99_ms: from a card being placed in the simulated field to the
//     reader's `credential` event. It includes waiting for the next poll (default every 50 ms, the
//     card lands at a random moment of the cycle), the InListPassiveTarget exchange (command, ACK,
//     header, NACK, response: 9 transactions plus ready-bit polls every 2 ms), the chip's assumed
//     processing times (ACK 0.5 ms, a poll without a card 2 × 2.5 ms, with a card 6 ms: not measured
//     on a chip), and the wire at 100 kHz (90 µs a byte, address bytes included).
//   pn532_list_exchange_p50_ms: one InListPassiveTarget exchange alone with a card present.
// Wire time is a busy-wait (timers cannot express 90 µs); a real i2c-bus transfer waits in the
// libuv pool instead, so the event loop is busier here than on a board.
import { systemClock, sleep } from '../../dist/core/clock.js';
import { percentile } from '../../dist/core/stats.js';
import { Pn532 } from '../../dist/gate/hw/pn532.js';
import { Pn532I2cTransport } from '../../dist/gate/hw/pn532-i2c.js';
import { Pn532Reader } from '../../dist/gate/hw/pn532-reader.js';
import { Pn532Sim } from '../../dist/gate/hw/sim/pn532-sim.js';

const r2 = (v: number) => Math.round(v * 100) / 100;
const spin = async (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the bus is busy
  }
};

function chip() {
  const sim = new Pn532Sim(systemClock, { byteTimeUs: 90, wait: spin });
  const pn532 = new Pn532(new Pn532I2cTransport({ bus: 1, openBus: async () => sim }), systemClock);
  return { sim, pn532 };
}

export default async function pn532(): Promise<Record<string, number>> {
  return { ...(await pollToUid(150)), ...(await exchange(100)) };
}

async function pollToUid(trials: number) {
  const { sim, pn532 } = chip();
  const reader = new Pn532Reader(pn532, systemClock);
  let onCard: ((mono: number) => void) | null = null;
  reader.on('credential', () => onCard?.(performance.now()));
  reader.start();
  while (reader.health().state !== 'ok') await sleep(systemClock, 10);
  const lat: number[] = [];
  for (let i = 0; i < trials; i++) {
    await sleep(systemClock, Math.random() * 60);
    const uid = Buffer.alloc(7);
    uid.writeUInt32BE(0x04000000 + i, 0);
    const seen = new Promise<number>((resolve) => (onCard = resolve));
    const t0 = performance.now();
    sim.placeCard(uid);
    lat.push((await seen) - t0);
    sim.removeCard();
  }
  await reader.stop();
  return { pn532_poll_to_uid_p50_ms: r2(percentile(lat, 50)), pn532_poll_to_uid_p99_ms: r2(percentile(lat, 99)) };
}

async function exchange(rounds: number) {
  const { sim, pn532 } = chip();
  await pn532.open();
  await pn532.samConfigure();
  await pn532.setPassiveActivationRetries(1);
  sim.placeCard('04A1B2C3D4E5F6');
  const lat: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await pn532.listPassiveTarget();
    lat.push(performance.now() - t0);
  }
  await pn532.close();
  return { pn532_list_exchange_p50_ms: r2(percentile(lat, 50)) };
}
