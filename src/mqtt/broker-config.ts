import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { SitegateError } from '../core/errors.js';
import { assertTopicId, topics } from './topics.js';

/** One MQTT account: user name and its clear password (hashed before it reaches a file). */
export interface BrokerAccount {
  user: string;
  password: string;
}

export interface GateAccount {
  /** The gate's MQTT user name is its gateId (DESIGN "Keys and trust"). */
  gateId: string;
  password: string;
}

/**
 * An operator's dashboard (Home Assistant, Node-RED, MQTT Explorer): reads the site's status,
 * events, command acks and the discovery documents, and writes only commands (and Home
 * Assistant's birth message). It never sees punches, photos or the roster.
 */
export interface OperatorAccount extends BrokerAccount {
  /** Home Assistant's discovery prefix. Default homeassistant. */
  discoveryPrefix?: string;
}

/** The accounts of one site: its hub, its gates and, optionally, an operator's dashboard. */
export interface SiteAccounts {
  siteId: string;
  hub: BrokerAccount;
  gates: GateAccount[];
  operator?: OperatorAccount;
}

export interface BrokerTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  port: number;
}

export interface BrokerFilesOptions extends SiteAccounts {
  /** Plain listener port. */
  port: number;
  /** Address the listeners bind to. Default 127.0.0.1. */
  bindAddress?: string;
  /** Directory for mosquitto.db; absolute. */
  dataDir: string;
  /** Keep sessions and queued QoS1 messages across restarts. Default true. */
  persistence?: boolean;
  /**
   * Messages queued per offline persistent session. Default 1,000,000: mosquitto's own default
   * (1000) drops a gate's punches while the hub is away.
   */
  maxQueuedMessages?: number;
  /** Seconds between saves of the in-memory store to disk. Default 1 (mosquitto's is 1800). */
  autosaveIntervalS?: number;
  /** An extra TLS listener on the same bind address. */
  tls?: BrokerTls;
  /** Add `user root` so mosquitto started as root keeps root (tests, demo). Default false. */
  runAsRoot?: boolean;
  /**
   * Other sites sharing this broker (one hub machine for neighbouring sites). Each site's users
   * are confined to that site's topics.
   */
  otherSites?: SiteAccounts[];
  /** PBKDF2 iterations of the password hashes. Default 10,000 (mosquitto_passwd uses 101). */
  passwordIterations?: number;
}

export interface PasswdEntry {
  user: string;
  /** mosquitto 2 `$7$` PBKDF2-SHA512 hash; never the clear password. */
  hash: string;
}

export interface BrokerFiles {
  conf: string;
  passwd: PasswdEntry[];
  acl: string;
}

/** File names inside the broker directory; no secret or user name appears in them. */
export const BROKER_FILE_NAMES = {
  conf: 'mosquitto.conf',
  passwd: 'passwd',
  acl: 'acl',
} as const;

const DEFAULTS = {
  bindAddress: '127.0.0.1',
  persistence: true,
  maxQueuedMessages: 1_000_000,
  autosaveIntervalS: 1,
  passwordIterations: 10_000,
} as const;

/** Characters that would break a line of mosquitto's config or password file. */
const UNSAFE_VALUE = /[\r\n\0]/;

/**
 * The mosquitto.conf, password entries and ACL for a site. Pure: the caller decides where the
 * files go (see writeBrokerFiles), because the conf names them by absolute path.
 */
