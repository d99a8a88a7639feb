import { SitegateError } from '../../core/errors.js';

/**
 * The one spelling of each credential number, so the HMAC the hub puts in the roster equals
 * the one a gate computes from what its reader produced.
 */

/** IC card UID: upper-case hex without separators (4, 7 or 10 bytes), as the PN532 driver reports it. */
export function normalizeCardUid(raw: string): string {
  const s = raw.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(s) || ![8, 14, 20].includes(s.length)) {
    throw new SitegateError('credential_invalid', `card UID "${raw}" must be 4, 7 or 10 bytes of hex (e.g. 04A1B2C3)`);
  }
  return s;
}

/**
 * Wiegand number: the frame's data value in decimal, as the gate's Wiegand reader reports it.
 * `F,C` (facility 0-255, card 0-65535 as printed on 26-bit cards) gives (F << 16) | C.
 */
export function normalizeWiegand(raw: string): string {
  const s = raw.trim();
  const fc = /^(\d{1,3})\s*[,:/]\s*(\d{1,5})$/.exec(s);
  if (fc) {
    const facility = Number(fc[1]);
    const card = Number(fc[2]);
    if (facility > 255 || card > 65535) throw new SitegateError('credential_invalid', `Wiegand "${raw}": facility must be 0-255 and card 0-65535`);
    return String(facility * 65536 + card);
  }
  if (!/^\d{1,10}$/.test(s) || Number(s) > 0xffffffff) {
    throw new SitegateError('credential_invalid', `Wiegand number "${raw}" must be a decimal number up to 4294967295, or facility,card`);
  }
  return String(Number(s));
}
