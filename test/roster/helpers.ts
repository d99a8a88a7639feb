import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialHmac } from '../../src/core/credential.js';
import type { RosterWorkerLike } from '../../src/core/roster-message.js';
import type { SiteRules } from '../../src/core/site-rules.js';
import type { RosterChanges, RosterSnapshotData, RosterSource } from '../../src/hub/roster-publisher.js';

export const SITE = 'siteA';

export function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

export async function tempDir(prefix = 'sitegate-roster-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export const SITE_KEY = Buffer.alloc(32, 0x5a);

/** A face template as the face index stores one: 128 float32 values, base64. */
export function template(seed: number): string {
  const b = Buffer.alloc(512);
  for (let i = 0; i < 128; i++) b.writeFloatLE(Math.sin(seed * 131 + i), i * 4);
  return b.toString('base64');
}

export function cardHmac(card: string, siteKey = SITE_KEY): string {
  return credentialHmac(siteKey, 'card', card);
}

export function worker(i: number, extra: Partial<RosterWorkerLike> = {}): RosterWorkerLike {
  return {
    workerId: `W${String(i).padStart(6, '0')}`,
    name: `工人${i}`,
    status: 'entered',
    idValidTo: '2030-12-31',
    credentials: [{ kind: 'card', hmac: cardHmac(`card-${i}`) }],
    trade: i % 10 === 0 ? '电工' : '普工',
    certificates: i % 10 === 0 ? [{ trade: '电工', validTo: '2029-06-30' }] : [],
    faceTemplates: [template(i)],
    ...extra,
  };
}

/**
 * The registry as the publisher sees it, in memory: every change bumps the version and is kept,
 * so changesSince builds the net change; versions before `oldest` are too old (null).
 */
export class MemoryRosterSource implements RosterSource {
  private v = 1;
  private readonly workers = new Map<string, RosterWorkerLike>();
  private readonly changedAt = new Map<string, number>();
  private rulesNow: SiteRules | null = null;
  private rulesAt = 0;
  private keyNow: Buffer = SITE_KEY;
  private keyAt = 0;
  oldest = 0;

  constructor(readonly siteId: string, initial: RosterWorkerLike[]) {
    for (const w of initial) this.workers.set(w.workerId, w);
  }

  version(): number {
    return this.v;
  }

  upsert(w: RosterWorkerLike): number {
    this.v++;
    this.workers.set(w.workerId, w);
    this.changedAt.set(w.workerId, this.v);
    return this.v;
  }

  remove(workerId: string): number {
    this.v++;
    this.workers.delete(workerId);
    this.changedAt.set(workerId, this.v);
    return this.v;
  }

  setRules(rules: SiteRules): number {
    this.v++;
    this.rulesNow = rules;
    this.rulesAt = this.v;
    return this.v;
  }

  setSiteKey(key: Buffer): number {
    this.v++;
    this.keyNow = key;
    this.keyAt = this.v;
    return this.v;
  }

  snapshot(): RosterSnapshotData {
    return { version: this.v, siteId: this.siteId, siteKey: this.keyNow, rules: this.rulesNow, workers: [...this.workers.values()] };
  }

  changesSince(version: number): RosterChanges | null {
    if (version < this.oldest) return null;
    const upserts: RosterWorkerLike[] = [];
    const removes: string[] = [];
    for (const [id, at] of this.changedAt) {
      if (at <= version) continue;
      const w = this.workers.get(id);
      if (w) upserts.push(w);
      else removes.push(id);
    }
    return {
      version: this.v,
      upserts,
      removes,
      ...(this.rulesAt > version && this.rulesNow ? { rules: this.rulesNow } : {}),
      ...(this.keyAt > version ? { siteKey: this.keyNow } : {}),
    };
  }
}

/** Resolves when `done()` holds; rejects after `ms` (a bound, never an assertion on timing). */
export async function waitUntil(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString('hex');
}
