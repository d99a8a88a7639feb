import type { Direction } from '../core/entries.js';

/**
 * One attendance row as the hub hands it to a platform profile. The profile encrypts the ID
 * number and formats the date for its platform; nothing above it knows the wire format.
 */
export interface AttendanceRow {
  idCardType: string;
  /** Plain ID number: only the profile sees it, and encrypts it. */
  idNumber: string;
  /** ms since the epoch; the profile formats it in Asia/Shanghai time. */
  timeMs: number;
  direction: Direction;
  /** base64 JPEG ≤ 50 KB, face punches only */
  image?: string;
  /** the lane's name */
  channel?: string;
  attendType?: string;
  lng?: number;
  lat?: number;
}

/** Rows of one team: projectCode and teamSysNo sit at the top of `data`. */
export interface AttendanceBatch {
  projectCode: string;
  teamSysNo: number;
  rows: AttendanceRow[];
}

export type PlatformFailureKind =
  | 'bad_params' // -1
  | 'bad_sign' // -2
  | 'no_permission' // -3
  | 'ip_not_allowed' // -4
  | 'rate_limited' // -5 or HTTP 429
  | 'server_error' // HTTP 5xx
  | 'timeout'
  | 'network'
  | 'bad_reply'
  /** a credential the profile needs locally (the security token file) cannot be read: nothing was sent */
  | 'credentials_unavailable';

export type PlatformReply<T> =
  | { ok: true; value: T }
  | { ok: false; kind: PlatformFailureKind; code?: number; httpStatus?: number; retryAfterMs?: number; message: string };

export type RowStatus = 'accepted' | 'duplicate' | 'rejected';

export interface RowResult {
  /** index into the batch's rows */
  index: number;
  status: RowStatus;
  /** platform's reason for a rejection (unknown worker, unknown team…) */
  reason?: string;
}

export type QueryResult = { state: 'pending' } | { state: 'done'; rows: RowResult[] };

/** A platform profile: the national 数据接口标准 shape, or a province's variant of it. */
export interface PlatformProfile {
  readonly name: string;
  /** WorkerAttendance.Add with ≤ 20 rows of one team. */
  upload(batch: AttendanceBatch): Promise<PlatformReply<{ requestSerialCode: string }>>;
  /** AsyncHandleResult.Query for a requestSerialCode. */
  query(requestSerialCode: string): Promise<PlatformReply<QueryResult>>;
}
