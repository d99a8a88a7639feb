import { z } from 'zod';
import { rosterWorkerSchema } from '../../core/roster-message.js';
import { siteRulesSchema } from '../../core/site-rules.js';
import { loadJsonFile, parseJsonText } from '../../config/load.js';

/**
 * The roster as a file a gate loads at start (commissioning, or no hub yet): credentials are
 * already HMACs under the site key; workers have the same shape as in the signed roster.
 */
export const rosterSchema = z.strictObject({
  version: z.number().int().min(0),
  siteId: z.string().min(1),
  /** hex; the key card numbers are HMAC'd with (carried in the signed roster) */
  siteKey: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
  /** the site's access rules; absent or null: the defaults */
  rules: siteRulesSchema.nullable().optional(),
  workers: z.array(rosterWorkerSchema),
});

export type RosterDocument = z.input<typeof rosterSchema>;

export type RosterFileContents = z.output<typeof rosterSchema>;

export function readRosterFile(path: string): RosterFileContents {
  return loadJsonFile(rosterSchema, path, 'roster');
}

/** The roster file's text, already read from `path`, validated with readRosterFile's errors. */
export function parseRosterText(text: string, path: string): RosterFileContents {
  return parseJsonText(rosterSchema, text, path, 'roster');
}
