import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

/** Polls `done` every 20 ms until it holds or `maxMs` passes (bounded: no test waits forever). */
export async function waitFor(done: () => boolean, maxMs: number, what: string): Promise<void> {
  for (let spent = 0; !done(); spent += 20) {
    if (spent >= maxMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `socat -u UNIX-RECV:PATH -` child: systemd's side of NOTIFY_SOCKET. */
export class NotifyListener {
  out = '';
  private child: ChildProcess | null = null;
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }

  async start(): Promise<void> {
    this.child = spawn('socat', ['-u', `UNIX-RECV:${this.path}`, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => (this.out += d));
    await waitFor(() => existsSync(this.path), 5000, 'socat to bind the notify socket');
  }

  /** Occurrences of an assignment such as READY=1 (datagrams arrive back to back in `out`). */
  count(assignment: string): number {
    return this.out.split(assignment).length - 1;
  }

  stop(): void {
    if (this.child?.pid && this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}
