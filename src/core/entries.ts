/**
 * The journal's entries (DESIGN.md, "Messages"). A gate's journal is one hash chain of immutable
 * `punch` and `passage` entries; the hub re-computes every hash from these exact fields.
 */
export type Direction = 'in' | 'out';
/**
 * `manual`: a technician or operator opened the lane (sitegate open, an MQTT open-once); such a
 * punch names no worker and never becomes a platform row.
 */
export type CredentialKind = 'card' | 'wiegand' | 'idcard' | 'face' | 'manual';
export type Decision = 'granted' | 'denied';
export type PassageOutcome = 'confirmed' | 'timeout' | 'interrupted';

export interface PunchTime {
  /** Wall-clock ms since the epoch as the gate saw it. */
  ms: number;
  /** False when the gate's clock was not synchronised when the punch was taken. */
  clockSynced: boolean;
  /** Identifies one boot of the controller; monotonic readings compare only within a boot. */
  bootId: string;
  /** Monotonic ms since boot. */
  monoMs: number;
}

export interface PunchCredential {
  kind: CredentialKind;
  /** HMAC-SHA-256 (hex) of the card / ID number under the site key; never the number itself. */
  hmac: string;
}

export interface PunchBody {
  punchId: string;
  gateId: string;
  siteId: string;
  lane: string;
  direction: Direction;
  time: PunchTime;
  workerId: string | null;
  credential: PunchCredential;
  decision: Decision;
  reason: string;
  face: { score: number; liveness: number } | null;
  photoHash: string | null;
}

export interface PassageBody {
  gateId: string;
  punchId: string;
  outcome: PassageOutcome;
  sensorCount: number;
  time: PunchTime;
}

export interface ChainLink {
  seq: number;
  prevHash: string;
}

export type PunchEntry = { type: 'punch' } & ChainLink & PunchBody;
export type PassageEntry = { type: 'passage' } & ChainLink & PassageBody;
export type JournalEntry = PunchEntry | PassageEntry;

/** A signature over the chain head: it covers every entry up to and including `seq`. */
export interface SignedHead {
  seq: number;
  hash: string;
  sigAlg: SigAlg;
  /** base64 */
  sig: string;
  certSha256: string;
}

export type SigAlg = 'RSA-SHA256' | 'ECDSA-P256-SHA256' | 'SM2-SM3';

/** Payload of gate/<gateId>/punch. */
export interface PunchBatch {
  gateId: string;
  epoch: number;
  entries: JournalEntry[];
  head: SignedHead;
}

/** Payload of gate/<gateId>/ack. */
export interface PunchAck {
  gateId: string;
  /** Highest seq the hub has stored contiguously from the chain's start. */
  seq: number;
  punchIds: string[];
}
