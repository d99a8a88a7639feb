import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalBytes, sha256Hex } from './canonical.js';
import { SitegateError } from './errors.js';
import { siteRulesSchema, type SiteRules } from './site-rules.js';
import type { RosterWorker } from './worker.js';

/**
 * The signed roster the hub sends its gates (DESIGN "roster"): snapshots in chunks and deltas,
 * each message signed with the hub's Ed25519 key over canonical (RFC 8785) bytes, and a retained
 * head naming the newest version. Gates pin the hub's public key; a message whose signature,
 * site or shape is wrong is refused.
 */

/**
 * A worker as the roster carries it: what the rules need plus face templates (opaque base64,
 * one per enrolled face). Fields the registry adds later travel untouched.
 */
export type RosterWorkerLike = RosterWorker & { faceTemplates?: string[]; [extra: string]: unknown };

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const topicId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -');
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be yyyy-MM-dd');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
/** The `base64` test done natively: a regex over 100,000 templates costs most of a second. */
const isBase64 = (s: string): boolean => s.length % 4 === 0 && Buffer.from(s, 'base64').toString('base64') === s;
const version = z.number().int().min(0);

/** Limits that bound what one message may make a gate hold. */
export const ROSTER_LIMITS = {
  /** bytes of one roster payload a gate will parse */
  maxPayloadBytes: 16 * 1024 * 1024,
  /** workers in one snapshot chunk or one delta */
  maxWorkersPerMessage: 50_000,
  /** chunks of one snapshot */
  maxChunks: 10_000,
  maxTemplatesPerWorker: 16,
  /** characters of one base64 face template */
  maxTemplateChars: 16_384,
} as const;

export const rosterWorkerSchema = z.looseObject({
  workerId: z.string().min(1).max(64),
  name: z.string().max(64),
  status: z.enum(['registered', 'entered', 'left', 'blacklisted', 'suspended']),
  idValidTo: day.nullable(),
  credentials: z.array(z.strictObject({ kind: z.enum(['card', 'wiegand', 'idcard', 'face']), hmac: hex64 })).max(64),
  trade: z.string().max(64).optional(),
  certificates: z.array(z.looseObject({ trade: z.string().max(64), validTo: day.nullable() })).max(64).optional(),
  faceTemplates: z.array(z.string().max(ROSTER_LIMITS.maxTemplateChars).refine(isBase64, 'must be base64')).max(ROSTER_LIMITS.maxTemplatesPerWorker).optional(),
});

/** Ed25519: 64 bytes */
const sig = base64.length(88);

export const rosterDeltaSchema = z.strictObject({
  kind: z.literal('roster-delta'),
  siteId: topicId,
  fromVersion: version,
  version,
  /** workers added or changed, each in its state at `version` */
  upserts: z.array(rosterWorkerSchema).max(ROSTER_LIMITS.maxWorkersPerMessage),
  /** workerIds no longer on the roster */
  removes: z.array(z.string().min(1).max(64)).max(ROSTER_LIMITS.maxWorkersPerMessage),
  /** present when the site's rules changed */
  rules: siteRulesSchema.optional(),
  /** present when the site key changed (hex) */
  siteKey: hex64.optional(),
  sig,
}).refine((d) => d.version > d.fromVersion, { message: 'version must be above fromVersion', path: ['version'] });

export const rosterChunkSchema = z.strictObject({
  kind: z.literal('roster-snapshot'),
  siteId: topicId,
  version,
  index: z.number().int().min(0),
  count: z.number().int().min(1).max(ROSTER_LIMITS.maxChunks),
  /** SHA-256 over the snapshot's header and every chunk's workersSha256 (snapshotDigest) */
  digest: hex64,
  siteKey: hex64,
  /** null: the site has not configured rules (defaults apply) */
  rules: siteRulesSchema.nullable(),
  /** SHA-256 of the canonical bytes of `workers` */
  workersSha256: hex64,
  workers: z.array(rosterWorkerSchema).max(ROSTER_LIMITS.maxWorkersPerMessage),
  sig,
}).refine((c) => c.index < c.count, { message: 'index must be below count', path: ['index'] });

export const rosterHeadSchema = z.strictObject({
  kind: z.literal('roster-head'),
  siteId: topicId,
  version,
  atMs: z.number().int(),
  sig,
});

/** Gate → hub, unsigned (the broker's ACL binds the topic to the gate): please send a snapshot. */
export const rosterRequestSchema = z.strictObject({
  kind: z.literal('roster-request'),
  gateId: topicId,
  haveVersion: version.nullable(),
  /** the newest version the gate has heard of, when it has */
  wantVersion: version.nullable(),
  reason: z.enum(['fresh', 'gap', 'behind', 'retry', 'bad_snapshot', 'resync']),
});

export type RosterDelta = z.infer<typeof rosterDeltaSchema>;
export type RosterChunk = z.infer<typeof rosterChunkSchema>;
export type RosterHead = z.infer<typeof rosterHeadSchema>;
export type RosterRequest = z.infer<typeof rosterRequestSchema>;
export type RosterMessage = RosterDelta | RosterChunk | RosterHead;

export type Unsigned<T> = Omit<T, 'sig'>;

/**
 * What is signed. A snapshot chunk's workers are covered through `workersSha256`, so the large
 * array is canonicalised once (to check that hash), not twice.
 */
export function rosterSigningBytes(message: Record<string, unknown>): Buffer {
  const { sig: _sig, ...body } = message;
  if (body.kind === 'roster-snapshot') {
    const { workers: _workers, ...header } = body;
    return canonicalBytes(header);
  }
  return canonicalBytes(body);
}

/** The whole snapshot's digest: its header and every chunk's workersSha256, in order. */
export function snapshotDigest(h: { siteId: string; version: number; siteKey: string; rules: SiteRules | null; chunks: readonly string[] }): string {
  return sha256Hex(canonicalBytes({ kind: 'roster-snapshot-digest', siteId: h.siteId, version: h.version, siteKey: h.siteKey, rules: h.rules, chunks: h.chunks }));
}

export function signRosterMessage<T extends Record<string, unknown>>(body: T, privateKey: KeyObject): T & { sig: string } {
  const s = sign(null, rosterSigningBytes(body), privateKey).toString('base64');
  return { ...body, sig: s };
}

export function verifyRosterSignature(raw: Record<string, unknown>, publicKey: KeyObject): boolean {
  if (typeof raw.sig !== 'string') return false;
  try {
    return verify(null, rosterSigningBytes(raw), publicKey, Buffer.from(raw.sig, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The hub's roster public key as a gate's config pins it: a PEM block, or the base64 of the
 * DER SubjectPublicKeyInfo on one line. Only Ed25519 is accepted.
 */
export function parseRosterPublicKey(text: string): KeyObject {
  const t = text.trim();
  let key: KeyObject;
  try {
    key = t.startsWith('-----BEGIN')
      ? createPublicKey(t)
      : createPublicKey({ key: Buffer.from(t.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  } catch (err) {
    throw new SitegateError('ROSTER_KEY', `the hub's roster public key cannot be read (PEM, or base64 DER SubjectPublicKeyInfo): ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SitegateError('ROSTER_KEY', `the hub's roster public key must be Ed25519, not ${key.asymmetricKeyType}`);
  }
  return key;
}

/** One line for a gate's config: base64 of the DER SubjectPublicKeyInfo. */
export function rosterPublicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).toString('base64');
}

/** Short fingerprint of the roster key for logs and status (not secret). */
export function rosterKeyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ format: 'der', type: 'spki' })).slice(0, 16);
}
