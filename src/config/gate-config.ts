import { z } from 'zod';
import { lineSpec, mqttSection, topicId } from './common.js';

export const gateConfigSchema = z.strictObject({
  siteId: topicId,
  gateId: topicId,
  /** Chain epoch; the hub accepts a new one only after the gate is re-commissioned. */
  epoch: z.number().int().min(0).default(1),
  stateDir: z.string().min(1).default('/var/lib/sitegate'),
  mqtt: mqttSection,
  token: z.strictObject({
    module: z.string().min(1).default('/usr/lib/softhsm/libsofthsm2.so'),
    tokenLabel: z.string().min(1),
    keyLabel: z.string().min(1),
    pinFile: z.string().min(1),
    mechanism: z.enum(['ecdsa-p256', 'rsa-sha256', 'sm2-sm3']).default('ecdsa-p256'),
    /** vendor mechanism number for SM2-with-SM3, where the token has one */
    sm2Mechanism: z.number().int().optional(),
    /** how often a pulled token is looked for again */
    retryMs: z.number().int().min(100).default(5000),
  }),
  roster: z.strictObject({
    /** roster file (JSON) loaded at start until roster sync from the hub replaces it */
    file: z.string().min(1),
  }),
  gpio: z.strictObject({
    /** onoff on sysfs; 'socket' a chip served on a unix socket (crash tests); 'sim' only inside the demo/tests */
    driver: z.enum(['onoff', 'sim', 'socket']).default('onoff'),
    sysfsRoot: z.string().default('/sys/class/gpio'),
    /** the unix socket of the served chip, with driver 'socket' */
    socket: z.string().min(1).optional(),
    /** Wiegand pulses from a gpiomon child (kernel timestamps; the default with onoff) or from the driver's edges */
    wiegandEdges: z.enum(['gpiomon', 'driver']).optional(),
    gpiomon: z.strictObject({
      command: z.string().min(1).default('gpiomon'),
      gpiodetect: z.string().min(1).default('gpiodetect'),
      gpiofind: z.string().min(1).default('gpiofind'),
    }).prefault({}),
  }).refine((g) => g.driver !== 'socket' || g.socket !== undefined, { message: 'gpio.socket (a unix socket path) is required with driver "socket"', path: ['socket'] })
    .prefault({}),
  /** the site's fire-alarm input: every lane goes to free passage while it is active */
  fireAlarm: z.strictObject({
    input: lineSpec,
    /** logical level meaning "alarm"; wire the panel's NC contact so a cut wire reads as an alarm */
    activeLevel: z.union([z.literal(0), z.literal(1)]).default(1),
    debounceMs: z.number().int().min(0).max(5000).default(50),
  }).optional(),
  lanes: z.array(z.strictObject({
    name: topicId,
    relays: z.strictObject({ in: lineSpec.optional(), out: lineSpec.optional() }),
    passageSensor: lineSpec,
    pulseMs: z.number().int().min(50).max(10_000).default(500),
    passageTimeoutMs: z.number().int().min(500).max(60_000).default(8000),
    /** the sensor must rest this long after an activation before the passage counts as done */
    passageClearMs: z.number().int().min(0).max(5000).default(300),
    /**
     * what the turnstile does with the relays released (process stopped, power lost): 'locked'
     * wires the relays' NO contacts, 'free' their NC contacts and the software holds them
     * energised to lock (device-tree/README.md)
     */
    failState: z.enum(['locked', 'free']).default('locked'),
    /** free passage (fire alarm) holds each relay this long and renews it at half-time */
    holdMs: z.number().int().min(1000).max(60_000).default(10_000),
    indicator: z.strictObject({ red: lineSpec.optional(), green: lineSpec.optional(), buzzer: lineSpec.optional() }).optional(),
  })).min(1),
  readers: z.array(z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('wiegand'),
      lane: topicId,
      direction: z.enum(['in', 'out']),
      d0: lineSpec,
      d1: lineSpec,
      /** reloadable */
      frameGapMs: z.number().min(5).max(200).default(25),
    }),
    /** an ISO14443A card reader (PN532) on an I2C bus */
    z.strictObject({
      kind: z.literal('pn532'),
      lane: topicId,
      direction: z.enum(['in', 'out']),
      /** N of /dev/i2c-N (1 on a Raspberry Pi header) */
      i2cBus: z.number().int().min(0).max(255).default(1),
      /** 7-bit address; a PN532 answers at 0x24 */
      address: z.number().int().min(0x03).max(0x77).default(0x24),
      /** pause between two polls, ms (reloadable) */
      pollIntervalMs: z.number().int().min(0).max(5000).default(50),
    }),
    /** a resident ID card reader (GA 467 SAM) on a serial port */
    z.strictObject({
      kind: z.literal('idcard'),
      lane: topicId,
      direction: z.enum(['in', 'out']),
      /** a /dev/serial/by-id/... link finds the reader again after it is re-plugged */
      path: z.string().min(1),
      baudRate: z.number().int().min(1200).max(921_600).default(115_200),
      /** pause between two polls, ms (reloadable) */
      pollMs: z.number().int().min(10).max(10_000).default(250),
      /** SAM id heartbeat, ms: a silent reader is noticed this fast (reloadable) */
      heartbeatMs: z.number().int().min(100).max(60_000).default(2000),
    }),
  ])).default([]),
  publish: z.strictObject({
    /** entries per MQTT message */
    batchSize: z.number().int().min(1).max(1000).default(100),
    /** messages awaiting the hub's acknowledgment */
    maxInFlight: z.number().int().min(1).max(1000).default(8),
    /** re-send a batch the hub has not acknowledged after this long */
    ackTimeoutMs: z.number().int().min(1000).default(15_000),
  }).prefault({}),
});

export type GateConfig = z.infer<typeof gateConfigSchema>;
