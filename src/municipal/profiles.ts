import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import type { FetchFn } from './national-http.js';
import { NationalProfile } from './national-profile.js';
import type { PlatformProfile } from './profile.js';
import { ShanghaiProfile, shanghaiProfileConfigSchema } from './shanghai-profile.js';

/** What every profile gets from the hub: endpoint, account, secret, clock. */
export interface ProfileContext {
  baseUrl: string;
  appId: string;
  appSecret: string;
  timeoutMs: number;
  clock: Clock;
  fetch?: FetchFn;
  /** The site's security token in force now (profiles that need one). */
  securityToken?: () => string;
}

export interface ProfileFactory {
  /** The profile's own options (`platform.profileOptions` in hub.yaml). */
  optionsSchema: z.ZodType;
  /** The profile sends the site's security token: `platform.securityTokenFile` is required. */
  needsSecurityToken: boolean;
  create(ctx: ProfileContext, options: unknown): PlatformProfile;
}

/** One entry per platform. A province is a new profile file and one line here. */
export const PROFILES: Readonly<Record<string, ProfileFactory>> = {
  national: {
    optionsSchema: z.strictObject({}),
    needsSecurityToken: false,
    create: (ctx) => new NationalProfile(ctx),
  },
  shanghai: {
    optionsSchema: shanghaiProfileConfigSchema,
    needsSecurityToken: true,
    create: (ctx, options) => {
      const { securityToken, ...rest } = ctx;
      if (!securityToken) throw new SitegateError('municipal.no_security_token', 'the shanghai profile needs the site security token (platform.securityTokenFile)');
      return new ShanghaiProfile({ ...rest, securityToken, config: shanghaiProfileConfigSchema.parse(options) });
    },
  },
};

/** Builds the named profile; its options are parsed by the profile's own schema. */
export function createProfile(name: string, ctx: ProfileContext, options: unknown = {}): PlatformProfile {
  const factory = PROFILES[name];
  if (!factory) {
    throw new SitegateError('municipal.unknown_profile', `unknown platform profile "${name}"; known: ${Object.keys(PROFILES).join(', ')}`);
  }
  const parsed = factory.optionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new SitegateError('municipal.bad_profile_options', `platform.profileOptions.${i.path.join('.')}: ${i.message}`);
  }
  return factory.create(ctx, parsed.data);
}
