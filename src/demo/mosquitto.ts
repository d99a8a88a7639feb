import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { sleep, systemClock, type Clock } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import { writeBrokerFiles, type BrokerFilesOptions, type GateAccount, type BrokerAccount, type OperatorAccount, type SiteAccounts } from '../mqtt/broker-config.js';

export interface MosquittoBrokerOptions {
  /** Directory for the conf, passwd, acl, data/ and mosquitto.log; absolute. */
  dir: string;
  siteId: string;
  hub: BrokerAccount;
  gates: GateAccount[];
  /** the site's dashboard account (Home Assistant): status, events and discovery to read, commands to write */
  operator?: OperatorAccount;
  /** 0 or absent: pick a free port at the first start and keep it across restarts. */
  port?: number;
  otherSites?: SiteAccounts[];
  /** Anything else for the conf (persistence, queue limits, TLS). */
  extra?: Partial<Pick<BrokerFilesOptions, 'persistence' | 'maxQueuedMessages' | 'autosaveIntervalS' | 'tls'>>;
  /** Path of the mosquitto binary. Default /usr/sbin/mosquitto. */
  binary?: string;
  /** How long start() waits for the broker to accept connections. Default 5000 ms. */
  readyTimeoutMs?: number;
  clock?: Clock;
}

const HOST = '127.0.0.1';
const POLL_MS = 50;
const STOP_TIMEOUT_MS = 5000;

/**
 * A real mosquitto child on 127.0.0.1 for the demo and tests. Runs as root when we are root
 * (mosquitto otherwise drops to its own user and cannot read our 0600 password file).
 */
export class MosquittoBroker {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private chosenPort = 0;
  private readonly clock: Clock;

  constructor(private readonly opts: MosquittoBrokerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get logPath(): string {
    return join(this.opts.dir, 'mosquitto.log');
  }

  get port(): number {
    return this.chosenPort;
  }

  get url(): string {
    return `mqtt://${HOST}:${this.chosenPort}`;
  }

  get running(): boolean {
    const c = this.child;
    return c !== null && c.pid !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async start(): Promise<{ port: number; url: string }> {
    if (this.child) throw new SitegateError('BROKER_RUNNING', 'mosquitto is already running; stop() it first');
    if (this.chosenPort === 0) this.chosenPort = this.opts.port || (await freePort());
    const confPath = await writeBrokerFiles(this.opts.dir, {
      siteId: this.opts.siteId,
      hub: this.opts.hub,
      gates: this.opts.gates,
      ...(this.opts.operator ? { operator: this.opts.operator } : {}),
      otherSites: this.opts.otherSites,
      port: this.chosenPort,
      bindAddress: HOST,
      dataDir: join(this.opts.dir, 'data'),
      runAsRoot: process.getuid?.() === 0,
      ...this.opts.extra,
    });

    const log = await open(this.logPath, 'a');
    const logStart = (await log.stat()).size;
    let spawnError: Error | null = null;
    let child: ChildProcess;
    try {
      child = spawn(this.opts.binary ?? '/usr/sbin/mosquitto', ['-c', confPath], { stdio: ['ignore', log.fd, log.fd] });
      // Listen before the next await: a failed spawn reports its error on the next tick.
      this.exited = new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', (err) => {
          spawnError = err;
          resolve();
        });
      });
      this.child = child;
    } finally {
      await log.close();
    }

    try {
      await this.waitReady(child, logStart, () => spawnError);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return { port: this.chosenPort, url: this.url };
  }

  /** SIGTERM and wait for exit; mosquitto saves its store on the way out. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }

  /** Sends `signal` (SIGKILL for crash tests) and waits for the child to exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    if (this.running) child.kill(signal);
    let timeUp: (v: boolean) => void = () => {};
    const timedOut = new Promise<boolean>((resolve) => (timeUp = resolve));
    const timer = this.clock.setTimeout(() => timeUp(true), STOP_TIMEOUT_MS);
    const tooSlow = await Promise.race([exited.then(() => false), timedOut]);
    this.clock.clearTimeout(timer);
    if (tooSlow) {
      child.kill('SIGKILL');
      await exited;
    }
    this.child = null;
    this.exited = null;
  }

  /** Stops and starts again on the same port with the same data directory. */
  async restart(): Promise<{ port: number; url: string }> {
    await this.stop();
    return this.start();
  }

  /**
   * Ready when our own child has logged "running" and the port accepts a connection. The log
   * check keeps a stale broker on the same port from passing for ours.
   */
  private async waitReady(child: ChildProcess, logStart: number, spawnError: () => Error | null): Promise<void> {
    const deadline = this.clock.monotonic() + (this.opts.readyTimeoutMs ?? 5000);
    for (;;) {
      const err = spawnError();
      if (err) throw await this.startError(`could not run mosquitto: ${err.message}`, logStart);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw await this.startError(`mosquitto exited at start (${child.exitCode ?? child.signalCode})`, logStart);
      }
      if ((await this.logSince(logStart)).includes(' running') && (await canConnect(this.chosenPort))) return;
      if (this.clock.monotonic() >= deadline) throw await this.startError('mosquitto did not accept connections in time', logStart);
      await sleep(this.clock, POLL_MS);
    }
  }

  private async startError(message: string, logStart: number): Promise<SitegateError> {
    const log = (await this.logSince(logStart)).trim().split('\n').slice(-20).join('\n');
    return new SitegateError('BROKER_START', `${message} on port ${this.chosenPort}; its log:\n${log}`, { logPath: this.logPath });
  }

  private async logSince(offset: number): Promise<string> {
    try {
      return (await readFile(this.logPath)).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }
}

/** A port nobody listens on right now (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not read the port of a bound socket');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
