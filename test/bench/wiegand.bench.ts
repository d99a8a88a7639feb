// Wiegand: from the end of a frame's silence (last pulse + frame gap) to the reader's frame event,
// on the real clock, through the simulated chip, the edge source and the decoder.
import { systemClock } from '../../dist/core/clock.js';
import { percentile } from '../../dist/core/stats.js';
import { SimGpioChip } from '../../dist/gate/hw/sim/gpio-chip.js';
import { WiegandSim } from '../../dist/gate/hw/sim/wiegand-sim.js';
import { GpioEdgeSource, WiegandReader } from '../../dist/gate/hw/wiegand-reader.js';

const FRAMES = 300;
const GAP_MS = 25;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

export default async function wiegand(): Promise<Record<string, number>> {
  const chip = new SimGpioChip(systemClock, { label: 'bench', lines: 8, initial: { 5: 1, 6: 1 } });
  const sim = new WiegandSim(chip, systemClock, { d0: 5, d1: 6 });
  const reader = new WiegandReader(new GpioEdgeSource(chip, { d0: { chip: 'bench', offset: 5 }, d1: { chip: 'bench', offset: 6 } }), systemClock, { frameGapMs: GAP_MS });
  const latencies: number[] = [];
  let lastPulseAt = 0;
  let resolveFrame: (() => void) | null = null;
  reader.on('frame', () => {
    latencies.push(performance.now() - (lastPulseAt + GAP_MS));
    resolveFrame?.();
  });
  reader.start();
  try {
    for (let i = 0; i < FRAMES; i++) {
      const done = new Promise<void>((r) => (resolveFrame = r));
      // The simulator injects the whole frame at once: its last pulse is "now".
      if (i % 2) sim.sendCard26(i % 256, i);
      else sim.sendCard34(0x10000000 + i);
      lastPulseAt = performance.now();
      await done;
    }
  } finally {
    reader.stop();
  }
  return {
    wiegand_decode_p50_ms: r3(percentile(latencies, 50)),
    wiegand_decode_p99_ms: r3(percentile(latencies, 99)),
    wiegand_frames: latencies.length,
  };
}
