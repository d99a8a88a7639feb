import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type DaemonKind = 'gate' | 'hub';

/**
 * Where a daemon serves its control socket: SITEGATE_CONTROL_SOCKET, else the unit's
 * RuntimeDirectory (systemd sets $RUNTIME_DIRECTORY), else /run/sitegate.
 */
export function controlSocketPath(kind: DaemonKind, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SITEGATE_CONTROL_SOCKET) return env.SITEGATE_CONTROL_SOCKET;
  const runtime = env.RUNTIME_DIRECTORY?.split(':')[0] || '/run/sitegate';
  return join(runtime, `${kind}.sock`);
}

/** The socket a technician's command talks to: --socket, else --hub's, else the gate's if present, else the hub's. */
export function clientSocketPath(opts: { socket?: string; hub?: boolean }, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return opts.socket;
  if (env.SITEGATE_CONTROL_SOCKET) return env.SITEGATE_CONTROL_SOCKET;
  const dir = '/run/sitegate';
  if (opts.hub) return join(dir, 'hub.sock');
  const gate = join(dir, 'gate.sock');
  const hub = join(dir, 'hub.sock');
  return !existsSync(gate) && existsSync(hub) ? hub : gate;
}
