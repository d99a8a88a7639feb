import { z } from 'zod';
import { siteRulesSchema } from '../core/site-rules.js';
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
    /**
     * The chain epoch the hub accepts from this gate. A gate that starts a new chain (a new
     * controller, a wiped journal) is re-commissioned by raising this and reloading the hub;
     * batches of any other epoch are rejected, counted and shown in the status.
     */
    epoch: z.number().int().min(0).default(1),
    /** lanes shown to Home Assistant (a lock entity each); lanes a gate reports in its status are added */
    lanes: z.array(topicId).default([]),
  })).default([]),
  registry: z.strictObject({
    /**
     * A workers file (CSV or JSON as `sitegate hub workers import` reads it, or the older
     * `{ workers: [{ workerId, name, idNumber, projectCode, teamSysNo }] }` list) imported into
     * the registry database at start, once for each content of the file. The registry itself
     * lives in stateDir/registry.db and is edited with `sitegate hub workers …`.
     */
    workersFile: z.string().min(1).optional(),
    /** how often the hub looks for registry changes made by the CLI (another process) */
    pollMs: z.number().int().min(100).max(60_000).default(2000),
  }).prefault({}),
  /** the site's access rules; they travel to the gates in the signed roster */
  rules: siteRulesSchema.prefault({}),
  /** the hub's roster signing key (Ed25519, PKCS#8 PEM); the gates pin its public half */
  rosterSigning: z.strictObject({
    /** created (mode 0600) at the first start when absent; default stateDir/roster-key.pem */
    keyFile: z.string().min(1).optional(),
  }).prefault({}),
  /** photos the gates publish apart from their punches */
  photos: z.strictObject({
    /** a photo larger than this (JPEG bytes) is refused */
    maxBytes: z.number().int().min(1024).max(8 * 1024 * 1024).default(1024 * 1024),
    /** a face punch's platform row waits this long for its photo, then goes without one */
    waitMs: z.number().int().min(0).default(120_000),
  }).prefault({}),
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
      /**
       * the platform's own limit, "at most `requests` arrivals in any `windowMs`": request k+N goes
       * only once the reply to request k is windowMs old, so arrivals can never crowd the window
       * whatever the network does (absent: one request per minSpacingMs, spaced from the reply)
       */
      window: z.strictObject({ requests: z.number().int().min(1), windowMs: z.number().int().min(0) }).optional(),
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
