import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The built CLI the daemons run from (`npx tsc -p .` makes it). */
export const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

/** The project's pinned Node 24, else the node running the tests (vitest runs under it). */
export function runtimeNode(): string {
  const pinned = join(import.meta.dirname, '../../.runtime/bin/node');
  return existsSync(pinned) ? pinned : process.execPath;
}

export interface DaemonProcessOptions {
  /** for messages: "gate", "hub" */
  name: string;
  /** arguments after the CLI path, e.g. ['gate', '-c', FILE] */
  args: string[];
  env: NodeJS.ProcessEnv;
  /** the pino `msg` that says the daemon is up */
  readyMsg: string;
  /** every line of stdout and stderr is appended here (kept for a failing run) */
  logFile: string;
}

/**
 * One `sitegate` daemon as a child process that a crash test kills and starts again. Ready when
 * its JSON log says so; a start that exits first rejects with the tail of its output.
 */
export class DaemonProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<number | string | null> | null = null;
  private tail: string[] = [];
  readonly counters = { starts: 0, failedStarts: 0, kills: 0 };

  constructor(private readonly opts: DaemonProcessOptions) {}

  get running(): boolean {
    const c = this.child;
    return c !== null && c.exitCode === null && c.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the daemon wrote. */
  lastLines(n = 30): string[] {
    return this.tail.slice(-n);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.opts.name} is already running`);
    const log = openSync(this.opts.logFile, 'a');
    writeSync(log, `--- start ${new Date().toISOString()}\n`);
    const child = spawn(runtimeNode(), [CLI, ...this.opts.args], { env: this.opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.counters.starts++;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        closeSync(log);
        resolve(signal ?? code);
      });
    });
    let ready: () => void = () => {};
    const readySeen = new Promise<void>((resolve) => (ready = resolve));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      writeSync(log, chunk);
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.tail.push(line);
        if (this.tail.length > 200) this.tail.splice(0, 100);
        if (line.includes(`"msg":"${this.opts.readyMsg}"`)) ready();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      readySeen.then(() => 'ready' as const),
      this.exited.then((how) => `exited (${how})`),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`not ready within ${timeoutMs} ms`), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      this.counters.failedStarts++;
      if (this.running) await this.kill('SIGKILL');
      // the exit can be seen before the last output: wait for the pipes to close
      await Promise.race([new Promise((resolve) => child.once('close', resolve)), new Promise((resolve) => setTimeout(resolve, 2000))]);
      throw new Error(`${this.opts.name} did not start: ${outcome}\n${this.lastLines(40).join('\n')}`);
    }
  }

  /** Sends the signal and waits for the exit; resolves with the exit code or signal. */
  async kill(signal: NodeJS.Signals): Promise<number | string | null> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return null;
    if (this.running) {
      child.kill(signal);
      if (signal === 'SIGKILL') this.counters.kills++;
    }
    const how = await exited;
    this.child = null;
    this.exited = null;
    return how;
  }

  /** SIGTERM, and SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<number | string | null> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return null;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const how = await this.kill('SIGTERM');
    clearTimeout(timer);
    return how;
  }
}
