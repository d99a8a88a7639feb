import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SitegateError } from '../core/errors.js';
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
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SitegateError('registry_unreadable', `cannot read registry ${path}: ${(err as Error).message}`);
  }
  const r = registrySchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new SitegateError('registry_invalid', `registry ${path} is invalid at ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  return new Map(r.data.workers.map((w) => [w.workerId, w]));
}