export function buildBrokerFiles(opts: BrokerFilesOptions, dir: string): BrokerFiles {
  const sites: SiteAccounts[] = [opts, ...(opts.otherSites ?? [])];
  checkAccounts(sites);
  checkPort('port', opts.port);
  if (opts.tls) checkPort('tls.port', opts.tls.port);
  if (!isAbsolute(dir)) throw configError('broker directory must be an absolute path', { dir });
  if (!isAbsolute(opts.dataDir)) throw configError('dataDir must be an absolute path', { dataDir: opts.dataDir });

  const iterations = opts.passwordIterations ?? DEFAULTS.passwordIterations;
  const passwd: PasswdEntry[] = sites.flatMap((site) => [
    { user: site.hub.user, hash: hashPassword(site.hub.password, iterations) },
    ...site.gates.map((g) => ({ user: g.gateId, hash: hashPassword(g.password, iterations) })),
    ...(site.operator ? [{ user: site.operator.user, hash: hashPassword(site.operator.password, iterations) }] : []),
  ]);
  return { conf: buildConf(opts, dir), passwd, acl: buildAcl(sites) };
}

/**
 * Writes mosquitto.conf, passwd (mode 0600) and acl into `dir`, each through a temporary file
 * and a rename, and creates dataDir. Returns the path of the conf.
 */
export async function writeBrokerFiles(dir: string, opts: BrokerFilesOptions): Promise<string> {
  const files = buildBrokerFiles(opts, dir);
  await mkdir(dir, { recursive: true });
  await mkdir(opts.dataDir, { recursive: true });
  await writeAtomic(join(dir, BROKER_FILE_NAMES.passwd), passwdText(files.passwd), 0o600);
  await writeAtomic(join(dir, BROKER_FILE_NAMES.acl), files.acl, 0o644);
  const confPath = join(dir, BROKER_FILE_NAMES.conf);
  await writeAtomic(confPath, files.conf, 0o644);
  return confPath;
}

export function passwdText(entries: PasswdEntry[]): string {
  return entries.map((e) => `${e.user}:${e.hash}\n`).join('');
}

