import { z } from 'zod';
import { parseRosterPublicKey } from '../core/roster-message.js';
import { lineSpec, mqttSection, topicId } from './common.js';

const cameraCommon = {
  lane: topicId,
  direction: z.enum(['in', 'out']),
};

/** A camera: a child writing MJPEG to stdout (ffmpeg, rpicam-vid), or a directory of images (demo, tests). */
const cameraSpec = z.union([
  z.strictObject({
    ...cameraCommon,
    /** program and arguments, e.g. [ffmpeg, -f, v4l2, -i, /dev/video0, -f, mjpeg, -] */
    command: z.array(z.string().min(1)).min(1),
  }),
  z.strictObject({
    ...cameraCommon,
    /** every image file of this directory, sorted by name, one per interval */
    directory: z.string().min(1),
    intervalMs: z.number().int().min(10).max(60_000).default(500),
    /** start again at the first image after the last */
    loop: z.boolean().default(false),
  }),
]);

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
    /** roster file (JSON) loaded at start when newer than the stored roster (commissioning, or no hub) */
    file: z.string().min(1).optional(),
    /**
     * the hub's roster public key as `sitegate hub roster-key` prints it (base64 DER or PEM):
     * with it the gate keeps its roster in step with the hub (signed snapshots and deltas)
     */
    hubPublicKey: z.string().min(1).refine((t) => {
      try {
        parseRosterPublicKey(t);
        return true;
      } catch {
        return false;
      }
    }, 'must be the hub\'s Ed25519 roster public key (base64 DER SubjectPublicKeyInfo or PEM), as `sitegate hub roster-key` prints it').optional(),
    /** first wait before an unanswered snapshot request is repeated; doubles up to retryMaxMs */
    retryMinMs: z.number().int().min(100).default(5000),
    retryMaxMs: z.number().int().min(100).default(120_000),
    /** a head newer than the roster waits this long for its deltas before a snapshot is asked for */
    headGraceMs: z.number().int().min(0).default(5000),
    /** an unfinished snapshot is dropped after this long without a new chunk */
    chunkTimeoutMs: z.number().int().min(100).default(60_000),
  }).refine((r) => r.file !== undefined || r.hubPublicKey !== undefined, {
    message: 'the gate needs a roster: set roster.hubPublicKey (roster sync from the hub) or roster.file (a roster file), or both',
  }).refine((r) => r.retryMinMs <= r.retryMaxMs, { message: 'roster.retryMinMs must not exceed roster.retryMaxMs', path: ['retryMinMs'] }),
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
     * a rest of the passage sensor shorter than this joins two activations into one person (raise it
     * for a low beam that sees a person's two legs apart); default min(100, passageClearMs)
     */
    personGapMs: z.number().int().min(0).max(5000).optional(),
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
  /** face matching on one lane's camera (face workers in threads, 1:N search in the roster's templates) */
  face: z.strictObject({
    enabled: z.boolean().default(false),
    /** worker threads, each with its own models (about 110 MB resident each); 'auto': one fewer than the cores, at most 2 (face-worker-count.ts) */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(8)]).default('auto'),
    /** 'model-only' for still images (demo); a real site wants motion, and IR with an IR camera */
    livenessPolicy: z.enum(['model-only', 'model+motion', 'model+motion+ir']).default('model+motion'),
    /** 1:N: match score strictly above this: 1 − ½·distance² of the scaled descriptors (src/gate/face/match-threshold.ts) */
    threshold: z.number().min(-2).max(1).default(0.917),
    /** 1:N: best minus the next worker's best at least this */
    margin: z.number().min(0).max(1).default(0.01),
    /** faces with eyes closer than this (camera pixels) are too far away */
    minEyeDistancePx: z.number().min(0).max(1000).default(40),
    /** frames of one face judged together by the motion check */
    burstFrames: z.number().int().min(2).max(64).default(8),
    /** frames ignored after a decision, so one person gives one event */
    cooldownMs: z.number().int().min(0).max(60_000).default(3000),
    camera: cameraSpec.optional(),
    /** the IR camera for 'model+motion+ir' (same lane) */
    irCamera: cameraSpec.optional(),
  }).refine((f) => !f.enabled || f.camera !== undefined, { message: 'face.camera is required when face.enabled is true', path: ['camera'] })
    .refine((f) => !f.enabled || f.livenessPolicy !== 'model+motion+ir' || f.irCamera !== undefined, {
      message: "face.irCamera is required with livenessPolicy 'model+motion+ir'",
      path: ['irCamera'],
    })
    .prefault({}),
  /** face photos kept apart from the punches until the hub has them */
  photos: z.strictObject({
    /** total bytes of photos kept; only photos the hub acknowledged are evicted (oldest first) */
    maxBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
  }).prefault({}),
  journal: z.strictObject({
    /** unacknowledged entries the gate promises to hold; beyond it a fault is raised (nothing is dropped) */
    capacity: z.number().int().min(1).default(500_000),
    /**
     * over capacity: 'keep-open' lets workers through and keeps journalling; 'deny' refuses new
     * swipes with reason journal_full (journalled too) until the hub catches up
     */
    onOverflow: z.enum(['keep-open', 'deny']).default('keep-open'),
    /** acknowledged entries older than this are pruned (hourly) */
    pruneAfterDays: z.number().min(1).max(3650).default(90),
    /** at most this many acknowledged entries are kept */
    keepAckedRows: z.number().int().min(0).default(200_000),
    /**
     * SQLite's max_page_count for journal.db (pages of 4 KiB): a hard bound on the file; reaching it
     * behaves as a full disk (punches held, fault raised). Unset: only the disk bounds it.
     */
    maxPageCount: z.number().int().min(1).optional(),
  }).prefault({}),
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
