import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { shanghaiDateTime } from '../core/shanghai-time.js';

/** One token the site used: when it was installed and its fingerprint, never the token. */
export interface TokenHistoryEntry {
  fingerprint: string;
  installedMs: number;
  /** Asia/Shanghai date-time of installedMs, for people reading the file */
  installed: string;
  /** who installed it: the operator's command, or a change of the file noticed by the hub */
  source: 'command' | 'file-changed' | 'first-use';
}

export interface SecurityTokenOptions {
  /** File holding the token (安全令牌); mode 0600, owned by the hub. */
  file: string;
  /** JSON lines, one per token the site has had (fingerprints and dates only). */
  historyFile: string;
  clock: Clock;
  log?: Logger;
}

/** SHA-256 of the token, first 16 hex digits: enough to tell tokens apart, useless to an attacker. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The site's security token (安全令牌), read from a file. The file is looked at before every use
 * (one stat), so an operator who replaces it — `sitegate hub token set FILE`, or any editor —
 * needs no restart. Each token the site had stays in the history as a fingerprint with its
 * date; the previous token itself is kept beside the file (`.previous`, 0600) for a roll-back.
 */
export class SecurityToken {
  private cached: { token: string; mtimeMs: number; size: number; ino: number } | null = null;

  constructor(private readonly opts: SecurityTokenOptions) {}

  /** The current token; throws `security_token_unreadable` / `security_token_empty`. */
  current(): string {
    let st;
    try {
      st = statSync(this.opts.file);
    } catch (err) {
      throw new SitegateError('security_token_unreadable', `cannot read the security token file ${this.opts.file}: ${codeOf(err)}`);
    }
    const c = this.cached;
    if (c && c.mtimeMs === st.mtimeMs && c.size === st.size && c.ino === st.ino) return c.token;
    const token = readToken(this.opts.file);
    const changed = c !== null && c.token !== token;
    this.cached = { token, mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
    this.noteInstalled(token, c === null ? 'first-use' : 'file-changed');
    if (changed) this.opts.log?.info({ fingerprint: tokenFingerprint(token) }, 'security token replaced');
    return token;
  }

  /** Fingerprint of the current token, or null when the file cannot be read. */
  fingerprint(): string | null {
    try {
      return tokenFingerprint(this.current());
    } catch {
      return null;
    }
  }

  /**
   * Installs a new token: the old one goes to `<file>.previous`, the new one replaces the file
   * atomically (0600), and the history gets a line. Returns the new fingerprint.
   */
  replace(newToken: string): { fingerprint: string; previousFingerprint: string | null } {
    const token = newToken.replace(/\r?\n$/, '');
    checkToken(token, 'the new security token');
    let previous: string | null = null;
    if (existsSync(this.opts.file)) {
      try {
        previous = readToken(this.opts.file);
      } catch {
        previous = null;
      }
      if (previous !== null && previous !== token) {
        copyFileSync(this.opts.file, `${this.opts.file}.previous`);
        chmodSync(`${this.opts.file}.previous`, 0o600);
      }
    }
    // the token in use until now gets a history line too (if it has none), so the history shows what it replaced
    if (previous !== null) this.noteInstalled(previous, 'first-use');
    const tmp = `${this.opts.file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.opts.file);
    this.noteInstalled(token, 'command');
    const fingerprint = tokenFingerprint(token);
    this.opts.log?.info({ fingerprint, previous: previous === null ? null : tokenFingerprint(previous) }, 'security token installed');
    return { fingerprint, previousFingerprint: previous === null ? null : tokenFingerprint(previous) };
  }

  /** Every token the site had, oldest first; lines that do not parse are skipped. */
  history(): TokenHistoryEntry[] {
    let text: string;
    try {
      text = readFileSync(this.opts.historyFile, 'utf8');
    } catch {
      return [];
    }
    const out: TokenHistoryEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as TokenHistoryEntry;
        if (typeof e.fingerprint === 'string' && typeof e.installedMs === 'number') out.push(e);
      } catch {
        // a torn last line after a power cut: skip it
      }
    }
    return out;
  }

  /** Appends a history line unless the token is already the newest one there. */
  private noteInstalled(token: string, source: TokenHistoryEntry['source']): void {
    const fingerprint = tokenFingerprint(token);
    if (this.history().at(-1)?.fingerprint === fingerprint) return;
    const now = this.opts.clock.now();
    const entry: TokenHistoryEntry = { fingerprint, installedMs: now, installed: shanghaiDateTime(now), source };
    try {
      appendFileSync(this.opts.historyFile, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    } catch (err) {
      this.opts.log?.warn({ err: errorMessage(err) }, 'cannot write the security token history');
    }
  }
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SitegateError('security_token_unreadable', `cannot read the security token file ${file}: ${codeOf(err)}`);
  }
  const token = text.replace(/\r?\n$/, '');
  checkToken(token, `the security token in ${file}`);
  return token;
}

function checkToken(token: string, what: string): void {
  if (token.length === 0) throw new SitegateError('security_token_empty', `${what} is empty`);
  if (/[\r\n\0]/.test(token)) throw new SitegateError('security_token_malformed', `${what} must be one line`);
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? errorMessage(err);
}
