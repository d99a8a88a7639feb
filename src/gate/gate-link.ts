import mqtt, { type MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';

export interface GateLinkOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  /** first reconnect delay; each failed attempt doubles it up to reconnectMaxMs, with jitter */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  keepaliveS: number;
  clock?: Clock;
  /** [0, 1); the jitter's source (injected in tests) */
  random?: () => number;
  will: { topic: string; payload: string };
  ca?: Buffer;
  log: Logger;
  /** the link came up (again) */
  onUp(): void;
  /** the link is down; `why` as mqtt.js told it */
  onDown(why: string): void;
}

/**
 * Delay before reconnect attempt `attempt` (0 = the first after a drop): exponential from `minMs`
 * up to `maxMs`, of which a random half is jitter, so the gates of a site that lost the broker
 * together do not all come back in the same instant.
 */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const full = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (full / 2) * random());
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
    reconnectPeriod: 0, // reconnects are scheduled below, backing off with jitter
    connectTimeout: 10_000,
    queueQoSZero: false,
    ...(o.ca ? { ca: o.ca } : {}),
    will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
  });
  let up = false;
  let lastError = 'not connected yet';
  const clock = o.clock ?? systemClock;
  const random = o.random ?? Math.random;
  let attempt = 0;
  let timer: TimerHandle | null = null;
  const scheduleReconnect = () => {
    if (timer || client.disconnecting || client.disconnected) return;
    const delay = reconnectDelay(attempt++, o.reconnectMinMs, o.reconnectMaxMs, random);
    timer = clock.setTimeout(() => {
      timer = null;
      if (!client.disconnecting && !client.disconnected && !client.connected) client.reconnect();
    }, delay);
  };
  client.on('end', () => {
    if (timer) clock.clearTimeout(timer);
    timer = null;
  });
  client.on('connect', () => {
    attempt = 0;
    up = true;
    o.log.info({ url: o.url }, 'hub link up');
    o.onUp();
  });
  client.on('error', (err) => {
    lastError = errorMessage(err);
    o.log.warn({ url: o.url, err: lastError }, 'mqtt error; reconnecting');
  });
  client.on('close', () => {
    // a link closed by the gate's own stop is no fault to warn about
    if (up && (client.disconnecting || client.disconnected)) o.log.info({ url: o.url }, 'hub link closed');
    else if (up) o.log.warn({ url: o.url }, 'hub link down; punches stay in the journal');
    up = false;
    o.onDown(lastError);
    scheduleReconnect();
  });
  return client;
}
