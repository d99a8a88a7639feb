import mqtt, { type MqttClient } from 'mqtt';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';

export interface GateLinkOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  reconnectPeriodMs: number;
  keepaliveS: number;
  will: { topic: string; payload: string };
  ca?: Buffer;
  log: Logger;
  /** the link came up (again) */
  onUp(): void;
  /** the link is down; `why` as mqtt.js told it */
  onDown(why: string): void;
}

/**
 * The gate's MQTT client. Unlike connectMqtt it does not wait for the broker: a gate must start,
 * decide and journal with the hub unreachable (for a week, if need be), and mqtt.js keeps trying.
 * A persistent session (clean: false) keeps the command subscription and queued acks across
 * outages. QoS 0 messages (passage events) are not queued while offline: they are stateless and
 * a week of them must not pile up in memory; punches travel from the journal, not from a queue.
 */
export function openGateLink(o: GateLinkOptions): MqttClient {
  const client = mqtt.connect(o.url, {
    protocolVersion: 5,
    username: o.username,
    password: o.password,
    clientId: o.clientId,
    clean: false,
    properties: { sessionExpiryInterval: 7 * 24 * 3600 },
    keepalive: o.keepaliveS,
    reconnectPeriod: o.reconnectPeriodMs,
    connectTimeout: 10_000,
    queueQoSZero: false,
    ...(o.ca ? { ca: o.ca } : {}),
    will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
  });
  let up = false;
  let lastError = 'not connected yet';
  client.on('connect', () => {
    up = true;
    o.log.info({ url: o.url }, 'hub link up');
    o.onUp();
  });
  client.on('error', (err) => {
    lastError = errorMessage(err);
    o.log.warn({ url: o.url, err: lastError }, 'mqtt error; reconnecting');
  });
  client.on('close', () => {
    if (up) o.log.warn({ url: o.url }, 'hub link down; punches stay in the journal');
    up = false;
    o.onDown(lastError);
  });
  return client;
}
