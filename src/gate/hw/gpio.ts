import type { Clock } from '../../core/clock.js';
import { SitegateError } from '../../core/errors.js';

/**
 * The small GPIO interface every driver sees. Lines are named by chip label plus offset (or line
 * name), never by a raw sysfs number: those moved to base 512 with kernel 6.6 and the Pi 5's
 * header chip changed its index (ENVIRONMENT.md, "GPIO and I2C").
 */
export type Level = 0 | 1;

export interface LineSpec {
  /** Chip label, e.g. `pinctrl-bcm2711` (Pi 4 / CM4) or `pinctrl-rp1` (Pi 5). */
  chip: string;
  /** Line offset within the chip. Give this or `name`. */
  offset?: number;
  /** Line name (from the device tree's gpio-line-names). Give this or `offset`. */
  name?: string;
  /** Invert the line: write(1) drives the pin low, read() reports 1 when the pin is low. */
  activeLow?: boolean;
}

export interface GpioChip {
  label: string;
  /** Number of lines on the chip. */
  lines: number;
}

export interface EdgeEvent {
  /** Logical value after the edge (activeLow applied). */
  value: Level;
  /** Monotonic nanoseconds: the kernel's timestamp where the transport has one. */
  timestampNs: bigint;
}

export type EdgeKind = 'both' | 'rising' | 'falling';

export interface InputOptions {
  edge: EdgeKind;
  /** Report a change only once the level has been stable this long. */
  debounceMs?: number;
}

export interface OutputLine {
  write(v: Level): void;
  read(): Level;
  /** Drives the line back to its safe (initial) value and releases it. */
  close(): void;
}

export interface InputLine {
  read(): Level;
  /** Calls `cb` on every edge of the requested kind; returns the function that unsubscribes. */
  onEdge(cb: (e: EdgeEvent) => void): () => void;
  close(): void;
}

export interface GpioProvider {
  /** Requests an output, driven to `initial` (its safe state) from the first instant. */
  output(spec: LineSpec, initial: Level): OutputLine;
  input(spec: LineSpec, opts: InputOptions): InputLine;
  /**
   * Resolves once the line requests made so far have taken effect and inputs hold their first
   * level (a remote chip answers asynchronously); absent where requests are immediate.
   */
  settled?(): Promise<void>;
}

/** How a line is named in messages: `pinctrl-bcm2711:17` or `pinctrl-bcm2711:"RELAY_IN"`. */
export function describeLine(spec: LineSpec): string {
  return spec.offset !== undefined ? `${spec.chip}:${spec.offset}` : `${spec.chip}:"${spec.name ?? '?'}"`;
}

/** Checks a spec names its line exactly one way; throws a `gpio_bad_line_spec` error otherwise. */
export function checkLineSpec(spec: LineSpec): void {
  const hasOffset = spec.offset !== undefined;
  const hasName = spec.name !== undefined;
  if (typeof spec.chip !== 'string' || spec.chip.length === 0) {
    throw new SitegateError('gpio_bad_line_spec', 'GPIO line spec needs a chip label (e.g. pinctrl-bcm2711)');
  }
  if (hasOffset === hasName) {
    throw new SitegateError(
      'gpio_bad_line_spec',
      `GPIO line on chip ${spec.chip} must give exactly one of offset or name`,
    );
  }
  if (hasOffset && (!Number.isInteger(spec.offset) || (spec.offset as number) < 0)) {
    throw new SitegateError('gpio_bad_line_spec', `GPIO offset ${String(spec.offset)} on chip ${spec.chip} is not a non-negative integer`);
  }
}

/** Whether an edge to `value` is one the watcher asked for. */
export function edgeWanted(kind: EdgeKind, value: Level): boolean {
  return kind === 'both' || (kind === 'rising' ? value === 1 : value === 0);
}

/** The clock's monotonic reading in nanoseconds, for edges whose transport has no timestamp. */
export function monotonicNs(clock: Clock): bigint {
  return BigInt(Math.round(clock.monotonic() * 1e6));
}
