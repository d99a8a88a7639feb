import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { SitegateError, errorMessage } from '../../core/errors.js';
import { checkLineSpec, describeLine, type LineSpec } from './gpio.js';
import { LineSplitter } from './gpio-socket.js';
import {
  gpiomonArgs,
  parseGpiodetect,
  parseGpiofind,
  parseGpiomonLine,
  parseGpiomonVersion,
  type GpiomonVersion,
} from './gpiomon.js';
import type { EdgeSource, WiegandPulse } from './wiegand-reader.js';

/**
 * Wiegand pulses from a `gpiomon` child: the kernel timestamps each edge in its interrupt
 * handler, so 20-100 µs pulses are neither missed nor mistimed by a busy event loop. The version
 * (`gpiomon --version`) picks the option syntax (gpiomon.ts). The child is restarted with back-off
 * whenever it dies; every problem is reported to `onFault` and counted, never thrown.
 */
export interface GpiomonEdgeSourceOptions {
  /** D0 and D1, on the same chip. Wiegand lines idle high: pulses are their falling edges. */
  d0: LineSpec;
  d1: LineSpec;
  /** Paces restarts. */
  clock: Clock;
  /** Program names or paths. Defaults `gpiomon`, `gpiodetect`, `gpiofind`. */
  commands?: { gpiomon?: string; gpiodetect?: string; gpiofind?: string };
  /** First restart delay, ms; doubles up to `maxRestartMs`. Default 200. */
  minRestartMs?: number;
  /** Default 10,000. */
  maxRestartMs?: number;
  /** A child that lived this long resets the back-off, ms. Default 30,000. */
  stableMs?: number;
  /** Called for every failure (start, exit, unreadable version); the source keeps retrying. */
  onFault?: (err: SitegateError) => void;
  /** Environment of the children. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface GpiomonStats {
  /** Children spawned. */
  starts: number;
  /** Children that exited (or failed to start) while the source was running. */
  failures: number;
  /** Output lines that were not an event in the requested format. */
  parseErrors: number;
  /** Falling edges delivered as pulses. */
  pulses: number;
  /** Events for other lines or rising edges (not requested; counted in case gpiomon sends them). */
  ignored: number;
  version: string | null;
  lastError: string | null;
}

interface Target {
  version: GpiomonVersion;
  argv: string[];
  /** Output offset or name → Wiegand line. */
  byOffset: Map<number, 0 | 1>;
  byName: Map<string, 0 | 1>;
}

const STDERR_KEEP = 2048;

export class GpiomonEdgeSource implements EdgeSource {
  private onPulse: ((p: WiegandPulse) => void) | null = null;
  private child: ChildProcess | null = null;
  private restartTimer: TimerHandle | null = null;
  private target: Target | null = null;
  private consecutiveFailures = 0;
  private startedAtMs = 0;
  private generation = 0;
  private readonly counts: GpiomonStats = { starts: 0, failures: 0, parseErrors: 0, pulses: 0, ignored: 0, version: null, lastError: null };

  constructor(private readonly options: GpiomonEdgeSourceOptions) {}

  start(onPulse: (p: WiegandPulse) => void): void {
    if (this.onPulse) return;
    checkLineSpec(this.options.d0);
    checkLineSpec(this.options.d1);
    if (this.options.d0.chip !== this.options.d1.chip) {
      throw new SitegateError('wiegand_lines_split', `Wiegand D0 (${describeLine(this.options.d0)}) and D1 (${describeLine(this.options.d1)}) must be on one chip for gpiomon`);
    }
    this.onPulse = onPulse;
    void this.launch();
  }

  stop(): void {
    this.onPulse = null;
    this.generation++;
    if (this.restartTimer) this.options.clock.clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    child?.kill('SIGTERM');
  }

  stats(): GpiomonStats {
    return { ...this.counts };
  }

  /** The argv the running (or next) child gets, once resolved. */
  get argv(): readonly string[] | null {
    return this.target?.argv ?? null;
  }

