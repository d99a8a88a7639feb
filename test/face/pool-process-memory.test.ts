// residentBreakdown: which smaps mappings count as WASM memory, malloc arenas, files, the rest.
import { describe, expect, it } from 'vitest';
import { residentBreakdown } from '../../src/gate/face/process-memory.js';

const kb = (n: number) => `Rss:            ${n} kB`;
// A WASM memory (rw + an 8 GB guard), a 64 MB thread arena (rw + ---p), [heap], a file, other anon.
const smaps = [
  '7f0000000000-7f0004000000 rw-p 00000000 00:00 0 ', kb(60_000),
  '7f0004000000-7f0204000000 ---p 00000000 00:00 0 ', kb(0),
  '7f0400000000-7f0401000000 rw-p 00000000 00:00 0 ', kb(9_000),
  '7f0401000000-7f0404000000 ---p 00000000 00:00 0 ', kb(0),
  '55aa00000000-55aa01000000 rw-p 00000000 00:00 0                          [heap]', kb(12_000),
  '55bb00000000-55bb00100000 r-xp 00000000 fe:00 123                        /usr/lib/libvips.so.42', kb(800),
  '7f0500001000-7f0500201000 rw-p 00000000 00:00 0 ', kb(2_000),
].join('\n');

describe('resident memory by part', () => {
  it('sorts mappings into WASM memory, malloc arenas, files and other anonymous memory', () => {
    const r = residentBreakdown(smaps);
    expect(r.wasm).toBe(60_000 * 1024);
    expect(r.wasmMemories).toEqual([60_000 * 1024]);
    expect(r.mallocThreadArenas).toBe(9_000 * 1024);
    expect(r.mallocMainArena).toBe(12_000 * 1024);
    expect(r.files).toBe(800 * 1024);
    expect(r.otherAnonymous).toBe(2_000 * 1024);
    expect(r.total).toBe((60_000 + 9_000 + 12_000 + 800 + 2_000) * 1024);
  });

  it('reads this process when given nothing', () => {
    const r = residentBreakdown();
    expect(r.total).toBeGreaterThan(0);
  });
});
