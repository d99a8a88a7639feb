/**
 * What `gpiomon` (Debian's gpiod package) takes and prints, for both option syntaxes: libgpiod
 * 1.6 on Bookworm and 2.x on Trixie. Pure: no process here (gpiomon-source.ts runs the child).
 *
 *   1.6: gpiomon [--active-low] --falling-edge --line-buffered --format='%e %o %s %n' CHIP OFFSET...
 *        %e 0 falling / 1 rising, %s seconds and %n nanoseconds of the kernel timestamp
 *        (CLOCK_MONOTONIC since Linux 5.7); CHIP may be a name, number, path or label.
 *   2.x: gpiomon [--active-low] --edges=falling --event-clock=monotonic --format='%e %o %S %l' --chip=CHIP LINE...
 *        %e 1 rising / 2 falling, %S seconds.nanoseconds, %l the line name; CHIP is a name,
 *        number or path (not a label: resolve it with gpiodetect), LINE an offset or a line name.
 *        2.x flushes stdout before every wait, so no line-buffering option exists or is needed.
 */
export interface GpiomonVersion {
  major: number;
  minor: number;
  patch: number;
}

/** `gpiomon (libgpiod) v1.6.3` → {1, 6, 3}; null when the text is not gpiomon's version banner. */
export function parseGpiomonVersion(text: string): GpiomonVersion | null {
  const m = /\(libgpiod\)\s+v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export const GPIOMON_V1_FORMAT = '%e %o %s %n';
export const GPIOMON_V2_FORMAT = '%e %o %S %l';

export interface GpiomonRequest {
  /** For 1.6 the chip label works as is; for 2.x pass the chip's name (gpiochip0) from gpiodetect. */
  chip: string;
  /** Offsets, or line names (2.x only: 1.6 takes offsets, resolve names with gpiofind first). */
  lines: (number | string)[];
  activeLow?: boolean;
  edge?: 'falling' | 'rising' | 'both';
}

/** The argv (without the program name) for this gpiomon version. */
export function gpiomonArgs(v: GpiomonVersion, req: GpiomonRequest): string[] {
  const edge = req.edge ?? 'falling';
  const lines = req.lines.map(String);
  if (v.major < 2) {
    if (req.lines.some((l) => typeof l !== 'number')) throw new TypeError('gpiomon 1.6 takes line offsets only; resolve names with gpiofind');
    const edgeOpt = edge === 'falling' ? ['--falling-edge'] : edge === 'rising' ? ['--rising-edge'] : [];
    return [...(req.activeLow ? ['--active-low'] : []), ...edgeOpt, '--line-buffered', `--format=${GPIOMON_V1_FORMAT}`, req.chip, ...lines];
  }
  return [
    ...(req.activeLow ? ['--active-low'] : []),
    `--edges=${edge}`,
    '--event-clock=monotonic',
    `--format=${GPIOMON_V2_FORMAT}`,
    `--chip=${req.chip}`,
    ...lines,
  ];
}

export interface GpiomonEvent {
  edge: 'rising' | 'falling';
  offset: number;
  timestampNs: bigint;
  /** 2.x only (`unnamed` when the line has none). */
  name?: string;
}

const V1_LINE = /^([01]) (\d{1,5}) (\d{1,12}) (\d{1,9})$/;
const V2_LINE = /^([12]) (\d{1,5}) (\d{1,12})\.(\d{9}) (.{1,128})$/;

/** One output line of gpiomon in our format; null when it is not one (counted by the caller). */
export function parseGpiomonLine(v: GpiomonVersion, line: string): GpiomonEvent | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (v.major < 2) {
    const m = V1_LINE.exec(text);
    if (!m) return null;
    return { edge: m[1] === '1' ? 'rising' : 'falling', offset: Number(m[2]), timestampNs: BigInt(m[3]) * 1_000_000_000n + BigInt(m[4]) };
  }
  const m = V2_LINE.exec(text);
  if (!m) return null;
  return { edge: m[1] === '1' ? 'rising' : 'falling', offset: Number(m[2]), timestampNs: BigInt(m[3]) * 1_000_000_000n + BigInt(m[4]), name: m[5] };
}

/** `gpiodetect` lines, the same in 1.6 and 2.x: `gpiochip0 [pinctrl-bcm2711] (58 lines)`. */
export function parseGpiodetect(text: string): { name: string; label: string; lines: number }[] {
  const chips: { name: string; label: string; lines: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) \[(.*)\] \((\d+) lines\)\s*$/.exec(line);
    if (m) chips.push({ name: m[1], label: m[2], lines: Number(m[3]) });
  }
  return chips;
}

/** `gpiofind NAME` (1.6): `gpiochip0 5`. */
export function parseGpiofind(text: string): { chip: string; offset: number } | null {
  const m = /^(\S+) (\d{1,5})\s*$/.exec(text.trim());
  return m ? { chip: m[1], offset: Number(m[2]) } : null;
}
