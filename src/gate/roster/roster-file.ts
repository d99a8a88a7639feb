import { z } from 'zod';
import { loadJsonFile } from '../../config/load.js';

/** The roster as a gate receives it: credentials are already HMACs under the site key. */
export const rosterSchema = z.strictObject({
  version: z.number().int().min(0),
  siteId: z.string().min(1),
  /** hex; the key card numbers are HMAC'd with (carried in the signed roster) */
  siteKey: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
  workers: z.array(z.strictObject({
    workerId: z.string().min(1).max(64),
    name: z.string().max(64),
    status: z.enum(['registered', 'entered', 'left', 'blacklisted', 'suspended']),
    idValidTo: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable(),
    credentials: z.array(z.strictObject({
      kind: z.enum(['card', 'wiegand', 'idcard', 'face']),
      hmac: z.string().regex(/^[0-9a-f]{64}$/),
    })),
  })),
});

export type RosterDocument = z.infer<typeof rosterSchema>;

export function readRosterFile(path: string): RosterDocument {
  return loadJsonFile(rosterSchema, path, 'roster');
}
