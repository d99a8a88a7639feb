import { z } from 'zod';

/**
 * Photos travel apart from punches: a punch names its photo by SHA-256 (`photoHash`), and the
 * gate publishes the bytes on `gate/<gateId>/photo` (QoS 1) until the hub acknowledges them on
 * `gate/<gateId>/photo/ack`. The hub stores a photo only when its bytes hash to the name.
 */

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');

/** base64 characters of the largest photo a gate may send (about 1.5 MB of JPEG). */
export const MAX_PHOTO_BASE64_CHARS = 2 * 1024 * 1024;

/** Payload of gate/<gateId>/photo. */
export const photoMessageSchema = z.strictObject({
  /** SHA-256 (hex) of the JPEG bytes */
  hash: hex64,
  jpegBase64: z.string().min(4).max(MAX_PHOTO_BASE64_CHARS).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'),
});
export type PhotoMessage = z.infer<typeof photoMessageSchema>;

/** Payload of gate/<gateId>/photo/ack: the photos the hub holds (a photo sent again is acknowledged again). */
export const photoAckSchema = z.strictObject({
  photos: z.array(hex64).min(1).max(1000),
});
export type PhotoAck = z.infer<typeof photoAckSchema>;
