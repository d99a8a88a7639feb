import { createHash, getHashes } from 'node:crypto';
import { z } from 'zod';
import { errorMessage, SitegateError } from '../core/errors.js';
import { NationalProfile, type NationalProfileOptions } from './national-profile.js';
import { signingString } from './national-sign.js';

/**
 * Shanghai's profile. Its interface document is given only to registered vendors, so everything
 * that may differ from the national shape is configuration: method and field names, where the
 * site's security token (安全令牌) goes and under which name, and how the signature is made.
 * The defaults are the national shape plus a signed `token` form parameter.
 */
export const shanghaiProfileConfigSchema = z.strictObject({
  /** Where the token travels: a form parameter (signed with the rest) or a field of `data`. */
  tokenIn: z.enum(['param', 'data']).default('param'),
  /** Its name there. */
  tokenName: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/).default('token'),
  version: z.string().min(1).default('1.0'),
  methods: z.strictObject({ upload: z.string().min(1).optional(), query: z.string().min(1).optional() }).default({}),
  fieldNames: z.record(z.string(), z.string().min(1)).default({}),
  directionCodes: z.strictObject({ in: z.string().min(1), out: z.string().min(1) }).optional(),
  /** Fixed extra form parameters (a platform code, a channel…), signed with the rest. */
  extraParams: z.record(z.string(), z.string()).default({}),
  signature: z.strictObject({
    hash: z.enum(['sha256', 'sm3', 'md5']).default('sha256'),
    /** Name under which the secret is appended to the signing string. */
    secretName: z.string().min(1).default('appsecret'),
    /** Also append `&<tokenName>=TOKEN` after the secret (when the token is not already a signed param). */
    appendToken: z.boolean().default(false),
    lowerCase: z.boolean().default(true),
    upperCaseHex: z.boolean().default(false),
  }).prefault({}),
});
export type ShanghaiProfileConfig = z.infer<typeof shanghaiProfileConfigSchema>;

export interface ShanghaiProfileOptions extends Omit<NationalProfileOptions, 'extraParams' | 'methods' | 'fieldNames' | 'directionCodes' | 'version'> {
  /** The token in force now: called before every request, so a replaced token is used at once. */
  securityToken: () => string;
  config: ShanghaiProfileConfig;
}

const FIELD_KEYS = new Set([
  'projectCode', 'teamSysNo', 'dataList', 'idCardType', 'idCardNumber', 'date', 'direction', 'image', 'channel',
  'attendType', 'lng', 'lat', 'requestSerialCode',
]);

export class ShanghaiProfile extends NationalProfile {
  private readonly token: () => string;
  private readonly sh: ShanghaiProfileConfig;

  constructor(options: ShanghaiProfileOptions) {
    const { securityToken, config, ...national } = options;
    for (const key of Object.keys(config.fieldNames)) {
      if (!FIELD_KEYS.has(key)) throw new SitegateError('municipal.bad_option', `shanghai fieldNames: unknown field "${key}"`);
    }
    if (config.signature.hash === 'sm3' && !getHashes().includes('sm3')) {
      throw new SitegateError('municipal.bad_option', 'shanghai signature.hash sm3: this Node has no SM3');
    }
    super({
      name: 'shanghai',
      ...national,
      version: config.version,
      methods: config.methods,
      fieldNames: config.fieldNames,
      ...(config.directionCodes ? { directionCodes: config.directionCodes } : {}),
      extraParams: config.extraParams,
    });
    this.token = securityToken;
    this.sh = config;
  }

  override async upload(batch: Parameters<NationalProfile['upload']>[0]) {
    const missing = this.tokenProblem();
    return missing ?? super.upload(batch);
  }

  override async query(requestSerialCode: string) {
    const missing = this.tokenProblem();
    return missing ?? super.query(requestSerialCode);
  }

  /** A token that cannot be read stops the request before anything is sent. */
  private tokenProblem(): { ok: false; kind: 'credentials_unavailable'; message: string } | null {
    try {
      this.token();
      return null;
    } catch (err) {
      return { ok: false, kind: 'credentials_unavailable', message: `security token: ${errorMessage(err)}` };
    }
  }

  protected override buildParams(method: string, dataJson: string): Record<string, string> {
    const params = super.buildParams(method, dataJson);
    if (this.sh.tokenIn === 'param') params[this.sh.tokenName] = this.token();
    return params;
  }

  protected override call(method: string, data: Record<string, unknown>) {
    return super.call(method, this.sh.tokenIn === 'data' ? { [this.sh.tokenName]: this.token(), ...data } : data);
  }

  protected override sign(params: Record<string, string>): string {
    return shanghaiSign(params, this.appSecret, this.sh.signature, this.sh.signature.appendToken ? { name: this.sh.tokenName, value: this.token() } : null);
  }
}

/** The signature as configured: the national signing string, with the secret's name, case and hash from config. */
export function shanghaiSign(
  params: Record<string, string>,
  secret: string,
  sig: ShanghaiProfileConfig['signature'],
  appendToken: { name: string; value: string } | null,
): string {
  let text: string;
  if (sig.secretName === 'appsecret' && sig.lowerCase && !appendToken) text = signingString(params, secret);
  else {
    const pairs = Object.keys(params).filter((k) => k !== 'sign').sort().map((k) => `${k}=${params[k]}`);
    pairs.push(`${sig.secretName}=${secret}`);
    if (appendToken) pairs.push(`${appendToken.name}=${appendToken.value}`);
    text = pairs.join('&');
    if (sig.lowerCase) text = text.toLowerCase();
  }
  const hex = createHash(sig.hash).update(text, 'utf8').digest('hex');
  return sig.upperCaseHex ? hex.toUpperCase() : hex;
}
