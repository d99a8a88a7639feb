import { describe, expect, it } from 'vitest';
import { gateConfigSchema } from '../../src/config/gate-config.js';
import { faceWorkerCount } from '../../src/gate/face/face-worker-count.js';

const base = {
  siteId: 'S1',
  gateId: 'G1',
  mqtt: { url: 'mqtt://127.0.0.1:1883', passwordFile: '/etc/sitegate/mqtt-password' },
  token: { tokenLabel: 'gate-G1', keyLabel: 'punch', pinFile: '/etc/sitegate/token-pin' },
  roster: { file: '/var/lib/sitegate/roster.json' },
  lanes: [{ name: 'L1', relays: { in: { chip: 'pinctrl-bcm2711', offset: 17 } }, passageSensor: { chip: 'pinctrl-bcm2711', offset: 22 } }],
};

describe('face worker threads', () => {
  it("'auto' leaves the gate's main thread a core of its own and runs at most two", () => {
    expect([1, 2, 3, 4, 8].map((cpus) => faceWorkerCount('auto', cpus))).toEqual([1, 1, 2, 2, 2]);
    expect(faceWorkerCount(3, 2)).toBe(3);
  });

  it("defaults to 'auto' and takes a count from 1 to 8", () => {
    expect(gateConfigSchema.parse(base).face.workers).toBe('auto');
    expect(gateConfigSchema.parse({ ...base, face: { workers: 2 } }).face.workers).toBe(2);
    expect(() => gateConfigSchema.parse({ ...base, face: { workers: 0 } })).toThrow();
    expect(() => gateConfigSchema.parse({ ...base, face: { workers: 'many' } })).toThrow();
  });
});
