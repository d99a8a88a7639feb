import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, MosquittoBroker } from '../../src/demo/mosquitto.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { SitegateError } from '../../src/core/errors.js';
import { GATE_A, HUB, SITE, tempDir } from './helpers.js';

describe('mosquitto launcher', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function newBroker(port?: number, binary?: string): Promise<MosquittoBroker> {
    const dir = await tempDir();
    const broker = new MosquittoBroker({ dir: join(dir.path, 'broker'), siteId: SITE, hub: HUB, gates: [GATE_A], port, binary });
    cleanups.push(dir.remove, () => broker.kill('SIGKILL'));
    return broker;
  }

  it('serves on the port it reports until stopped, and on the same port after a restart', async () => {
    const broker = await newBroker();
    const { port, url } = await broker.start();
    expect(url).toBe(`mqtt://127.0.0.1:${port}`);
    const hub = await connectMqtt({ url, username: HUB.user, password: HUB.password, clientId: 'hub-1', connectTimeoutMs: 5000 });
    await hub.endAsync();

    await broker.stop();
    expect(broker.running).toBe(false);
    const refused = connectMqtt({ url, username: HUB.user, password: HUB.password, clientId: 'hub-2', connectTimeoutMs: 5000 });
    await expect(refused).rejects.toMatchObject({ code: 'MQTT_UNREACHABLE' });

    expect((await broker.restart()).port).toBe(port);
    const again = await connectMqtt({ url, username: HUB.user, password: HUB.password, clientId: 'hub-3', connectTimeoutMs: 5000 });
    await again.endAsync();
  });

  it('reports mosquitto\'s own words when the port is taken, instead of trusting whoever listens there', async () => {
    const port = await freePort();
    const squatter: Server = createServer((s) => s.destroy());
    squatter.listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())));

    const broker = await newBroker(port);
    const failed = await broker.start().then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(SitegateError);
    expect((failed as SitegateError).code).toBe('BROKER_START');
    expect((failed as SitegateError).message).toMatch(/Address already in use/);
    expect(broker.running).toBe(false);
  });

  it('says so when the mosquitto binary is missing', async () => {
    const broker = await newBroker(undefined, '/nonexistent/mosquitto');
    await expect(broker.start()).rejects.toMatchObject({ code: 'BROKER_START', message: expect.stringContaining('ENOENT') });
  });
});
