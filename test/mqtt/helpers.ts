import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connectMqtt, type ConnectMqttOptions } from '../../src/mqtt/client.js';

export const SITE = 'siteA';
export const HUB = { user: 'hubA', password: 'hub-secret-1' };
export const GATE_A = { gateId: 'gate-a', password: 'gate-a-secret' };
export const GATE_B = { gateId: 'gate-b', password: 'gate-b-secret' };
export const OTHER_SITE = {
  siteId: 'siteB',
  hub: { user: 'hubB', password: 'hub-b-secret' },
  gates: [{ gateId: 'gate-x', password: 'gate-x-secret' }],
};

export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'sitegate-mqtt-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface Received {
  topic: string;
  payload: string;
}

/** A connected client that records every message it gets. */
export async function recordingClient(
  url: string,
  account: { user: string; password: string },
  extra: Partial<ConnectMqttOptions> = {},
): Promise<{ client: MqttClient; received: Received[] }> {
  const received: Received[] = [];
  const client = await connectMqtt({
    url,
    username: account.user,
    password: account.password,
    clientId: `${account.user}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriodMs: 200,
    connectTimeoutMs: 5000,
    onMessage: (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }),
    ...extra,
  });
  return { client, received };
}

export function gateAccount(g: { gateId: string; password: string }): { user: string; password: string } {
  return { user: g.gateId, password: g.password };
}

/** Resolves when `done()` holds; rejects after `ms` (a bound, never an assertion on timing). */
export async function waitUntil(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function endAll(clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => (c ? c.endAsync(true) : undefined)));
}
