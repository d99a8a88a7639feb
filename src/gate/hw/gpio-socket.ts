import { createConnection, type Socket } from 'node:net';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { SitegateError, errorMessage } from '../../core/errors.js';
import {
  checkLineSpec,
  describeLine,
  edgeWanted,
  type EdgeEvent,
  type GpioProvider,
  type InputLine,
  type InputOptions,
  type Level,
  type LineSpec,
  type OutputLine,
} from './gpio.js';

/**
 * Wire format between a GPIO chip served over a unix socket (sim/gpio-socket-server.ts) and its
 * client (gpio-socket.ts): one JSON object per line, both ways. Requests carry an `id` the reply
 * repeats; edges are pushed without one. Timestamps are decimal nanosecond strings (bigint).
 */
export const GPIO_SOCKET_MAX_LINE = 64 * 1024;

const level = z.union([z.literal(0), z.literal(1)]);
const wireLineSpec = z.strictObject({
  chip: z.string().min(1).max(128),
  offset: z.number().int().min(0).max(4096).optional(),
  name: z.string().min(1).max(128).optional(),
  activeLow: z.boolean().optional(),
});
const id = z.number().int().min(0);
const handle = z.string().min(1).max(32);

export const gpioSocketRequest = z.discriminatedUnion('op', [
  z.strictObject({ id, op: z.literal('hello') }),
  z.strictObject({ id, op: z.literal('output'), handle, spec: wireLineSpec, initial: level }),
  z.strictObject({
    id,
    op: z.literal('input'),
    handle,
    spec: wireLineSpec,
    edge: z.enum(['both', 'rising', 'falling']),
    debounceMs: z.number().min(0).max(60_000).optional(),
  }),
  z.strictObject({ id, op: z.literal('write'), handle, value: level }),
  z.strictObject({ id, op: z.literal('read'), handle }),
  z.strictObject({ id, op: z.literal('close'), handle }),
  z.strictObject({ id, op: z.literal('pulses'), chip: z.string().min(1), offset: z.number().int().min(0) }),
  z.strictObject({ id, op: z.literal('ping') }),
]);
export type GpioSocketRequest = z.infer<typeof gpioSocketRequest>;
/** A request as the client builds it (no id yet). */
export type GpioSocketCall = GpioSocketRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export const chipInfo = z.strictObject({
  label: z.string().min(1),
  lines: z.number().int().min(1),
  /** line name → offset */
  names: z.record(z.string(), z.number().int().min(0)),
});
export type ChipInfo = z.infer<typeof chipInfo>;

export const gpioSocketMessage = z.union([
  z.strictObject({ id, ok: z.literal(true), value: level.optional(), count: z.number().int().min(0).optional(), chips: z.array(chipInfo).optional() }),
  z.strictObject({ id, ok: z.literal(false), code: z.string().min(1), message: z.string() }),
  z.strictObject({ event: z.literal('edge'), handle, value: level, timestampNs: z.string().regex(/^\d{1,20}$/) }),
]);
export type GpioSocketMessage = z.infer<typeof gpioSocketMessage>;

/**
 * Splits a byte stream into lines, bounded: a line longer than `max` is reported once (`onOverflow`)
 * and skipped up to its newline, so a peer that never sends a newline cannot grow the buffer.
 */
export class LineSplitter {
  private buf = '';
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly max = GPIO_SOCKET_MAX_LINE,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        this.buf = '';
        continue;
      }
      const line = this.buf + piece;
      this.buf = '';
      if (line.length > this.max) this.onOverflow();
      else if (line.length > 0) this.onLine(line);
    }
    if (this.skipping) return;
    this.buf += chunk.slice(start);
    if (this.buf.length > this.max) {
      this.buf = '';
      this.skipping = true;
      this.onOverflow();
    }
  }
}

export interface GpioSocketClientOptions {
  /** Unix socket of the chip server (gate config `gpio.socket`). */
  path: string;
  /** Give up connecting after this long, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Times the connect time-out. Default the system clock. */
  clock?: Clock;
  /** Called once when the connection ends (server gone or stop()). */
  onClose?: (reason: string) => void;
}

export interface GpioSocketClientStats {
  /** Lines from the server that were not valid JSON or not a known message. */
  parseErrors: number;
  /** Requests the server refused (line busy, unknown line...). */
  refused: number;
  edges: number;
}

interface Pending {
  resolve: (m: Extract<GpioSocketMessage, { ok: true }>) => void;
  reject: (e: SitegateError) => void;
}

