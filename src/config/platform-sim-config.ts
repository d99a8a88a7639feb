import { z } from 'zod';

export const platformSimConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8480),
    path: z.string().startsWith('/').default('/api'),
  }).prefault({}),
  apps: z.array(z.strictObject({ appId: z.string().min(1), appSecretFile: z.string().min(1) })).min(1),
  /** at most `requests` in any window of `windowMs`, result polls included */
  rateLimit: z.strictObject({
    requests: z.number().int().min(1).default(1),
    windowMs: z.number().int().min(1).default(1200),
  }).prefault({}),
  allowList: z.array(z.string()).default(['127.0.0.1', '::1']),
  resultDelayMs: z.number().int().min(0).default(0),
});

export type PlatformSimConfig = z.infer<typeof platformSimConfigSchema>;
