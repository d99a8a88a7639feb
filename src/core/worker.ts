import type { CredentialKind } from './entries.js';

export type SiteStatus = 'registered' | 'entered' | 'left' | 'blacklisted' | 'suspended';

/** A skill certificate as the rules see it: which trade it licenses and its last valid day. */
export interface RosterCertificate {
  /** 工种 the certificate is for (same spelling as RosterWorker.trade) */
  trade: string;
  /** Last valid day (Asia/Shanghai, yyyy-MM-dd), or null for 长期. */
  validTo: string | null;
}

/** What a gate knows of a worker: enough to decide, nothing the decision does not need. */
export interface RosterWorker {
  workerId: string;
  /** Display name, shown on the gate's screen and the operator's view. */
  name: string;
  status: SiteStatus;
  /** Last day (Asia/Shanghai, yyyy-MM-dd) the worker's ID card is valid, or null for 长期. */
  idValidTo: string | null;
  credentials: { kind: CredentialKind; hmac: string }[];
  /** 工种; a site's special trades need a valid certificate (absent: no trade rule applies). */
  trade?: string;
  /** Skill certificates that the certificate rule checks (absent: none known). */
  certificates?: RosterCertificate[];
}

/** Hub-side identity of a worker, needed only to build platform rows. */
export interface RegistryWorker {
  workerId: string;
  name: string;
  idCardType: string;
  idNumber: string;
  projectCode: string;
  teamSysNo: number;
}
