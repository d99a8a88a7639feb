import type { CredentialKind } from './entries.js';

export type SiteStatus = 'registered' | 'entered' | 'left' | 'blacklisted' | 'suspended';

/** What a gate knows of a worker: enough to decide, nothing the decision does not need. */
export interface RosterWorker {
  workerId: string;
  /** Display name, shown on the gate's screen and the operator's view. */
  name: string;
  status: SiteStatus;
  /** Last day (Asia/Shanghai, yyyy-MM-dd) the worker's ID card is valid, or null for 长期. */
  idValidTo: string | null;
  credentials: { kind: CredentialKind; hmac: string }[];
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
