import { randomBytes } from 'node:crypto';
import type { HubConfig } from '../config/hub-config.js';
import { readSecretFile } from '../config/load.js';
import { SitegateError } from '../core/errors.js';
import { connectMqtt } from '../mqtt/client.js';
import { commandAckSchema, type CommandAck } from '../mqtt/commands.js';
import { parsePayload } from '../mqtt/schemas.js';
import { topics } from '../mqtt/topics.js';

/**
 * Sends one command to the running hub over MQTT (as the hub's own account, another client id)
 * and waits for its ack. Rejects with `hub_no_answer` when the hub does not answer in time.
 */
export async function sendHubCommand(config: HubConfig, command: Record<string, unknown>, timeoutMs: number): Promise<CommandAck> {
  const id = `cli-${randomBytes(6).toString('hex')}`;
  let resolveAck: (ack: CommandAck) => void = () => undefined;
  const acked = new Promise<CommandAck>((resolve) => (resolveAck = resolve));
  const client = await connectMqtt({
    url: config.mqtt.url,
    username: config.mqtt.username ?? 'hub',
    password: readSecretFile(config.mqtt.passwordFile, 'MQTT password'),
    clientId: `sitegate-cli-${id}`,
    connectTimeoutMs: Math.min(timeoutMs, 10_000),
    onMessage: (_topic, payload) => {
      const parsed = parsePayload(commandAckSchema, payload);
      if (parsed.ok && parsed.value.id === id) resolveAck(parsed.value);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await client.subscribeAsync(topics.hubCmdAck(config.siteId), { qos: 1 });
    await client.publishAsync(topics.hubCmd(config.siteId), JSON.stringify({ ...command, id, notAfterMs: Date.now() + timeoutMs }), { qos: 1 });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SitegateError('hub_no_answer', `the hub of site ${config.siteId} did not answer within ${Math.round(timeoutMs / 1000)} s (is it running?)`)),
        timeoutMs,
      );
    });
    return await Promise.race([acked, timeout]);
  } finally {
    clearTimeout(timer);
    await client.endAsync().catch(() => undefined);
  }
}
