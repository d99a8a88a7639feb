import { z } from 'zod';
import type { PlatformFailureKind } from './profile.js';

/**
 * The national 数据接口标准 wire shape, shared by the national profile and the platform
 * simulator. A province's clone overrides names through the profile's options.
 */

export interface NationalMethods {
  upload: string;
  query: string;
}

export const NATIONAL_METHODS: Readonly<NationalMethods> = {
  upload: 'WorkerAttendance.Add',
  query: 'AsyncHandleResult.Query',
};

/** Wire names of the fields inside `data`. */
export interface NationalFieldNames {
  projectCode: string;
  teamSysNo: string;
  dataList: string;
  idCardType: string;
  idCardNumber: string;
  date: string;
  direction: string;
  image: string;
  channel: string;
  attendType: string;
  lng: string;
  lat: string;
  requestSerialCode: string;
}

export const NATIONAL_FIELD_NAMES: Readonly<NationalFieldNames> = {
  projectCode: 'projectCode',
  teamSysNo: 'teamSysNo',
  dataList: 'dataList',
  idCardType: 'idCardType',
  idCardNumber: 'idCardNumber',
  date: 'date',
  direction: 'direction',
  image: 'image',
  channel: 'channel',
  attendType: 'attendType',
  lng: 'lng',
  lat: 'lat',
  requestSerialCode: 'requestSerialCode',
};

export const NATIONAL_DIRECTION_CODES = { in: '01', out: '02' } as const;

export const MAX_ROWS_PER_REQUEST = 20;

/** base64 JPEG limit for `image`. */
export const MAX_IMAGE_BYTES = 50 * 1024;

/** The form parameters every request carries, besides any a province adds. */
export const REQUIRED_FORM_PARAMS = ['appid', 'data', 'format', 'method', 'nonce', 'timestamp', 'version', 'sign'] as const;

export const ENVELOPE_CODE = {
  ok: 0,
  badParams: -1,
  badSign: -2,
  noPermission: -3,
  ipNotAllowed: -4,
  rateLimited: -5,
} as const;

export const FAILURE_KIND_BY_CODE: Readonly<Record<number, PlatformFailureKind>> = {
  [-1]: 'bad_params',
  [-2]: 'bad_sign',
  [-3]: 'no_permission',
  [-4]: 'ip_not_allowed',
  [-5]: 'rate_limited',
};

const integerCode = z.union([
  z.number().int(),
  z.string().regex(/^-?\d+$/).transform(Number),
]);

/** `{code, message, data}` — every reply. */
export const envelopeSchema = z.object({
  code: integerCode,
  message: z.string().nullish(),
  data: z.unknown().optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/**
 * OURS, NOT THE PLATFORM'S: the real platform's form of row results in an
 * AsyncHandleResult.Query reply is not public. This is the simulator's form, and what the
 * national profile parses until a registered vendor's document says otherwise.
 */
export const queryReplyDataSchema = z.object({
  requestSerialCode: z.string().optional(),
  state: z.enum(['processing', 'done']),
  results: z.array(
    z.object({
      index: z.number().int().min(0),
      status: z.enum(['accepted', 'duplicate', 'rejected']),
      reason: z.string().optional(),
    }),
  ),
});
export type QueryReplyData = z.infer<typeof queryReplyDataSchema>;
