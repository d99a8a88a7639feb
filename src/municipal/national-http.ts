import type { Clock } from '../core/clock.js';

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

export type HttpOutcome =
  | { ok: true; status: number; retryAfter: string | null; text: string }
  | { ok: false; kind: 'timeout' | 'network' | 'too_large'; message: string };

export interface PostFormRequest {
  url: string;
  body: string;
  timeoutMs: number;
  maxReplyBytes: number;
  clock: Clock;
  fetch: FetchFn;
}

/**
 * POSTs an application/x-www-form-urlencoded body and reads the whole reply, bounded in size.
 * The deadline runs on the injected clock and covers headers and body alike.
 */
export async function postForm(req: PostFormRequest): Promise<HttpOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = req.clock.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  try {
    const res = await req.fetch(req.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
        accept: 'application/json',
      },
      body: req.body,
      signal: controller.signal,
    });
    const text = await readBounded(res, req.maxReplyBytes);
    if (text === null) {
      controller.abort();
      return { ok: false, kind: 'too_large', message: `reply larger than ${req.maxReplyBytes} bytes` };
    }
    return { ok: true, status: res.status, retryAfter: res.headers.get('retry-after'), text };
  } catch (err) {
    if (timedOut) return { ok: false, kind: 'timeout', message: `no complete reply within ${req.timeoutMs} ms` };
    return { ok: false, kind: 'network', message: `connection failed: ${describeNetworkError(err)}` };
  } finally {
    req.clock.clearTimeout(timer);
  }
}

async function readBounded(res: Response, maxBytes: number): Promise<string | null> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return err.message;
}

/** Retry-After as delay-seconds or an HTTP date, in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // IMF-fixdate only (RFC 9110): Date.parse alone would read "1.5" as a date.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
