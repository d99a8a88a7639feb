import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { SitegateError, errorMessage } from '../../../core/errors.js';
import type { InputLine, Level, LineSpec, OutputLine } from '../gpio.js';
import {
  LineSplitter,
  gpioSocketRequest,
  type ChipInfo,
  type GpioSocketMessage,
  type GpioSocketRequest,
} from '../gpio-socket.js';
import type { SimGpioChip } from './gpio-chip.js';

/**
 * Serves SimGpioChips over a unix socket (protocol in ../gpio-socket.ts), so a crash test can
 * SIGKILL the gate process while the chip, its pin levels and its relay pulse counts live on in
 * the test's own process. The owner reads those straight from the chip (`chip.pulses(offset)`);
 * clients can ask with the `pulses` request.
 *
 * A client that goes away (killed, or its socket closed) is treated the way the kernel treats a
 * process that dies holding GPIO line requests: its inputs are released, and its outputs are
 * released WITHOUT being driven back to their requested initial value, since nothing runs to drive
 * them. A released pin keeps its level unless `releaseLevels` gives the level its pull or
 * device-tree default takes it to (see device-tree/README.md): that, not the software, is what
 * the turnstile does when the process dies. An orderly `close` request does drive the initial
 * (safe) value first, like OutputLine.close() everywhere else.
 */
export interface GpioSocketServerOptions {
  /** Path of the unix socket; a stale file there is removed on start(). */
  path: string;
  chips: SimGpioChip[];
  /** Physical level a pin falls to when a client dies holding it as an output, by chip label and offset. */
  releaseLevels?: Record<string, Record<number, Level>>;
}

export interface GpioSocketServerStats {
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  clients: number;
  /** Request lines that were not JSON or not a known request. */
  parseErrors: number;
  /** Output lines released because their client went away without closing them. */
  abandonedOutputs: number;
}

type Held =
  | { kind: 'output'; chip: SimGpioChip; offset: number; line: OutputLine }
  | { kind: 'input'; chip: SimGpioChip; offset: number; line: InputLine };

export class GpioSocketServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly counts: GpioSocketServerStats = { connections: 0, clients: 0, parseErrors: 0, abandonedOutputs: 0 };

  constructor(private readonly options: GpioSocketServerOptions) {}

  async start(): Promise<void> {
    if (this.server) return;
    rmSync(this.options.path, { force: true });
    const server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new SitegateError('gpio_socket_listen_failed', `cannot listen on ${this.options.path}: ${errorMessage(err)}`)),
      );
      server.listen(this.options.path, () => resolve());
    });
    this.server = server;
  }

  /** Drops every client (as if each had died) and stops listening. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.options.path, { force: true });
  }

  stats(): GpioSocketServerStats {
    return { ...this.counts, clients: this.sockets.size };
  }

  private accept(socket: Socket): void {
    this.counts.connections++;
    this.sockets.add(socket);
    const held = new Map<string, Held>();
    const send = (m: GpioSocketMessage) => {
      if (!socket.destroyed) socket.write(JSON.stringify(m) + '\n');
    };
    const splitter = new LineSplitter(
      (line) => this.onLine(line, held, send),
      () => this.counts.parseErrors++,
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const h of held.values()) this.abandon(h);
      held.clear();
    });
  }

  private onLine(line: string, held: Map<string, Held>, send: (m: GpioSocketMessage) => void): void {
    let req: GpioSocketRequest;
    try {
      const parsed = gpioSocketRequest.safeParse(JSON.parse(line));
      if (!parsed.success) {
        this.counts.parseErrors++;
        const id = (JSON.parse(line) as { id?: unknown })?.id;
        if (typeof id === 'number') send({ id, ok: false, code: 'gpio_socket_bad_request', message: parsed.error.issues[0]?.message ?? 'bad request' });
        return;
      }
      req = parsed.data;
    } catch {
      this.counts.parseErrors++;
      return;
    }
    try {
      send(this.handle(req, held, send));
    } catch (err) {
      const code = err instanceof SitegateError ? err.code : 'gpio_socket_failed';
      send({ id: req.id, ok: false, code, message: errorMessage(err) });
    }
  }

  private handle(req: GpioSocketRequest, held: Map<string, Held>, send: (m: GpioSocketMessage) => void): GpioSocketMessage {
    switch (req.op) {
      case 'hello':
        return { id: req.id, ok: true, chips: this.options.chips.map(chipInfo) };
      case 'ping':
        return { id: req.id, ok: true };
      case 'pulses':
        return { id: req.id, ok: true, count: this.chip(req.chip).pulses(req.offset) };
      case 'output': {
        if (held.has(req.handle)) throw new SitegateError('gpio_socket_bad_request', `handle ${req.handle} is in use`);
        const chip = this.chip(req.spec.chip);
        const line = chip.output(req.spec, req.initial);
        held.set(req.handle, { kind: 'output', chip, offset: offsetOf(chip, req.spec), line });
        return { id: req.id, ok: true, value: line.read() };
      }
      case 'input': {
        if (held.has(req.handle)) throw new SitegateError('gpio_socket_bad_request', `handle ${req.handle} is in use`);
        const chip = this.chip(req.spec.chip);
        // Every edge goes out: the client keeps read() current and filters by the kind it asked for.
        const line = chip.input(req.spec, { edge: 'both', debounceMs: req.debounceMs });
        line.onEdge((e) => send({ event: 'edge', handle: req.handle, value: e.value, timestampNs: e.timestampNs.toString() }));
        held.set(req.handle, { kind: 'input', chip, offset: offsetOf(chip, req.spec), line });
        return { id: req.id, ok: true, value: line.read() };
      }
      case 'write': {
        const h = this.held(held, req.handle);
        if (h.kind !== 'output') throw new SitegateError('gpio_socket_bad_request', `handle ${req.handle} is an input`);
        h.line.write(req.value);
        return { id: req.id, ok: true };
      }
      case 'read':
        return { id: req.id, ok: true, value: this.held(held, req.handle).line.read() };
      case 'close': {
        const h = this.held(held, req.handle);
        held.delete(req.handle);
        h.line.close();
        return { id: req.id, ok: true };
      }
    }
  }

  private abandon(h: Held): void {
    if (h.kind === 'input') {
      h.line.close();
      return;
    }
    // What the kernel does for a dead process: release the line, drive nothing.
    const line = h.chip.state.lines[h.offset];
    line.use = 'free';
    const level = this.options.releaseLevels?.[h.chip.state.label]?.[h.offset];
    if (level !== undefined) line.level = level;
    this.counts.abandonedOutputs++;
  }

  private held(held: Map<string, Held>, handle: string): Held {
    const h = held.get(handle);
    if (!h) throw new SitegateError('gpio_socket_bad_request', `no line with handle ${handle} on this connection`);
    return h;
  }

  private chip(label: string): SimGpioChip {
    const chip = this.options.chips.find((c) => c.state.label === label);
    if (!chip) {
      throw new SitegateError('gpio_chip_not_found', `GPIO chip "${label}" is not served here (${this.options.chips.map((c) => c.state.label).join(', ')})`, { chip: label });
    }
    return chip;
  }
}

function chipInfo(chip: SimGpioChip): ChipInfo {
  const names: Record<string, number> = {};
  for (const l of chip.state.lines) if (l.name !== null) names[l.name] = l.offset;
  return { label: chip.state.label, lines: chip.state.lines.length, names };
}

function offsetOf(chip: SimGpioChip, spec: LineSpec): number {
  return spec.offset ?? (chip.state.lines.find((l) => l.name === spec.name) as { offset: number }).offset;
}
