import { credentialHmac } from '../../core/credential.js';
import type { RegistryWorker, RosterWorker } from '../../core/worker.js';
import type { WorkerRecord } from './worker-record.js';

/**
 * What a gate gets of a registry record: status, ID validity, trade and certificate validity,
 * and credentials as HMACs under the site key (numbers never leave the hub bare). Face templates
 * travel with the roster separately (roster sync).
 */
export function rosterWorkerOf(record: WorkerRecord, siteKey: Buffer): RosterWorker {
  const credentials: RosterWorker['credentials'] = [];
  for (const c of record.credentials.cards) credentials.push({ kind: 'card', hmac: credentialHmac(siteKey, 'card', c.number) });
  for (const c of record.credentials.wiegand) credentials.push({ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', c.number) });
  if (record.credentials.idCard && record.identity.idType === '01') {
    credentials.push({ kind: 'idcard', hmac: credentialHmac(siteKey, 'idcard', record.identity.idNumber) });
  }
  return {
    workerId: record.workerId,
    name: record.identity.name,
    status: record.site.status,
    idValidTo: record.identity.idValidTo,
    credentials,
    trade: record.employment.trade,
    certificates: record.certificates.map((c) => ({ trade: c.trade, validTo: c.validTo })),
  };
}

/** What the hub needs to build platform rows. */
export function registryWorkerOf(record: WorkerRecord): RegistryWorker {
  return {
    workerId: record.workerId,
    name: record.identity.name,
    idCardType: record.identity.idType,
    idNumber: record.identity.idNumber,
    projectCode: record.employment.projectCode,
    teamSysNo: record.employment.teamSysNo,
  };
}
