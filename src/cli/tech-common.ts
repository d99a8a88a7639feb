import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { z } from 'zod';
import { errorMessage, SitegateError } from '../core/errors.js';
import { shanghaiDateTime } from '../core/shanghai-time.js';
import { controlRequest } from '../control/client.js';
import type { ControlRequestInput } from '../control/protocol.js';
import { clientSocketPath } from '../control/socket-path.js';

/** Exit codes of the technician's commands (README, "Reading sitegate status"). */
export const EXIT = {
  /** done, nothing wrong */
  ok: 0,
  /** done, and what it shows is degraded or a fault (or the daemon refused the request) */
  fault: 1,
  /** the command line is wrong */
  usage: 2,
  /** the daemon cannot be reached (not running, no permission, hung) */
  unreachable: 3,
} as const;

export const WIDTH = 80;

export interface ClientOptions {
  socket?: string;
  hub?: boolean;
  json?: boolean;
  timeout: number;
}

/** --socket, --hub, --json and --timeout on a command, and usage errors exit 2, not commander's 1. */
export function clientCommand(cmd: Command): Command {
  return usageExit2(cmd)
    .option('--socket <path>', 'control socket (default /run/sitegate/gate.sock, or hub.sock where only the hub runs)')
    .option('--hub', 'talk to the hub daemon on this machine')
    .option('--json', 'print the answer as JSON')
    .option('--timeout <ms>', 'give up after this long', (v) => positiveInt(v, '--timeout'), 10_000);
}

export function usageExit2(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
  });
}

export function positiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) {
    process.stderr.write(`error: ${what} takes a whole number above 0, not "${v}"\n`);
    process.exit(EXIT.usage);
  }
  return n;
}

/** The technician, for the daemon's log: the sudo caller if any. */
export function whoAmI(): string {
  return (process.env.SUDO_USER || userInfo().username || 'unknown').slice(0, 64);
}

/**
 * Sends one request and validates the reply's result against `schema`; prints errors in the
 * chosen form and returns null with process.exitCode set when there is nothing to show.
 */
export async function ask<T>(o: ClientOptions, req: ControlRequestInput, schema: z.ZodType<T>): Promise<T | null> {
  const path = clientSocketPath(o);
  let reply;
  try {
    reply = await controlRequest(path, req, { timeoutMs: o.timeout });
  } catch (err) {
    const code = err instanceof SitegateError ? err.code : 'control_unreachable';
    fail(o, code, errorMessage(err), code === 'control_unreachable' ? EXIT.unreachable : EXIT.fault);
    return null;
  }
  if (!reply.ok) {
    fail(o, reply.error.code, reply.error.message, EXIT.fault);
    return null;
  }
  const r = schema.safeParse(reply.result);
  if (!r.success) {
    fail(o, 'control_bad_reply', `the daemon's answer does not match this sitegate's version: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`, EXIT.fault);
    return null;
  }
  return r.data;
}

export function fail(o: { json?: boolean }, code: string, message: string, exit: number): void {
  if (o.json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
  process.stderr.write(`sitegate: ${message}\n`);
  process.exitCode = exit;
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** Lines cut to the terminal's 80 columns (a CJK character takes two). */
export function printLines(lines: string[]): void {
  process.stdout.write(lines.map((l) => fit(l, WIDTH)).join('\n') + '\n');
}

export function fit(s: string, width: number): string {
  let w = 0;
  let out = '';
  for (const ch of s) {
    const cw = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
    if (w + cw > width) return out.slice(0, -1) + '…';
    out += ch;
    w += cw;
  }
  return out;
}

/** "12s ago", "3h05m ago", "never". */
export function ago(ms: number | null, nowMs: number): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m ago`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h ago`;
}

export function duration(s: number): string {
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d${h}h` : h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** Shanghai time, as technicians and the platform read it. */
export function when(ms: number | null): string {
  return ms === null ? '-' : shanghaiDateTime(ms);
}

export function label(name: string): string {
  return name.padEnd(10);
}
