import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CONTROL_ERRORS, controlRequestSchema, MAX_LINE_BYTES, type ControlRequest, type ControlResponse } from './protocol.js';
import type { ControlHandlers } from './providers.js';

export interface ControlServerOptions {
  /** unix socket path */
  path: string;
  handlers: ControlHandlers;
  clock: Clock;
  log: Logger;
  /** file mode of the socket; default 0660 (service user and technicians' group) */
  mode?: number;
  /** group that may connect (technicians); default sitegate-tech, skipped with a warning if absent */
  group?: string | null;
  /** connections allowed at once */
  maxConnections?: number;
  /** a connection silent this long is closed */
  idleMs?: number;
}

/**
 * The daemon's local control socket: newline-delimited JSON, one reply per request. A bad
 * request gets an error reply and is counted; nothing a client sends can crash the daemon.
 */
export class ControlServer {
  readonly counters = { connections: 0, requests: 0, badRequests: 0, errors: 0, refused: 0 };
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: ControlServerOptions) {}

  async start(): Promise<void> {
    const { path, log } = this.opts;
    removeStaleSocket(path);
    const server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new SitegateError('control_socket_listen', `cannot serve the control socket ${path}: ${err.message}`)));
      server.listen(path, () => resolve());
    });
    server.on('error', (err) => log.error({ err: err.message }, 'control socket error'));
    this.server = server;
    chmodSync(path, this.opts.mode ?? 0o660);
    const group = this.opts.group === undefined ? 'sitegate-tech' : this.opts.group;
    if (group) {
      const gid = groupId(group);
      if (gid === null) log.warn({ group }, `group ${group} does not exist: only the service user can use the control socket`);
      else {
        try {
          chownSync(path, -1, gid);
        } catch (err) {
          log.warn({ group, err: errorMessage(err) }, `control socket not given to group ${group}`);
        }
      }
    }
    log.info({ path }, 'control socket listening');
  }

  private accept(s: Socket): void {
    if (this.sockets.size >= (this.opts.maxConnections ?? 16)) {
      this.counters.refused++;
      s.end(JSON.stringify(errorReply(null, 'busy', 'too many control connections')) + '\n');
      return;
    }
    this.counters.connections++;
    this.sockets.add(s);
    let buf = '';
    let chain = Promise.resolve();
    let idle: TimerHandle | null = null;
    const clock = this.opts.clock;
    const armIdle = () => {
      if (idle) clock.clearTimeout(idle);
      idle = clock.setTimeout(() => s.destroy(), this.opts.idleMs ?? 30_000);
    };
    armIdle();
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      armIdle();
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        chain = chain.then(() => this.answer(line)).then((reply) => {
          if (!s.destroyed) s.write(JSON.stringify(reply) + '\n');
        });
      }
      if (Buffer.byteLength(buf) > MAX_LINE_BYTES) {
        this.counters.badRequests++;
        buf = '';
        s.end(JSON.stringify(errorReply(null, CONTROL_ERRORS.tooLong, `a request line is limited to ${MAX_LINE_BYTES} bytes`)) + '\n');
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (idle) clock.clearTimeout(idle);
      this.sockets.delete(s);
    });
  }

  /** Never throws: every failure becomes an error reply. */
  private async answer(line: string): Promise<ControlResponse> {
    this.counters.requests++;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.counters.badRequests++;
      return errorReply(null, CONTROL_ERRORS.badRequest, 'request is not JSON');
    }
    const rawId = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
    const id = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
    const parsed = controlRequestSchema.safeParse(raw);
    if (!parsed.success) {
      this.counters.badRequests++;
      const i = parsed.error.issues[0];
      return errorReply(id, CONTROL_ERRORS.badRequest, `bad request at ${i.path.join('.') || '(top level)'}: ${i.message}`);
    }
    const req = parsed.data;
    const handler = this.opts.handlers[req.cmd] as ((r: ControlRequest) => unknown) | undefined;
    if (!handler) {
      this.counters.badRequests++;
      return errorReply(id, CONTROL_ERRORS.unsupported, `this daemon does not answer "${req.cmd}"`);
    }
    try {
      return { id, ok: true, result: await handler(req) };
    } catch (err) {
      this.counters.errors++;
      const code = err instanceof SitegateError ? err.code : CONTROL_ERRORS.failed;
      this.opts.log.warn({ cmd: req.cmd, code, err: errorMessage(err) }, 'control request failed');
      return errorReply(id, code, errorMessage(err));
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // net.Server removes its socket file on close; a leftover is harmless (start removes it)
  }
}

function errorReply(id: string | number | null, code: string, message: string): ControlResponse {
  return { id, ok: false, error: { code, message } };
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else throw new SitegateError('control_socket_path', `${path} exists and is not a socket: move it away`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Node has no getgrnam: read /etc/group (technicians' groups are local, not from NSS). */
export function groupId(name: string, groupFile = '/etc/group'): number | null {
  try {
    for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
      const [n, , gid] = line.split(':');
      if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
  } catch {
    /* no group file: no group */
  }
  return null;
}
