import type { Clock, TimerHandle } from '../../../core/clock.js';
import { SitegateError } from '../../../core/errors.js';
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
} from '../gpio.js';

/**
 * An in-memory GPIO chip. All of its state sits in one plain object (`state`) so it can later be
 * served over a socket for crash tests; watchers and timers stay apart because they belong to
 * this process. Levels in `inject`, `level` and the write log are physical pin levels;
 * lines requested with `activeLow` see the inverse.
 */
export interface SimLineState {
  offset: number;
  name: string | null;
  use: 'free' | 'input' | 'output';
  /** Physical level of the pin. */
  level: Level;
  activeLow: boolean;
  /** Physical rising / falling edges while the line was requested as an output. */
  rising: number;
  falling: number;
}

export interface SimWrite {
  /** Clock monotonic ms of the write. */
  atMs: number;
  offset: number;
  /** Physical level after the write. */
  level: Level;
  kind: 'request' | 'write' | 'release';
}

export interface SimChipState {
  label: string;
  lines: SimLineState[];
  /** Output writes, oldest first, at most `maxLog` entries. */
  writes: SimWrite[];
}

export interface SimGpioChipOptions {
  label: string;
  /** Number of lines (58 on a BCM2711). */
  lines: number;
  /** Line names by offset. */
  names?: Record<string, number>;
  /** Physical levels of lines before anything drives them (pull-ups); others start at 0. */
  initial?: Record<number, Level>;
  /** Bound on the write log; the oldest entries are dropped beyond it. Default 10,000. */
  maxLog?: number;
}

interface Watcher {
  edge: InputOptions['edge'];
  debounceMs: number;
  cb: (e: EdgeEvent) => void;
  timer: TimerHandle | null;
  /** Last logical value reported (debounced watchers only). */
  reported: Level;
}

export class SimGpioChip implements GpioProvider {
  readonly state: SimChipState;
  private readonly watchers = new Map<number, Set<Watcher>>();
  private readonly maxLog: number;

  constructor(
    private readonly clock: Clock,
    options: SimGpioChipOptions,
  ) {
    if (!Number.isInteger(options.lines) || options.lines <= 0) {
      throw new TypeError(`SimGpioChip "${options.label}": lines must be a positive integer`);
    }
    const nameOf = new Map(Object.entries(options.names ?? {}).map(([n, o]) => [o, n]));
    this.state = {
      label: options.label,
      lines: Array.from({ length: options.lines }, (_, offset) => ({
        offset,
        name: nameOf.get(offset) ?? null,
        use: 'free' as const,
        level: options.initial?.[offset] ?? 0,
        activeLow: false,
        rising: 0,
        falling: 0,
      })),
      writes: [],
    };
    this.maxLog = options.maxLog ?? 10_000;
  }

  get chip(): GpioChip {
    return { label: this.state.label, lines: this.state.lines.length };
  }

  output(spec: LineSpec, initial: Level): OutputLine {
    const line = this.request(spec, 'output');
    this.setOutput(line, initial, 'request');
    let closed = false;
    const live = () => {
      if (closed) throw new SitegateError('gpio_line_closed', `GPIO ${describeLine(spec)} was released`);
    };
    return {
      write: (v) => {
        live();
        this.setOutput(line, v, 'write');
      },
      read: () => (line.level ^ Number(line.activeLow)) as Level,
      close: () => {
        if (closed) return;
        this.setOutput(line, initial, 'release');
        closed = true;
        line.use = 'free';
      },
    };
  }

  input(spec: LineSpec, opts: InputOptions): InputLine {
    const line = this.request(spec, 'input');
    const mine = new Set<Watcher>();
    const all = this.watchersOf(line.offset);
    return {
      read: () => (line.level ^ Number(line.activeLow)) as Level,
      onEdge: (cb) => {
        const w: Watcher = {
          edge: opts.edge,
          debounceMs: opts.debounceMs ?? 0,
          cb,
          timer: null,
          reported: (line.level ^ Number(line.activeLow)) as Level,
        };
        mine.add(w);
        all.add(w);
        return () => this.unwatch(w, mine, all);
      },
      close: () => {
        for (const w of [...mine]) this.unwatch(w, mine, all);
        line.use = 'free';
      },
    };
  }

