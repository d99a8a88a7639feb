import { sleep, type Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { GateConfig } from '../config/gate-config.js';
import { buildReader, type ReaderDeps } from './gate-readers.js';
import { describeLine, type GpioProvider, type LineSpec } from './hw/gpio.js';
import type { SamLinkOpener } from './hw/idcard-serial.js';
import type { I2cBusOpener } from './hw/pn532-i2c.js';
import { Relay, relaySafeLevel } from './hw/relay.js';

export interface SelftestResult {
  /** e.g. `relay L1.in`, `sensor L1`, `reader L1.in (pn532)` */
  device: string;
  kind: 'relay' | 'input' | 'indicator' | 'reader';
  ok: boolean;
  detail: string;
}

export interface SelftestOptions {
  config: GateConfig;
  gpio: GpioProvider;
  clock: Clock;
  log: Logger;
  /** how long each relay is pulsed, ms (default 200: the turnstile clicks, nobody passes) */
  pulseMs?: number;
  i2cOpener?: I2cBusOpener;
  samOpener?: SamLinkOpener;
  /** Wiegand edges are not watched here; only the lines' idle levels are read */
  wiegandEdges?: 'gpiomon' | 'driver';
}

/**
 * `sitegate selftest`: with the daemon stopped, pulses each relay in turn, blinks each LED and the
 * buzzer, reads every input, and talks to each reader (PN532 firmware version, SAM id). Every
 * device gets one result; nothing here throws for a device that fails.
 */
export async function runSelftest(o: SelftestOptions): Promise<SelftestResult[]> {
  const out: SelftestResult[] = [];
  const pulseMs = o.pulseMs ?? 200;
  const attempt = async (device: string, kind: SelftestResult['kind'], fn: () => Promise<string> | string) => {
    try {
      out.push({ device, kind, ok: true, detail: await fn() });
    } catch (err) {
      out.push({ device, kind, ok: false, detail: errorMessage(err) });
    }
  };

  for (const lane of o.config.lanes) {
    for (const dir of ['in', 'out'] as const) {
      const spec = lane.relays[dir];
      if (!spec) continue;
      await attempt(`relay ${lane.name}.${dir}`, 'relay', async () => {
        const heldToLock = lane.failState === 'free';
        const line = o.gpio.output(spec, relaySafeLevel(heldToLock));
        const relay = new Relay(line, o.clock, { name: `${lane.name}.${dir}`, activeLow: heldToLock });
        try {
          const started = relay.start();
          if (!started.ok) throw started.error;
          const r = relay.pulse(pulseMs);
          if (!r.ok) throw r.error;
          await sleep(o.clock, pulseMs + 20);
          const s = relay.stats();
          if (s.writeErrors) throw new Error(`${s.writeErrors} write(s) to ${describeLine(spec)} failed`);
          return `pulsed ${pulseMs} ms on ${describeLine(spec)}`;
        } finally {
          relay.stop();
          line.close();
        }
      });
    }
    await attempt(`sensor ${lane.name}`, 'input', () => readLine(o.gpio, lane.passageSensor, (v) => `passage sensor reads ${v}${v ? ' (beam broken: something in the lane?)' : ' (clear)'}`));
    if (lane.indicator) {
      for (const [name, spec] of Object.entries(lane.indicator) as [string, LineSpec | undefined][]) {
        if (!spec) continue;
        await attempt(`${name} ${lane.name}`, 'indicator', async () => {
          const line = o.gpio.output(spec, 0);
          try {
            line.write(1);
            await sleep(o.clock, 150);
            line.write(0);
            return `blinked on ${describeLine(spec)}`;
          } finally {
            line.close();
          }
        });
      }
    }
  }

  const fire = o.config.fireAlarm;
  if (fire) {
    await attempt('fire alarm', 'input', () =>
      readLine(o.gpio, fire.input, (v) => {
        if (v === fire.activeLevel) throw new Error(`fire alarm input reads ${v} = ALARM (panel in alarm, or the wire is cut)`);
        return `reads ${v} (normal)`;
      }),
    );
  }

  const deps: ReaderDeps = { gpio: o.gpio, clock: o.clock, log: o.log, wiegandEdges: o.wiegandEdges ?? 'driver', i2cOpener: o.i2cOpener, samOpener: o.samOpener };
  const hooks = { credential: () => undefined, fault: () => undefined, recovered: () => undefined };
  for (const spec of o.config.readers) {
    const reader = buildReader(spec, deps, hooks);
    const r = await reader.selftest().catch((err: unknown) => ({ ok: false, detail: errorMessage(err) }));
    out.push({ device: `reader ${reader.name} (${reader.kind})`, kind: 'reader', ok: r.ok, detail: `${reader.device}: ${r.detail}` });
  }
  return out;
}

async function readLine(gpio: GpioProvider, spec: LineSpec, describe: (v: 0 | 1) => string): Promise<string> {
  const line = gpio.input(spec, { edge: 'both' });
  try {
    await gpio.settled?.();
    return describe(line.read());
  } finally {
    line.close();
  }
}
