// Where a process's resident memory lies, from /proc/self/smaps (Linux only): WASM memories (each
// an rw mapping followed by V8's multi-GB guard reservation), glibc malloc arenas (the main one is
// [heap]; a thread arena is a 64 MB-aligned reservation), mapped files, and the rest of the
// anonymous memory (V8 heaps, large malloc blocks, thread stacks).
import { readFileSync } from 'node:fs';

export interface ResidentBreakdown {
  /** Every part, bytes resident. */
  total: number;
  wasm: number;
  /** One entry per WASM memory, largest first. */
  wasmMemories: number[];
  mallocMainArena: number;
  mallocThreadArenas: number;
  files: number;
  otherAnonymous: number;
}

const ARENA_SIZE = 64n * 2n ** 20n;
const GUARD_MIN = 4n * 2n ** 30n;

interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rss: number;
}

function parse(text: string): Vma[] {
  const vmas: Vma[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      vmas.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3], path: head[4], rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && vmas.length) vmas[vmas.length - 1].rss = Number(rss[1]) * 1024;
  }
  return vmas;
}

/** This process's resident memory by part (all zeros where /proc is not there). */
export function residentBreakdown(smapsText?: string): ResidentBreakdown {
  const out: ResidentBreakdown = { total: 0, wasm: 0, wasmMemories: [], mallocMainArena: 0, mallocThreadArenas: 0, files: 0, otherAnonymous: 0 };
  let text = smapsText;
  try {
    text ??= readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return out;
  }
  const vmas = parse(text);
  vmas.forEach((v, i) => {
    out.total += v.rss;
    const next = vmas[i + 1];
    const reservedWithNext = next && next.start === v.end && next.perms.startsWith('---') && !next.path ? next.end - v.start : v.end - v.start;
    if (v.path === '[heap]') out.mallocMainArena += v.rss;
    else if (v.path.startsWith('/')) out.files += v.rss;
    else if (v.path) out.otherAnonymous += v.rss;
    else if (v.perms.startsWith('rw') && next && next.start === v.end && next.perms.startsWith('---') && next.end - next.start >= GUARD_MIN) {
      out.wasm += v.rss;
      out.wasmMemories.push(v.rss);
    } else if (v.perms.startsWith('rw') && v.start % ARENA_SIZE === 0n && reservedWithNext === ARENA_SIZE) out.mallocThreadArenas += v.rss;
    else out.otherAnonymous += v.rss;
  });
  out.wasmMemories.sort((a, b) => b - a);
  return out;
}
