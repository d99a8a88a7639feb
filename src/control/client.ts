import { connect } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import { controlResponseSchema, MAX_LINE_BYTES, type ControlRequestInput, type ControlResponse } from './protocol.js';

/**
 * One request, one reply, over the daemon's control socket. A daemon that is not there (no
 * socket, refused, no permission, no answer in time) is a `control_unreachable` error.
 */
export async function controlRequest(
  path: string,
  req: ControlRequestInput,
  opts: { timeoutMs?: number; clock?: Clock } = {},
): Promise<ControlResponse> {
  const clock = opts.clock ?? systemClock;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<ControlResponse>((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    let settled = false;
    const finish = (err: Error | null, value?: ControlResponse) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = clock.setTimeout(
      () => finish(new SitegateError('control_unreachable', `no answer from ${path} within ${timeoutMs} ms (is the daemon hung?)`)),
      timeoutMs,
    );
    s.setEncoding('utf8');
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 64 * MAX_LINE_BYTES) finish(new SitegateError('control_bad_reply', 'reply too long'));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(buf.slice(0, nl));
      } catch {
        return finish(new SitegateError('control_bad_reply', `the daemon at ${path} sent something that is not JSON`));
      }
      const r = controlResponseSchema.safeParse(parsed);
      if (!r.success) return finish(new SitegateError('control_bad_reply', `the daemon at ${path} sent an unexpected reply`));
      finish(null, r.data);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' ? 'no such socket (is the daemon running?)'
        : err.code === 'ECONNREFUSED' ? 'connection refused (the daemon is not running)'
        : err.code === 'EACCES' ? 'permission denied (join the sitegate-tech group, or use sudo)'
        : err.message;
      finish(new SitegateError('control_unreachable', `cannot reach ${path}: ${why}`));
    });
    s.on('close', () => finish(new SitegateError('control_unreachable', `${path} closed the connection without an answer`)));
  });
}