  /** Drives a pin from outside (a reader, a sensor); watchers of an input see the edge. */
  inject(offset: number, value: Level, timestampNs?: bigint): void {
    const line = this.line(offset);
    if (line.use === 'output') {
      throw new SitegateError('gpio_sim_inject_output', `cannot inject into ${this.state.label}:${offset}: it is an output`);
    }
    if (line.level === value) return;
    line.level = value;
    const logical = (value ^ Number(line.activeLow)) as Level;
    const ts = timestampNs ?? monotonicNs(this.clock);
    for (const w of this.watchersOf(offset)) {
      if (w.debounceMs > 0) this.debounce(w, line);
      else if (edgeWanted(w.edge, logical)) w.cb({ value: logical, timestampNs: ts });
    }
  }

  /** Physical level of a pin. */
  level(offset: number): Level {
    return this.line(offset).level;
  }

  /** Physical rising edges written to an output (each relay activation on an active-high line). */
  pulses(offset: number): number {
    return this.line(offset).rising;
  }

  /** The write log for one line. */
  writesTo(offset: number): SimWrite[] {
    return this.state.writes.filter((w) => w.offset === offset);
  }

  private request(spec: LineSpec, use: 'input' | 'output'): SimLineState {
    checkLineSpec(spec);
    if (spec.chip !== this.state.label) {
      throw new SitegateError('gpio_chip_not_found', `GPIO chip "${spec.chip}" not found (simulated chip is "${this.state.label}")`, {
        chip: spec.chip,
      });
    }
    const line =
      spec.offset !== undefined ? this.state.lines[spec.offset] : this.state.lines.find((l) => l.name === spec.name);
    if (!line) {
      throw new SitegateError(
        spec.offset !== undefined ? 'gpio_offset_out_of_range' : 'gpio_line_name_unknown',
        `GPIO line ${describeLine(spec)} does not exist on chip "${this.state.label}" (${this.state.lines.length} lines)`,
        { chip: spec.chip },
      );
    }
    if (line.use !== 'free') {
      throw new SitegateError('gpio_line_busy', `GPIO line ${describeLine(spec)} is already requested as an ${line.use}`, {
        chip: spec.chip,
      });
    }
    line.use = use;
    line.activeLow = spec.activeLow ?? false;
    return line;
  }

  private setOutput(line: SimLineState, logical: Level, kind: SimWrite['kind']): void {
    const level = (logical ^ Number(line.activeLow)) as Level;
    if (kind !== 'request' && level !== line.level) {
      if (level === 1) line.rising++;
      else line.falling++;
    }
    line.level = level;
    this.state.writes.push({ atMs: this.clock.monotonic(), offset: line.offset, level, kind });
    if (this.state.writes.length > this.maxLog) this.state.writes.splice(0, this.state.writes.length - this.maxLog);
  }

  // Like onoff's debounce: report once the level has held for debounceMs, if it differs from the last report.
  private debounce(w: Watcher, line: SimLineState): void {
    if (w.timer) this.clock.clearTimeout(w.timer);
    w.timer = this.clock.setTimeout(() => {
      w.timer = null;
      const logical = (line.level ^ Number(line.activeLow)) as Level;
      if (logical === w.reported) return;
      w.reported = logical;
      if (edgeWanted(w.edge, logical)) w.cb({ value: logical, timestampNs: monotonicNs(this.clock) });
    }, w.debounceMs);
  }

  private unwatch(w: Watcher, mine: Set<Watcher>, all: Set<Watcher>): void {
    if (w.timer) this.clock.clearTimeout(w.timer);
    w.timer = null;
    mine.delete(w);
    all.delete(w);
  }

  private watchersOf(offset: number): Set<Watcher> {
    let set = this.watchers.get(offset);
    if (!set) this.watchers.set(offset, (set = new Set()));
    return set;
  }

  private line(offset: number): SimLineState {
    const line = this.state.lines[offset];
    if (!line) {
      throw new SitegateError('gpio_offset_out_of_range', `no line ${offset} on simulated chip "${this.state.label}"`);
    }
    return line;
  }
}
