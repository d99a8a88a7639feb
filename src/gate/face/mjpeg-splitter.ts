// An MJPEG byte stream → whole JPEG images, split on SOI (FF D8) … EOI (FF D9). The segments
// before the scan are skipped by their length, so an EOI inside an EXIF thumbnail does not end
// the image early; in the scan data an FF is followed by 00 or a restart marker. Bytes before an
// SOI are skipped and counted; an image longer than maxFrameBytes is dropped and counted, so the
// buffer stays bounded whatever a camera sends.

export interface MjpegSplitterOptions {
  /** Largest image kept; a longer run of bytes without EOI is dropped. */
  maxFrameBytes: number;
}

export class MjpegSplitter {
  private readonly maxFrameBytes: number;
  private buf: Buffer = Buffer.alloc(0);
  /** Images dropped for being too long. */
  oversize = 0;
  /** Bytes skipped outside any image. */
  skippedBytes = 0;

  constructor(opts: MjpegSplitterOptions = { maxFrameBytes: 4 * 1024 * 1024 }) {
    if (!Number.isInteger(opts.maxFrameBytes) || opts.maxFrameBytes < 4) throw new TypeError(`maxFrameBytes must be an integer ≥ 4, got ${opts.maxFrameBytes}`);
    this.maxFrameBytes = opts.maxFrameBytes;
  }

  /** Feeds bytes; returns the images completed by them. */
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: Buffer[] = [];
    for (;;) {
      const soi = this.findSoi();
      if (soi < 0) {
        // Keep a trailing FF: it may begin the next SOI.
        const keep = this.buf.length && this.buf[this.buf.length - 1] === 0xff ? 1 : 0;
        this.skippedBytes += this.buf.length - keep;
        this.buf = this.buf.subarray(this.buf.length - keep);
        return out;
      }
      if (soi > 0) {
        this.skippedBytes += soi;
        this.buf = this.buf.subarray(soi);
      }
      const eoi = this.findEoi();
      if (eoi < 0) {
        if (this.buf.length > this.maxFrameBytes) {
          this.oversize++;
          this.buf = this.buf.subarray(2); // drop this SOI, look for the next
          continue;
        }
        this.buf = Buffer.from(this.buf); // detach from the big concatenations
        return out;
      }
      const end = eoi + 2;
      if (end > this.maxFrameBytes) this.oversize++;
      else out.push(Buffer.from(this.buf.subarray(0, end)));
      this.buf = this.buf.subarray(end);
    }
  }

  private findSoi(): number {
    for (let i = this.buf.indexOf(0xff); i >= 0 && i < this.buf.length - 1; i = this.buf.indexOf(0xff, i + 1)) {
      if (this.buf[i + 1] === 0xd8) return i;
    }
    return -1;
  }

  /** Index of the EOI marker of the image starting at 0, or -1 when more bytes are needed. */
  private findEoi(): number {
    const b = this.buf;
    let i = 2;
    while (i + 1 < b.length) {
      if (b[i] !== 0xff) return this.naiveEoi(i); // not a marker where one belongs: damaged, fall back
      const m = b[i + 1];
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0xd9) return i;
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2;
        continue;
      }
      if (i + 3 >= b.length) return -1;
      const len = b.readUInt16BE(i + 2);
      i += 2 + len;
      if (m !== 0xda) continue;
      // Entropy-coded data: runs until an FF followed by something other than 00 or a restart.
      for (;;) {
        const ff = b.indexOf(0xff, i);
        if (ff < 0 || ff + 1 >= b.length) return -1;
        const n = b[ff + 1];
        if (n === 0x00 || (n >= 0xd0 && n <= 0xd7)) {
          i = ff + 2;
          continue;
        }
        i = ff;
        break;
      }
    }
    return -1;
  }

  private naiveEoi(from: number): number {
    for (let i = this.buf.indexOf(0xff, from); i >= 0 && i < this.buf.length - 1; i = this.buf.indexOf(0xff, i + 1)) {
      if (this.buf[i + 1] === 0xd9) return i;
    }
    return -1;
  }
}