/** mosquitto 2's `$7$<iterations>$<salt b64>$<hash b64>` with a 12-byte salt and 64-byte hash. */
export function hashPassword(password: string, iterations: number = DEFAULTS.passwordIterations): string {
  if (!Number.isInteger(iterations) || iterations < 1) throw configError('passwordIterations must be a positive integer');
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function buildConf(opts: BrokerFilesOptions, dir: string): string {
  const bind = opts.bindAddress ?? DEFAULTS.bindAddress;
  const persistence = opts.persistence ?? DEFAULTS.persistence;
  const lines = [
    '# Generated by sitegate; edits are overwritten.',
    'per_listener_settings false',
    'allow_anonymous false',
    `password_file ${join(dir, BROKER_FILE_NAMES.passwd)}`,
    `acl_file ${join(dir, BROKER_FILE_NAMES.acl)}`,
    `persistence ${persistence}`,
    // mosquitto appends the file name to this path verbatim, so it needs the trailing slash.
    `persistence_location ${opts.dataDir.endsWith('/') ? opts.dataDir : `${opts.dataDir}/`}`,
    `autosave_interval ${positiveInt('autosaveIntervalS', opts.autosaveIntervalS ?? DEFAULTS.autosaveIntervalS)}`,
    `max_queued_messages ${positiveInt('maxQueuedMessages', opts.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages)}`,
    'max_queued_bytes 0',
    'queue_qos0_messages false',
    // stderr: journald under systemd, a log file in the demo launcher.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
  ];
  if (opts.runAsRoot) lines.push('user root');
  lines.push('', `listener ${opts.port} ${checkValue('bindAddress', bind)}`, 'protocol mqtt');
  if (opts.tls) {
    lines.push(
      '',
      `listener ${opts.tls.port} ${bind}`,
      'protocol mqtt',
      `cafile ${checkValue('tls.caFile', opts.tls.caFile)}`,
      `certfile ${checkValue('tls.certFile', opts.tls.certFile)}`,
      `keyfile ${checkValue('tls.keyFile', opts.tls.keyFile)}`,
      'tls_version tlsv1.2',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Per-user rules only. DESIGN's `pattern write sitegate/v1/<siteId>/gate/%u/#` binds topic to
 * user name the same way, but mosquitto applies a pattern to every account on the broker, so
 * with more than one site a gate of one site could write under another's gate/ tree. Users not
 * listed here can neither read nor write anything.
 */
function buildAcl(sites: SiteAccounts[]): string {
  const out: string[] = ['# Generated by sitegate; edits are overwritten.'];
  for (const site of sites) {
    const root = topics.siteRoot(site.siteId);
    out.push('', `# site ${site.siteId}: hub`, `user ${site.hub.user}`, `topic readwrite ${root}/#`, 'topic readwrite homeassistant/#');
    for (const gate of site.gates) {
      out.push(
        '',
        `user ${gate.gateId}`,
        `topic write ${root}/gate/${gate.gateId}/#`,
        `topic read ${topics.gateAck(site.siteId, gate.gateId)}`,
        `topic read ${topics.gatePhotoAck(site.siteId, gate.gateId)}`,
        `topic read ${topics.gateCmd(site.siteId, gate.gateId)}`,
        `topic read ${topics.roster(site.siteId)}`,
        `topic read ${topics.roster(site.siteId)}/#`,
      );
    }
    if (site.operator) {
      const prefix = site.operator.discoveryPrefix ?? 'homeassistant';
      out.push(
        '',
        `# site ${site.siteId}: operator's dashboard`,
        `user ${site.operator.user}`,
        `topic read ${topics.hubStatus(site.siteId)}`,
        `topic read ${topics.hubCmdAck(site.siteId)}`,
        `topic write ${topics.hubCmd(site.siteId)}`,
        `topic read ${root}/gate/+/status`,
        `topic read ${root}/gate/+/event`,
        `topic read ${root}/gate/+/cmd/ack`,
        `topic write ${root}/gate/+/cmd`,
        `topic read ${prefix}/#`,
        `topic write ${topics.homeAssistantStatus(prefix)}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

function checkAccounts(sites: SiteAccounts[]): void {
  const seen = new Set<string>();
  const siteIds = new Set<string>();
  const add = (kind: string, user: string): void => {
    try {
      assertTopicId(kind, user);
    } catch (err) {
      throw configError((err as Error).message, { kind });
    }
    if (seen.has(user)) throw configError(`MQTT user "${user}" appears twice; every hub and gate needs its own`, { user });
    seen.add(user);
  };
  for (const site of sites) {
    try {
      assertTopicId('siteId', site.siteId);
    } catch (err) {
      throw configError((err as Error).message);
    }
    if (siteIds.has(site.siteId)) throw configError(`site "${site.siteId}" appears twice`, { siteId: site.siteId });
    siteIds.add(site.siteId);
    add('hub user', site.hub.user);
    checkPassword(site.hub.user, site.hub.password);
    for (const g of site.gates) {
      add('gateId', g.gateId);
      checkPassword(g.gateId, g.password);
    }
    if (site.operator) {
      add('operator user', site.operator.user);
      checkPassword(site.operator.user, site.operator.password);
      if (site.operator.discoveryPrefix !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(site.operator.discoveryPrefix)) {
        throw configError('operator.discoveryPrefix must be 1-64 of A-Z a-z 0-9 _ -', { siteId: site.siteId });
      }
    }
  }
}

function checkPassword(user: string, password: string): void {
  if (typeof password !== 'string' || password.length === 0) {
    throw configError(`MQTT user "${user}" has an empty password`, { user });
  }
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError(`${name} must be a port number 1-65535`, { port });
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw configError(`${name} must be a positive integer`, { [name]: v });
  return v;
}

function checkValue(name: string, v: string): string {
  if (v.length === 0 || UNSAFE_VALUE.test(v) || /\s/.test(v)) throw configError(`${name} must be one word without white space`, { [name]: v });
  return v;
}

function configError(message: string, detail?: Record<string, unknown>): SitegateError {
  return new SitegateError('BROKER_CONFIG', message, detail);
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode); // writeFile's mode only applies when it creates the file, and the umask trims it
  await rename(tmp, path);
}
