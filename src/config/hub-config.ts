import { z } from 'zod';
import { mqttSection, topicId } from './common.js';

export const hubConfigSchema = z.strictObject({
  siteId: topicId,
  stateDir: z.string().min(1).default('/var/lib/sitegate-hub'),
  mqtt: mqttSection,
  /** Commissioned gates: each one's certificate is pinned by its SHA-256. */
  gates: z.array(z.strictObject({
    gateId: topicId,
    certFile: z.string().min(1),
    epoch: z.number().int().min(0).default(1),
  })).default([]),
  registry: z.strictObject({
    /** workers file (JSON) until the registry issue brings import and edit */
    workersFile: z.string().min(1),
  }),
  platform: z.strictObject({
    profile: z.enum(['national']).default('national'),
    baseUrl: z.string().url(),
    appId: z.string().min(1),
    appSecretFile: z.string().min(1),
    /** joint-test: no timer drives any call; only an operator's command uploads */
    mode: z.enum(['auto', 'joint-test']).default('auto'),
    timeoutMs: z.number().int().min(100).default(10_000),
    pacing: z.strictObject({
      minSpacingMs: z.number().int().min(0).default(1200),
      bucketCapacity: z.number().int().min(1).default(1),
      rowsPerRequest: z.number().int().min(1).max(20).default(20),
      pollDelayMs: z.number().int().min(0).default(1200),
      dailyBudget: z.number().int().min(1).optional(),
    }).prefault({}),
    /** credential kind → attendType code of this platform profile */
    attendTypes: z.partialRecord(z.enum(['card', 'wiegand', 'idcard', 'face']), z.string()).default({}),
    location: z.strictObject({ lng: z.number().min(-180).max(180), lat: z.number().min(-90).max(90) }).optional(),
    /** which passages make a platform row: confirmed only, or timed-out ones too */
    rowsFrom: z.enum(['confirmed', 'confirmed-or-timeout']).default('confirmed'),
  }),
});

export type HubConfig = z.infer<typeof hubConfigSchema>;
