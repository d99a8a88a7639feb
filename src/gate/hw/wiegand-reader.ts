import type { Clock, TimerHandle } from '../../core/clock.js';
import type { GpioProvider, InputLine, LineSpec } from './gpio.js';
import {
  WiegandDecoder,
  type Bit,
  type WiegandDecoderOptions,
  type WiegandError,
  type WiegandErrorCode,
  type WiegandFrame,
} from './wiegand.js';

/** One Wiegand pulse: the falling edge of D0 (`line` 0) or D1 (`line` 1). */
export interface WiegandPulse {
  line: Bit;
  timestampNs: bigint;
}

/**
 * Where the pulses come from. Production uses a `gpiomon` child with kernel timestamps; tests
 * and slow boards use `GpioEdgeSource` over two InputLines.
 */
export interface EdgeSource {
  start(onPulse: (p: WiegandPulse) => void): void;
  stop(): void;
}

/** Pulses from two lines of a GpioProvider, requested on start() and released on stop(). */
export class GpioEdgeSource implements EdgeSource {
  private lines: InputLine[] = [];

  constructor(
    private readonly gpio: GpioProvider,
    private readonly spec: { d0: LineSpec; d1: LineSpec },
  ) {}

  start(onPulse: (p: WiegandPulse) => void): void {
    if (this.lines.length > 0) return;
    const d0 = this.gpio.input(this.spec.d0, { edge: 'falling' });
    let d1: InputLine;
    try {
      d1 = this.gpio.input(this.spec.d1, { edge: 'falling' });
    } catch (err) {
      d0.close();
      throw err;
    }
    d0.onEdge((e) => onPulse({ line: 0, timestampNs: e.timestampNs }));
    d1.onEdge((e) => onPulse({ line: 1, timestampNs: e.timestampNs }));
    this.lines = [d0, d1];
  }

  stop(): void {
    for (const l of this.lines) l.close();
    this.lines = [];
  }
}

export interface WiegandReaderOptions extends WiegandDecoderOptions {
  /** Name for logs and events, e.g. the lane's reader. */
  name?: string;
}

export interface WiegandReaderStats {
  frames: number;
  errors: Record<WiegandErrorCode, number>;
}

type Listener<T> = (value: T) => void;

/**
 * Binds an EdgeSource to the decoder. The end of a frame is timed on the Clock: a timer armed
 * after each pulse fires after the frame gap of silence. The edge timestamps only feed the
 * decoder's own checks, since kernel timestamps and the Clock are different timebases.
 * Listeners are plain callbacks: an `error` with nobody listening is counted, never thrown.
 */
export class WiegandReader {
  private readonly decoder: WiegandDecoder;
  private readonly frameGapMs: number;
  private readonly frameListeners = new Set<Listener<WiegandFrame>>();
  private readonly errorListeners = new Set<Listener<WiegandError>>();
  private timer: TimerHandle | null = null;
  private running = false;
  private readonly counts: WiegandReaderStats = { frames: 0, errors: { parity: 0, bit_count: 0, noise: 0 } };

  constructor(
    private readonly source: EdgeSource,
    private readonly clock: Clock,
    readonly options: WiegandReaderOptions = {},
  ) {
    this.decoder = new WiegandDecoder(options);
    this.frameGapMs = options.frameGapMs ?? 25;
  }

  on(event: 'frame', cb: Listener<WiegandFrame>): () => void;
  on(event: 'error', cb: Listener<WiegandError>): () => void;
  on(event: 'frame' | 'error', cb: Listener<WiegandFrame> | Listener<WiegandError>): () => void {
    const set = (event === 'frame' ? this.frameListeners : this.errorListeners) as Set<typeof cb>;
    set.add(cb);
    return () => set.delete(cb);
  }

  start(): void {
    if (this.running) return;
    this.source.start((p) => this.onPulse(p));
    this.running = true;
  }

  /** Stops listening; a half-received frame is dropped. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.source.stop();
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.decoder.endOfFrame();
  }

  stats(): WiegandReaderStats {
    return { frames: this.counts.frames, errors: { ...this.counts.errors } };
  }

  private onPulse(p: WiegandPulse): void {
    if (!this.running) return;
    this.emit(this.decoder.feed(p.line, p.timestampNs));
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.emit(this.decoder.endOfFrame());
    }, this.frameGapMs);
  }

  private emit(result: ReturnType<WiegandDecoder['endOfFrame']>): void {
    if (!result) return;
    if (result.ok) {
      this.counts.frames++;
      for (const cb of this.frameListeners) cb(result);
    } else {
      this.counts.errors[result.code]++;
      for (const cb of this.errorListeners) cb(result);
    }
  }
}