interface WatchedInput {
  edge: InputOptions['edge'];
  value: Level;
  callbacks: Set<(e: EdgeEvent) => void>;
}

/**
 * GpioProvider over a unix socket to a chip served elsewhere (a simulated chip that outlives the
 * gate process in crash tests). The GpioProvider calls are synchronous, the socket is not: a
 * request is checked here against the chip list fetched by start() (chip label, line name,
 * offset range, lines this client holds) and then sent; writes are sent in order without waiting;
 * read() answers from the last value the server reported. A request the server still refuses
 * (another client holds the line) makes that line's next write() throw; `sync()` waits for every
 * reply so far and throws the first refusal, so a daemon can surface it at start.
 */
export class GpioSocketClient implements GpioProvider {
  private socket: Socket | null = null;
  private chips: ChipInfo[] = [];
  private nextId = 1;
  private nextHandle = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly refusals = new Map<string, SitegateError>();
  private readonly inputs = new Map<string, WatchedInput>();
  private readonly held = new Set<string>();
  private firstRefusal: SitegateError | null = null;
  private closedReason: string | null = null;
  private readonly counts: GpioSocketClientStats = { parseErrors: 0, refused: 0, edges: 0 };

  constructor(private readonly options: GpioSocketClientOptions) {}

  /** Connects and fetches the served chips (labels, line counts, line names). */
  async start(): Promise<void> {
    if (this.socket) return;
    const socket = await this.connect();
    this.socket = socket;
    this.closedReason = null;
    const splitter = new LineSplitter(
      (line) => this.onLine(line),
      () => this.counts.parseErrors++,
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClosed('the GPIO socket server closed the connection'));
    const hello = await this.call({ op: 'hello' });
    this.chips = hello.chips ?? [];
  }

  /** Closes the connection. The server keeps outputs at their level (see gpio-socket-server.ts). */
  stop(): void {
    const s = this.socket;
    if (!s) return;
    this.onClosed('stopped');
    s.end();
    s.destroy();
  }

  get connected(): boolean {
    return this.socket !== null && this.closedReason === null;
  }

  stats(): GpioSocketClientStats {
    return { ...this.counts };
  }

  /** Waits for the replies to every request sent so far; throws the first refused request. */
  settled(): Promise<void> {
    return this.sync();
  }

  async sync(): Promise<void> {
    await this.call({ op: 'ping' });
    if (this.firstRefusal) throw this.firstRefusal;
  }

  /** Rising edges written to an output line so far (the server's relay pulse count). */
  async pulses(chip: string, offset: number): Promise<number> {
    return (await this.call({ op: 'pulses', chip, offset })).count ?? 0;
  }

  output(spec: LineSpec, initial: Level): OutputLine {
    const key = this.claim(spec);
    const handle = `o${this.nextHandle++}`;
    let value = initial;
    let closed = false;
    this.request(handle, { op: 'output', handle, spec: wireSpec(spec), initial });
    return {
      write: (v) => {
        this.usable(handle, spec, closed);
        this.send({ id: this.nextId++, op: 'write', handle, value: v });
        value = v;
      },
      read: () => value,
      close: () => {
        if (closed) return;
        closed = true;
        this.held.delete(key);
        if (this.connected) this.request(handle, { op: 'close', handle });
      },
    };
  }

  input(spec: LineSpec, opts: InputOptions): InputLine {
    const key = this.claim(spec);
    const handle = `i${this.nextHandle++}`;
    const watched: WatchedInput = { edge: opts.edge, value: 0, callbacks: new Set() };
    this.inputs.set(handle, watched);
    let closed = false;
    const call: GpioSocketCall = { op: 'input', handle, spec: wireSpec(spec), edge: opts.edge };
    if (opts.debounceMs) call.debounceMs = opts.debounceMs;
    this.request(handle, call, (m) => {
      if (m.value !== undefined) watched.value = m.value;
    });
    return {
      read: () => {
        this.usable(handle, spec, closed);
        return watched.value;
      },
      onEdge: (cb) => {
        watched.callbacks.add(cb);
        return () => watched.callbacks.delete(cb);
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.held.delete(key);
        this.inputs.delete(handle);
        if (this.connected) this.request(handle, { op: 'close', handle });
      },
    };
  }

