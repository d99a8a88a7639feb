import { z } from 'zod';
import { loadJsonFile } from '../config/load.js';
import type { RegistryWorker } from '../core/worker.js';

/** The hub's worker registry file (the registry issue brings import and editing). */
export const registrySchema = z.strictObject({
  workers: z.array(z.strictObject({
    workerId: z.string().min(1).max(64),
    name: z.string().max(64),
    idCardType: z.string().default('01'),
    idNumber: z.string().regex(/^\d{17}[\dX]$/, 'must be an 18-character resident ID number'),
    projectCode: z.string().min(1),
    teamSysNo: z.number().int(),
  })),
});

export function readRegistryFile(path: string): Map<string, RegistryWorker> {
  const doc = loadJsonFile(registrySchema, path, 'registry');
  return new Map(doc.workers.map((w) => [w.workerId, w]));
}
