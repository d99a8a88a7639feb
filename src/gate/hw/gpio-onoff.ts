import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Gpio as OnoffGpio } from 'onoff';
import type { Clock } from '../../core/clock.js';
import { SitegateError, errorMessage } from '../../core/errors.js';
import {
  checkLineSpec,
  describeLine,
  edgeWanted,
  monotonicNs,
  type EdgeEvent,
  type GpioChip,
  type GpioProvider,
  type InputLine,
  type InputOptions,
  type Level,
  type LineSpec,
  type OutputLine,
} from './gpio.js';

/**
 * Production GPIO over onoff (sysfs). onoff takes a global sysfs number and never adds a chip's
 * base, so the number is resolved here: chip found by label, number = base + offset.
 */
export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';

export interface SysfsChip extends GpioChip {
  /** First global sysfs number of the chip (512 and up since kernel 6.6). */
  base: number;
  /** Directory of the chip, e.g. /sys/class/gpio/gpiochip512. */
  path: string;
}

/** Chips listed under a sysfs gpio root; chip directories that cannot be read are skipped. */
export function listSysfsChips(root = DEFAULT_SYSFS_GPIO_ROOT): SysfsChip[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^gpiochip\d+$/.test(n));
  } catch (err) {
    throw new SitegateError('gpio_sysfs_unreadable', `cannot list GPIO chips under ${root}: ${errorMessage(err)}`);
  }
  const chips: SysfsChip[] = [];
  for (const name of names.sort()) {
    const path = join(root, name);
    try {
      const label = readFileSync(join(path, 'label'), 'utf8').trim();
      const base = parseCount(readFileSync(join(path, 'base'), 'utf8'));
      const ngpio = parseCount(readFileSync(join(path, 'ngpio'), 'utf8'));
      if (label.length === 0 || base === null || ngpio === null) continue;
      chips.push({ label, base, lines: ngpio, path });
    } catch {
      continue;
    }
  }
  return chips;
}

function parseCount(text: string): number | null {
  const t = text.trim();
  return /^\d{1,7}$/.test(t) ? Number(t) : null;
}

/** Line names per chip label, for specs that name a line (sysfs does not expose names). */
export type LineNameMap = Record<string, Record<string, number>>;

/** Resolves a spec to its global sysfs number; throws a SitegateError naming the chip when it cannot. */
export function resolveSysfsNumber(spec: LineSpec, chips: SysfsChip[], lineNames: LineNameMap = {}): number {
  checkLineSpec(spec);
  const matches = chips.filter((c) => c.label === spec.chip);
  if (matches.length === 0) {
    const found = chips.map((c) => c.label).join(', ') || 'none';
    throw new SitegateError(
      'gpio_chip_not_found',
      `GPIO chip "${spec.chip}" not found (chips present: ${found}); check the board's pin map`,
      { chip: spec.chip },
    );
  }
  if (matches.length > 1) {
    throw new SitegateError(
      'gpio_chip_ambiguous',
      `GPIO chip label "${spec.chip}" is used by ${matches.map((c) => c.path).join(' and ')}`,
      { chip: spec.chip },
    );
  }
  const chip = matches[0];
  let offset = spec.offset;
  if (offset === undefined) {
    offset = lineNames[spec.chip]?.[spec.name as string];
    if (offset === undefined) {
      throw new SitegateError(
        'gpio_line_name_unknown',
        `GPIO line ${describeLine(spec)} has no known offset on chip "${spec.chip}"; give its offset in the pin map`,
        { chip: spec.chip },
      );
    }
  }
  if (offset >= chip.lines) {
    throw new SitegateError(
      'gpio_offset_out_of_range',
      `GPIO offset ${offset} is out of range for chip "${chip.label}" (${chip.lines} lines, offsets 0-${chip.lines - 1})`,
      { chip: chip.label, offset },
    );
  }
  return chip.base + offset;
}

export interface OnoffGpioOptions {
  /** Root of the sysfs gpio class; a test points this at a fake tree. */
  sysfsRoot?: string;
  /** Offsets of named lines, per chip label. */
  lineNames?: LineNameMap;
}

type OnoffModule = typeof import('onoff');

/** GpioProvider on onoff. onoff (and its native epoll addon) loads on the first request, not on import. */
export class OnoffGpioProvider implements GpioProvider {
  private onoff: OnoffModule | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly options: OnoffGpioOptions = {},
  ) {}

  output(spec: LineSpec, initial: Level): OutputLine {
    const number = this.resolve(spec);
    const activeLow = spec.activeLow ?? false;
    // sysfs "high"/"low" set the raw pin level, so the safe logical value is translated here.
    const rawInitial = activeLow ? 1 - initial : initial;
    const gpio = this.open(spec, () => new (this.load().Gpio)(number, rawInitial === 1 ? 'high' : 'low', 'none', { activeLow }));
    return {
      write: (v) => gpio.writeSync(v),
      read: () => gpio.readSync(),
      close: () => {
        try {
          gpio.writeSync(initial);
        } finally {
          gpio.unexport();
        }
      },
    };
  }

  input(spec: LineSpec, opts: InputOptions): InputLine {
    const number = this.resolve(spec);
    const gpio = this.open(spec, () =>
      new (this.load().Gpio)(number, 'in', opts.edge, {
        activeLow: spec.activeLow ?? false,
        ...(opts.debounceMs ? { debounceTimeout: opts.debounceMs } : {}),
      }),
    );
    return {
      read: () => gpio.readSync(),
      onEdge: (cb: (e: EdgeEvent) => void) => {
        const listener = (err: Error | null | undefined, value: Level) => {
          if (err || !edgeWanted(opts.edge, value)) return;
          cb({ value, timestampNs: monotonicNs(this.clock) });
        };
        gpio.watch(listener);
        return () => gpio.unwatch(listener);
      },
      close: () => {
        gpio.unwatchAll();
        gpio.unexport();
      },
    };
  }

  private resolve(spec: LineSpec): number {
    return resolveSysfsNumber(spec, listSysfsChips(this.options.sysfsRoot), this.options.lineNames);
  }

  private open(spec: LineSpec, make: () => OnoffGpio): OnoffGpio {
    try {
      return make();
    } catch (err) {
      if (err instanceof SitegateError) throw err;
      throw new SitegateError('gpio_request_failed', `cannot request GPIO ${describeLine(spec)}: ${errorMessage(err)}`, {
        chip: spec.chip,
      });
    }
  }

  private load(): OnoffModule {
    if (!this.onoff) {
      const mod = createRequire(import.meta.url)('onoff') as OnoffModule;
      if (!mod.Gpio.accessible) {
        throw new SitegateError('gpio_not_accessible', 'GPIO sysfs is not accessible on this machine (no /sys/class/gpio/export or no permission)');
      }
      this.onoff = mod;
    }
    return this.onoff;
  }
}
