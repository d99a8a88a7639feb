import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';

type QoS = 0 | 1 | 2;
import { systemClock, type Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';

export type { MqttClient };

export interface ConnectMqttOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  username: string;
  password: string;
  clientId: string;
  /** false keeps the broker-side session (subscriptions, queued QoS1) across disconnects. Default true. */
  clean?: boolean;
  /** MQTT 5 session expiry; with clean:false the broker keeps the session this long offline. */
  sessionExpirySec?: number;
  will?: { topic: string; payload: string | Buffer; qos?: QoS; retain?: boolean };
  /** Pause between reconnect attempts after the first connect. Default 2000 ms. */
  reconnectPeriodMs?: number;
  /** How long the first connect may take before connectMqtt rejects. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Extra mqtt.js options (TLS ca, rejectUnauthorized…); ours win where both are set. */
  tls?: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  /**
   * Attached before the first CONNACK: a persistent session's queued messages can arrive in
   * the same read as the CONNACK, before a listener added after connectMqtt resolves.
   */
  onMessage?: (topic: string, payload: Buffer, packet: IPublishPacket) => void;
  log?: Logger;
  clock?: Clock;
}

const DEFAULTS = {
  clean: true,
  reconnectPeriodMs: 2000,
  connectTimeoutMs: 10_000,
  keepaliveS: 30,
} as const;

/** CONNACK codes that mean the credentials were refused: MQTT 5 134/135, MQTT 3.1.1 4/5. */
const REFUSED_CODES = new Set([134, 135, 4, 5]);

/**
 * An MQTT 5 client that resolves on its first CONNACK and rejects (and ends the client) when the
 * first connect fails. After that mqtt.js reconnects on its own; later errors are logged, never
 * fatal: mqtt.js emits `error` on every failed reconnect.
 */
export function connectMqtt(opts: ConnectMqttOptions): Promise<MqttClient> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger();
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const properties: NonNullable<IClientOptions['properties']> = {};
  if (opts.sessionExpirySec !== undefined) properties.sessionExpiryInterval = opts.sessionExpirySec;

  const client = mqtt.connect(opts.url, {
    ...opts.tls,
    protocolVersion: 5,
    username: opts.username,
    password: opts.password,
    clientId: opts.clientId,
    clean: opts.clean ?? DEFAULTS.clean,
    properties,
    keepalive: DEFAULTS.keepaliveS,
    reconnectPeriod: opts.reconnectPeriodMs ?? DEFAULTS.reconnectPeriodMs,
    connectTimeout: connectTimeoutMs,
    will: opts.will && {
      topic: opts.will.topic,
      payload: typeof opts.will.payload === 'string' ? Buffer.from(opts.will.payload) : opts.will.payload,
      qos: opts.will.qos ?? 1,
      retain: opts.will.retain ?? false,
    },
  });

  if (opts.onMessage) client.on('message', opts.onMessage);
  // Permanent: without an `error` listener an EventEmitter throws and takes the process down.
  client.on('error', (err) => {
    log.warn({ clientId: opts.clientId, err: errorMessage(err) }, 'mqtt error; reconnecting');
  });

  return new Promise<MqttClient>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      fail(new SitegateError('MQTT_CONNECT_TIMEOUT', `no answer from the MQTT broker at ${opts.url} within ${connectTimeoutMs} ms`, { url: opts.url }));
    }, connectTimeoutMs);
    const onConnect = (): void => {
      cleanup();
      resolve(client);
    };
    const onError = (err: Error): void => fail(firstConnectError(err, opts));
    const fail = (err: SitegateError): void => {
      cleanup();
      client.end(true);
      reject(err);
    };
    const cleanup = (): void => {
      clock.clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
    };
    client.once('connect', onConnect);
    client.on('error', onError);
  });
}

function firstConnectError(err: Error, opts: ConnectMqttOptions): SitegateError {
  const code = (err as { code?: unknown }).code;
  const detail = { url: opts.url, username: opts.username, code };
  if (typeof code === 'number' && REFUSED_CODES.has(code)) {
    return new SitegateError(
      'MQTT_NOT_AUTHORISED',
      `the MQTT broker at ${opts.url} refused user "${opts.username}": not authorised (wrong user name or password, or an unknown user)`,
      detail,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new SitegateError('MQTT_UNREACHABLE', `nothing accepts MQTT connections at ${opts.url} (connection refused)`, detail);
  }
  return new SitegateError('MQTT_CONNECT', `could not connect to the MQTT broker at ${opts.url}: ${err.message}`, detail);
}
