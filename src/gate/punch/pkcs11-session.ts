import pkcs11js from 'pkcs11js';
import { SitegateError } from '../../core/errors.js';

/**
 * The process-wide PKCS#11 library per module path, and small helpers over pkcs11js.
 *
 * C_Initialize runs once per process and module; C_Finalize in any thread finalizes for the whole
 * process, so nothing here ever calls it. SoftHSM reads SOFTHSM2_CONF at that first C_Initialize
 * and never re-scans its token directory for tokens initialised by another process afterwards.
 */

export type Pkcs11 = pkcs11js.PKCS11;
export type Handle = Buffer;
export type Template = pkcs11js.Template;

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

interface LoadedLibrary {
  pkcs11: Pkcs11;
  /** SOFTHSM2_CONF as it was at C_Initialize (what SoftHSM read). */
  softhsmConf: string | undefined;
}

const libraries = new Map<string, LoadedLibrary>();

/** The initialised library for `modulePath`, loading and initialising it on first use. */
export function pkcs11Library(modulePath: string): Pkcs11 {
  const known = libraries.get(modulePath);
  if (known) return known.pkcs11;
  const pkcs11 = new pkcs11js.PKCS11();
  try {
    pkcs11.load(modulePath);
  } catch (err) {
    throw new SitegateError('token_module_failed', `cannot load PKCS#11 module ${modulePath}: ${(err as Error).message}`);
  }
  try {
    pkcs11.C_Initialize();
  } catch (err) {
    // Another copy of the library in this process (another addon instance) already did it.
    if (pkcs11Code(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new SitegateError('token_module_failed', `C_Initialize of ${modulePath} failed: ${describePkcs11Error(err)}`);
    }
  }
  libraries.set(modulePath, { pkcs11, softhsmConf: process.env.SOFTHSM2_CONF });
  return pkcs11;
}

/** Whether this process already initialised `modulePath`, and with which SOFTHSM2_CONF. */
export function loadedLibrary(modulePath: string): { softhsmConf: string | undefined } | null {
  const known = libraries.get(modulePath);
  return known ? { softhsmConf: known.softhsmConf } : null;
}

const codeNames = new Map<number, string>();
for (const [name, value] of Object.entries(pkcs11js)) {
  if (name.startsWith('CKR_') && typeof value === 'number' && !codeNames.has(value)) codeNames.set(value, name);
}

/** The CKR_* code of a pkcs11js error, or null for anything else. */
export function pkcs11Code(err: unknown): number | null {
  if (err instanceof pkcs11js.Pkcs11Error) return err.code;
  return null;
}

export function pkcs11CodeName(code: number): string {
  return codeNames.get(code) ?? `CKR_0x${code.toString(16)}`;
}

export function describePkcs11Error(err: unknown): string {
  const code = pkcs11Code(err);
  if (code !== null) {
    const method = (err as pkcs11js.Pkcs11Error).method;
    return method ? `${pkcs11CodeName(code)} in ${method}` : pkcs11CodeName(code);
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Codes that mean "the token or its session is gone": all of them take the one recovery path
 * (state no_token, reopen later). SoftHSM with a deleted token directory says
 * OBJECT_HANDLE_INVALID / GENERAL_ERROR; real USB tokens say DEVICE_REMOVED, TOKEN_NOT_PRESENT,
 * SESSION_CLOSED and friends.
 */
const DEVICE_GONE = new Set<number>([
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_COUNT,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_MEMORY,
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_FUNCTION_FAILED,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_SLOT_ID_INVALID,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
]);

export function isDeviceGone(code: number): boolean {
  return DEVICE_GONE.has(code);
}

/** Token labels are 32 bytes, blank padded (SoftHSM pads short labels with NULs when set in-process). */
export function trimLabel(label: string): string {
  return label.replace(/[\s\0]+$/, '');
}

export function padLabel(label: string): string {
  if (Buffer.byteLength(label, 'utf8') > 32) {
    throw new SitegateError('token_label_too_long', `token label "${label}" is longer than 32 bytes`);
  }
  return label + ' '.repeat(32 - Buffer.byteLength(label, 'utf8'));
}

/** Slot holding the initialised token labelled `label` (slot ids are not stable; labels are). */
export function findSlotByTokenLabel(pkcs11: Pkcs11, label: string): Handle | null {
  for (const slot of pkcs11.C_GetSlotList(true)) {
    const info = pkcs11.C_GetTokenInfo(slot);
    if ((info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0 && trimLabel(info.label) === label) return slot;
  }
  return null;
}

/** First object matching the template, or null. */
export function findObject(pkcs11: Pkcs11, session: Handle, template: Template): Handle | null {
  pkcs11.C_FindObjectsInit(session, template);
  try {
    return pkcs11.C_FindObjects(session);
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

export function readAttribute(pkcs11: Pkcs11, session: Handle, object: Handle, type: number): Buffer {
  const [attr] = pkcs11.C_GetAttributeValue(session, object, [{ type }]);
  const value = attr?.value;
  if (!Buffer.isBuffer(value)) throw new SitegateError('token_fault', `attribute 0x${type.toString(16)} has no byte value`);
  return value;
}

/** Closes a session, ignoring errors (the token may already be gone). */
export function closeQuietly(pkcs11: Pkcs11, session: Handle | null): void {
  if (!session) return;
  try {
    pkcs11.C_CloseSession(session);
  } catch {
    // gone already
  }
}
