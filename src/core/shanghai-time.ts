/** Asia/Shanghai is UTC+8 all year (no daylight saving since 1991). */
const OFFSET_MS = 8 * 3600_000;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function parts(ms: number) {
  const d = new Date(ms + OFFSET_MS);
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
  };
}

/** yyyy-MM-dd in Asia/Shanghai. */
export function shanghaiDate(ms: number): string {
  const p = parts(ms);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}`;
}

/** yyyy-MM-dd HH:mm:ss in Asia/Shanghai. */
export function shanghaiDateTime(ms: number): string {
  const p = parts(ms);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

/** yyyyMMddHHmmss in Asia/Shanghai. */
export function shanghaiCompact(ms: number): string {
  const p = parts(ms);
  return `${p.y}${pad(p.mo)}${pad(p.d)}${pad(p.h)}${pad(p.mi)}${pad(p.s)}`;
}

/** True when `day` (yyyy-MM-dd) is today or later in Asia/Shanghai: a validity date includes its whole day. */
export function validOn(validToDay: string | null, ms: number): boolean {
  if (validToDay === null) return true;
  return shanghaiDate(ms) <= validToDay;
}
