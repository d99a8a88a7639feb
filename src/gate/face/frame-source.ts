// Frames for the face pipeline, all through one path: bytes → decode (frame-decode.ts, fixed
// size) → handler. Sources: a directory of images (paced on a Clock), an MJPEG file, or a child
// process writing MJPEG to stdout (ffmpeg from a V4L2 camera, rpicam-vid on a Pi camera). While
// the handler is busy only the newest image waits; older ones are dropped and counted, as are
// images that fail to decode.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { decodeFrame, type DecodedFrame, type FrameSize } from './frame-decode.js';
import { MjpegSplitter } from './mjpeg-splitter.js';

export interface SourceFrame extends DecodedFrame {
  seq: number;
}

export type FrameHandler = (frame: SourceFrame) => Promise<void> | void;

export interface FrameSourceStats {
  /** Frames handed to the handler. */
  delivered: number;
  /** Images that could not be decoded. */
  corrupt: number;
  /** Images replaced by a newer one while the handler was busy, or too long to keep. */
  dropped: number;
}

/** Decodes and delivers images one at a time, newest-wins while busy. */
class Delivery {
  readonly stats: FrameSourceStats = { delivered: 0, corrupt: 0, dropped: 0 };
  private waiting: Buffer | undefined;
  private running = false;
  private seq = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly size: FrameSize,
    private readonly onFrame: FrameHandler,
    private readonly onError: (err: Error) => void,
  ) {}

  offer(bytes: Buffer): void {
    if (this.waiting) this.stats.dropped++;
    this.waiting = bytes;
    if (!this.running) void this.drain();
  }

  /** Resolves once nothing waits and nothing runs. */
  settled(): Promise<void> {
    if (!this.running && !this.waiting) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting) {
      const bytes = this.waiting;
      this.waiting = undefined;
      let frame: DecodedFrame;
      try {
        frame = await decodeFrame(bytes, this.size);
      } catch {
        this.stats.corrupt++;
        continue;
      }
      try {
        await this.onFrame({ ...frame, seq: this.seq++ });
        this.stats.delivered++;
      } catch (err) {
        this.onError(err as Error);
      }
    }
    this.running = false;
    for (const r of this.idle.splice(0)) r();
  }
}

export interface FrameSource {
  readonly stats: FrameSourceStats;
  start(): void;
  stop(): Promise<void>;
  /** Resolves when the source has ended (a file or directory read to the end, the child exited). */
  ended(): Promise<void>;
}

interface SourceOptions {
  size: FrameSize;
  onFrame: FrameHandler;
  onError?: (err: Error) => void;
}

/** Splits an MJPEG byte stream into images and delivers them. */
class StreamSource implements FrameSource {
  protected readonly delivery: Delivery;
  protected readonly splitter = new MjpegSplitter();
  private done: Promise<void> | undefined;
  private markEnded: () => void = () => {};
  private endedPromise = new Promise<void>((r) => (this.markEnded = r));

  constructor(opts: SourceOptions) {
    this.delivery = new Delivery(opts.size, opts.onFrame, opts.onError ?? (() => {}));
  }

  get stats(): FrameSourceStats {
    return { ...this.delivery.stats, dropped: this.delivery.stats.dropped + this.splitter.oversize };
  }

  protected attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => {
      for (const img of this.splitter.push(chunk)) this.delivery.offer(img);
    });
    this.done = new Promise((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', resolve);
    });
    void this.done.then(() => this.delivery.settled()).then(() => this.markEnded());
  }

  start(): void {}

  async stop(): Promise<void> {}

  ended(): Promise<void> {
    return this.endedPromise;
  }
}

export class MjpegFileSource extends StreamSource {
  private stream: ReturnType<typeof createReadStream> | undefined;

  constructor(
    private readonly path: string,
    opts: SourceOptions,
  ) {
    super(opts);
  }

  override start(): void {
    this.stream = createReadStream(this.path);
    this.attach(this.stream);
  }

  override async stop(): Promise<void> {
    this.stream?.destroy();
  }
}

export interface CommandSourceOptions extends SourceOptions {
  /** Program and arguments, e.g. ['ffmpeg', '-f', 'v4l2', '-i', '/dev/video0', '-f', 'mjpeg', '-'] or ['rpicam-vid', '-t', '0', '--codec', 'mjpeg', '-o', '-']. */
  command: string[];
}

/** A camera behind a child process that writes MJPEG to stdout. */
export class CommandFrameSource extends StreamSource {
  private child: ChildProcess | undefined;
  private readonly command: string[];
  /** The child's last stderr lines, for the log when it exits. */
  stderrTail = '';

  constructor(opts: CommandSourceOptions) {
    super(opts);
    if (!opts.command.length) throw new TypeError('the camera command is empty');
    this.command = opts.command;
  }

  override start(): void {
    const [cmd, ...args] = this.command;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-2000)));
    child.on('error', (err) => (this.stderrTail += `\n${err.message}`));
    this.attach(child.stdout!);
  }

  override async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

export interface DirectorySourceOptions extends SourceOptions {
  dir: string;
  clock: Clock;
  /** Time between images. */
  intervalMs: number;
  /** Start again at the first image after the last. */
  loop?: boolean;
}

/** Every image file of a directory (sorted by name; any format sharp reads), one per interval. */
export class DirectoryFrameSource implements FrameSource {
  private readonly delivery: Delivery;
  private files: string[] = [];
  private index = 0;
  private timer: TimerHandle | undefined;
  private markEnded: () => void = () => {};
  private readonly endedPromise = new Promise<void>((r) => (this.markEnded = r));

  constructor(private readonly opts: DirectorySourceOptions) {
    this.delivery = new Delivery(opts.size, opts.onFrame, opts.onError ?? (() => {}));
  }

  get stats(): FrameSourceStats {
    return { ...this.delivery.stats };
  }

  start(): void {
    this.files = readdirSync(this.opts.dir, { withFileTypes: true })
      .filter((d) => d.isFile() && !d.name.startsWith('.'))
      .map((d) => join(this.opts.dir, d.name))
      .sort();
    this.tick();
  }

  private tick(): void {
    if (this.index >= this.files.length) {
      if (!this.opts.loop || !this.files.length) {
        void this.delivery.settled().then(() => this.markEnded());
        return;
      }
      this.index = 0;
    }
    this.delivery.offer(readFileSync(this.files[this.index++]));
    this.timer = this.opts.clock.setTimeout(() => this.tick(), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.index = this.files.length;
    this.opts.loop = false;
    await this.delivery.settled();
    this.markEnded();
  }

  ended(): Promise<void> {
    return this.endedPromise;
  }
}