  private async launch(): Promise<void> {
    const gen = this.generation;
    let target: Target;
    try {
      target = this.target ?? (await this.resolveTarget());
    } catch (err) {
      if (gen !== this.generation) return;
      this.failed(err instanceof SitegateError ? err : new SitegateError('gpiomon_failed', errorMessage(err)));
      return;
    }
    if (gen !== this.generation) return;
    this.target = target;
    const cmd = this.options.commands?.gpiomon ?? 'gpiomon';
    const child = spawn(cmd, target.argv, { stdio: ['ignore', 'pipe', 'pipe'], env: this.options.env ?? process.env });
    this.child = child;
    this.counts.starts++;
    this.startedAtMs = this.options.clock.monotonic();
    let stderr = '';
    const splitter = new LineSplitter(
      (line) => this.onLine(target, line),
      () => this.counts.parseErrors++,
      4096,
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => splitter.push(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_KEEP)));
    let ended = false;
    const onEnd = (why: string) => {
      if (ended) return;
      ended = true;
      if (this.child !== child) return;
      this.child = null;
      if (this.options.clock.monotonic() - this.startedAtMs >= (this.options.stableMs ?? 30_000)) this.consecutiveFailures = 0;
      const detail = stderr.trim().split('\n').slice(-3).join(' | ');
      this.failed(new SitegateError('gpiomon_exited', `gpiomon ${why}${detail ? `: ${detail}` : ''}`));
    };
    child.once('error', (err) => onEnd(`could not run (${cmd}): ${errorMessage(err)}`));
    child.once('close', (code, signal) => onEnd(signal ? `was killed by ${signal}` : `exited with status ${code}`));
  }

  private onLine(target: Target, line: string): void {
    const ev = parseGpiomonLine(target.version, line);
    if (!ev) {
      this.counts.parseErrors++;
      return;
    }
    const which = (ev.name !== undefined ? target.byName.get(ev.name) : undefined) ?? target.byOffset.get(ev.offset);
    if (which === undefined || ev.edge !== 'falling') {
      this.counts.ignored++;
      return;
    }
    this.counts.pulses++;
    this.onPulse?.({ line: which, timestampNs: ev.timestampNs });
  }

  private failed(err: SitegateError): void {
    this.counts.failures++;
    this.counts.lastError = err.message;
    this.options.onFault?.(err);
    if (!this.onPulse) return;
    const min = this.options.minRestartMs ?? 200;
    const delay = Math.min(this.options.maxRestartMs ?? 10_000, min * 2 ** this.consecutiveFailures);
    this.consecutiveFailures++;
    if (this.restartTimer) this.options.clock.clearTimeout(this.restartTimer);
    this.restartTimer = this.options.clock.setTimeout(() => {
      this.restartTimer = null;
      if (this.onPulse) void this.launch();
    }, delay);
  }

  private async resolveTarget(): Promise<Target> {
    const cmds = this.options.commands ?? {};
    const banner = await this.run(cmds.gpiomon ?? 'gpiomon', ['--version']);
    const version = parseGpiomonVersion(banner);
    if (!version) throw new SitegateError('gpiomon_version_unknown', `cannot read the libgpiod version from "gpiomon --version": ${banner.slice(0, 120)}`);
    this.counts.version = `${version.major}.${version.minor}.${version.patch}`;
    const { d0, d1 } = this.options;
    const byOffset = new Map<number, 0 | 1>();
    const byName = new Map<string, 0 | 1>();
    const lines: (number | string)[] = [];
    let chip = d0.chip;
    if (version.major < 2) {
      // 1.6 opens a chip by label itself; line names need gpiofind.
      for (const [spec, bit] of [[d0, 0], [d1, 1]] as const) {
        let offset = spec.offset;
        if (offset === undefined) {
          const found = parseGpiofind(await this.run(cmds.gpiofind ?? 'gpiofind', [spec.name as string]));
          if (!found) throw new SitegateError('gpio_line_name_unknown', `gpiofind does not know line ${describeLine(spec)}`);
          offset = found.offset;
        }
        byOffset.set(offset, bit);
        lines.push(offset);
      }
    } else {
      const chips = parseGpiodetect(await this.run(cmds.gpiodetect ?? 'gpiodetect', []));
      const match = chips.filter((c) => c.label === d0.chip);
      if (match.length !== 1) {
        throw new SitegateError(
          match.length ? 'gpio_chip_ambiguous' : 'gpio_chip_not_found',
          `GPIO chip "${d0.chip}" ${match.length ? 'is not unique' : 'not found'} (gpiodetect: ${chips.map((c) => `${c.name} [${c.label}]`).join(', ') || 'none'})`,
          { chip: d0.chip },
        );
      }
      chip = match[0].name;
      for (const [spec, bit] of [[d0, 0], [d1, 1]] as const) {
        if (spec.offset !== undefined) {
          byOffset.set(spec.offset, bit);
          lines.push(spec.offset);
        } else {
          byName.set(spec.name as string, bit);
          lines.push(spec.name as string);
        }
      }
    }
    const activeLow = d0.activeLow ?? false;
    if ((d1.activeLow ?? false) !== activeLow) throw new SitegateError('wiegand_lines_split', 'Wiegand D0 and D1 must share activeLow');
    return { version, argv: gpiomonArgs(version, { chip, lines, activeLow, edge: 'falling' }), byOffset, byName };
  }

  private run(cmd: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout: 5000, env: this.options.env ?? process.env, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          reject(new SitegateError('gpiomon_tool_failed', `${cmd} ${args.join(' ')} failed: ${(String(stderr).trim() || errorMessage(err)).slice(0, 200)}`));
          return;
        }
        resolve(String(stdout));
      });
    });
  }
}
