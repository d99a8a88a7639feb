import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateConfigSchema } from '../../src/config/gate-config.js';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { platformSimConfigSchema } from '../../src/config/platform-sim-config.js';
import { DEMO_PINS } from '../../src/demo/site.js';

const ex = (f: string) => join(import.meta.dirname, '../../src/config/examples', f);

describe('example configs in src/config/examples/', () => {
  it('validate against their schemas', () => {
    expect(loadConfigFile(gateConfigSchema, ex('gate.yaml')).gateId).toBe('GATE-N1');
    expect(loadConfigFile(hubConfigSchema, ex('hub.yaml')).platform.mode).toBe('joint-test');
    expect(loadConfigFile(platformSimConfigSchema, ex('platform-sim.yaml')).rateLimit).toEqual({ requests: 1, windowMs: 1200 });
  });

  it('use the reference pin map the demo wires', () => {
    const c = loadConfigFile(gateConfigSchema, ex('gate.yaml'));
    expect(c.lanes[0].relays.in?.offset).toBe(DEMO_PINS.relayIn);
    expect(c.lanes[0].relays.out?.offset).toBe(DEMO_PINS.relayOut);
    expect(c.lanes[0].passageSensor.offset).toBe(DEMO_PINS.passage);
    expect(c.readers[0].d0.offset).toBe(DEMO_PINS.d0);
    expect(c.readers[0].d1.offset).toBe(DEMO_PINS.d1);
  });
});
