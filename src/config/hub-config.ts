import { z } from 'zod';
import { PROFILES } from '../municipal/profiles.js';
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
    /** lanes shown to Home Assistant (a lock entity each); lanes a gate reports in its status are added */
    lanes: z.array(topicId).default([]),
  })).default([]),
  registry: z.strictObject({
    /** workers file (JSON) until the registry issue brings import and edit */
    workersFile: z.string().min(1),
  }),
  platform: z.strictObject({
    /** platform profile: national, or a province's (shanghai) */
    profile: z.string().min(1).default('national'),
    /** the profile's own options (shanghai: token placement, names, signature) */
    profileOptions: z.record(z.string(), z.unknown()).default({}),
    /** the site's security token (安全令牌), one line; replaced with `sitegate hub token set FILE` */
    securityTokenFile: z.string().min(1).optional(),
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
      /** requests per Asia/Shanghai day, result polls included; kept across restarts */
      dailyBudget: z.number().int().min(1).optional(),
      backoffBaseMs: z.number().int().min(1).default(2_000),
      backoffMaxMs: z.number().int().min(1).default(300_000),
    }).prefault({}),
    /** credential kind → attendType code of this platform profile */
    attendTypes: z.partialRecord(z.enum(['card', 'wiegand', 'idcard', 'face']), z.string()).default({}),
    location: z.strictObject({ lng: z.number().min(-180).max(180), lat: z.number().min(-90).max(90) }).optional(),
    /** which passages make a platform row: confirmed only, or timed-out ones too */
    rowsFrom: z.enum(['confirmed', 'confirmed-or-timeout']).default('confirmed'),
  }).superRefine((p, ctx) => {
    const factory = PROFILES[p.profile];
    if (!factory) {
      ctx.addIssue({ code: 'custom', path: ['profile'], message: `unknown profile; known: ${Object.keys(PROFILES).join(', ')}` });
      return;
    }
    const options = factory.optionsSchema.safeParse(p.profileOptions);
    if (!options.success) {
      for (const i of options.error.issues) ctx.addIssue({ code: 'custom', path: ['profileOptions', ...i.path.map(String)], message: i.message });
    }
    if (factory.needsSecurityToken && !p.securityTokenFile) {
      ctx.addIssue({ code: 'custom', path: ['securityTokenFile'], message: `the ${p.profile} profile needs the site's security token file` });
    }
  }),
  /** Home Assistant MQTT discovery */
  homeAssistant: z.strictObject({
    enabled: z.boolean().default(true),
    discoveryPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('homeassistant'),
  }).prefault({}),
});

export type HubConfig = z.infer<typeof hubConfigSchema>;
