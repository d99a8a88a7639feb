import { z } from 'zod';
import { topics } from './topics.js';

/**
 * Site-wide presence: after each stored batch the hub publishes the confirmed passages of granted
 * punches it holds (from any gate) on `roster/presence` (QoS 1). The broker lets only the hub
 * write under `roster/` and only the site's gates read it. Worker ids only, never an ID number.
 */
export const presenceTopic = (siteId: string): string => `${topics.roster(siteId)}/presence`;

/** Entries in one message at most; the hub splits a larger batch. */
export const MAX_PRESENCE_ENTRIES = 500;

export const presenceEntrySchema = z.strictObject({
  workerId: z.string().min(1).max(64),
  direction: z.enum(['in', 'out']),
  /** wall-clock ms of the passage, as its gate saw it */
  atMs: z.number().int().min(0),
  /** the gate the worker passed */
  gateId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});
export type PresenceEntry = z.infer<typeof presenceEntrySchema>;

/** Payload of roster/presence. */
export const presenceMessageSchema = z.strictObject({
  v: z.literal(1),
  entries: z.array(presenceEntrySchema).min(1).max(MAX_PRESENCE_ENTRIES),
});
export type PresenceMessage = z.infer<typeof presenceMessageSchema>;