  private claim(spec: LineSpec): string {
    checkLineSpec(spec);
    if (!this.connected) throw closedError(this.closedReason ?? 'not started');
    const chip = this.chips.find((c) => c.label === spec.chip);
    if (!chip) {
      const found = this.chips.map((c) => c.label).join(', ') || 'none';
      throw new SitegateError('gpio_chip_not_found', `GPIO chip "${spec.chip}" not found on the GPIO socket (chips served: ${found})`, { chip: spec.chip });
    }
    const offset = spec.offset ?? chip.names[spec.name as string];
    if (offset === undefined) {
      throw new SitegateError('gpio_line_name_unknown', `GPIO line ${describeLine(spec)} is not a line name of chip "${chip.label}"`, { chip: spec.chip });
    }
    if (offset >= chip.lines) {
      throw new SitegateError('gpio_offset_out_of_range', `GPIO offset ${offset} is out of range for chip "${chip.label}" (${chip.lines} lines)`, { chip: spec.chip, offset });
    }
    const key = `${chip.label}:${offset}`;
    if (this.held.has(key)) throw new SitegateError('gpio_line_busy', `GPIO line ${describeLine(spec)} is already requested by this process`, { chip: spec.chip });
    this.held.add(key);
    return key;
  }

  private usable(handle: string, spec: LineSpec, closed: boolean): void {
    if (closed) throw new SitegateError('gpio_line_closed', `GPIO ${describeLine(spec)} was released`);
    const refused = this.refusals.get(handle);
    if (refused) throw refused;
    if (!this.connected) throw closedError(this.closedReason ?? 'not started');
  }

  private request(handle: string, call: GpioSocketCall, onOk?: (m: Extract<GpioSocketMessage, { ok: true }>) => void): void {
    this.call(call).then(
      (m) => onOk?.(m),
      (err: SitegateError) => {
        if (err.code === 'gpio_socket_closed') return;
        this.counts.refused++;
        this.refusals.set(handle, err);
        this.firstRefusal ??= err;
      },
    );
  }

  private call(call: GpioSocketCall): Promise<Extract<GpioSocketMessage, { ok: true }>> {
    if (!this.connected) return Promise.reject(closedError(this.closedReason ?? 'not started'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...call, id } as GpioSocketRequest);
    });
  }

  private send(req: GpioSocketRequest): void {
    if (!this.socket || this.closedReason !== null) throw closedError(this.closedReason ?? 'not started');
    this.socket.write(JSON.stringify(req) + '\n');
  }

  private onLine(line: string): void {
    let msg: GpioSocketMessage;
    try {
      const parsed = gpioSocketMessage.safeParse(JSON.parse(line));
      if (!parsed.success) {
        this.counts.parseErrors++;
        return;
      }
      msg = parsed.data;
    } catch {
      this.counts.parseErrors++;
      return;
    }
    if ('event' in msg) {
      const w = this.inputs.get(msg.handle);
      if (!w) return;
      this.counts.edges++;
      w.value = msg.value;
      if (!edgeWanted(w.edge, msg.value)) return;
      const e: EdgeEvent = { value: msg.value, timestampNs: BigInt(msg.timestampNs) };
      for (const cb of w.callbacks) cb(e);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg);
    else p.reject(new SitegateError(msg.code, msg.message));
  }

  private onClosed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    this.socket = null;
    for (const p of this.pending.values()) p.reject(closedError(reason));
    this.pending.clear();
    this.options.onClose?.(reason);
  }

  private connect(): Promise<Socket> {
    const timeoutMs = this.options.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const s = createConnection(this.options.path);
      const clock = this.options.clock ?? systemClock;
      const timer = clock.setTimeout(() => {
        s.destroy();
        reject(new SitegateError('gpio_socket_unreachable', `no answer from the GPIO socket ${this.options.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clock.clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clock.clearTimeout(timer);
        reject(new SitegateError('gpio_socket_unreachable', `cannot connect to the GPIO socket ${this.options.path}: ${errorMessage(err)}`));
      });
    });
  }
}

function wireSpec(spec: LineSpec): z.infer<typeof wireLineSpec> {
  const out: z.infer<typeof wireLineSpec> = { chip: spec.chip };
  if (spec.offset !== undefined) out.offset = spec.offset;
  if (spec.name !== undefined) out.name = spec.name;
  if (spec.activeLow) out.activeLow = true;
  return out;
}

function closedError(reason: string): SitegateError {
  return new SitegateError('gpio_socket_closed', `the GPIO socket is not connected (${reason})`);
}
