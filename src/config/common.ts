import { z } from 'zod';

export const topicId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -');

export const lineSpec = z.strictObject({
  /** chip label, e.g. pinctrl-bcm2711 (Pi 4), pinctrl-rp1 (Pi 5) */
  chip: z.string().min(1),
  offset: z.number().int().min(0).optional(),
  /** line name instead of offset */
  name: z.string().min(1).optional(),
  activeLow: z.boolean().default(false),
}).refine((l) => l.offset !== undefined || l.name !== undefined, 'needs offset or name');

export const mqttSection = z.strictObject({
  url: z.string().regex(/^mqtts?:\/\//, 'must start with mqtt:// or mqtts://'),
  /** defaults to the gateId for a gate, "hub" for the hub */
  username: z.string().min(1).optional(),
  passwordFile: z.string().min(1),
  caFile: z.string().optional(),
  keepaliveS: z.number().int().min(5).default(30),
  reconnectMinMs: z.number().int().min(100).default(1000),
  reconnectMaxMs: z.number().int().min(1000).default(60_000),
});
