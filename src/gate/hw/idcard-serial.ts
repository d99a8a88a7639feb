import { realpath } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { errorMessage, SitegateError } from '../../core/errors.js';
import type { SamTransport } from './idcard.js';

/** An open byte link to a SAM reader: the transport plus what its owner needs to watch it. */
export interface SamLink extends SamTransport {
  /** The device actually opened (the configured path with symlinks resolved). */
  readonly device: string;
  onData(cb: (chunk: Buffer) => void): void;
  /** Called once when the link closes by itself (device unplugged, peer gone), not after close(). */
  onClose(cb: (err: SitegateError) => void): void;
  close(): Promise<void>;
}

export type SamLinkOpener = (path: string) => Promise<SamLink>;

export interface SerialSamLinkOptions {
  /** Default 115200, what GA 467 SAM modules speak. */
  baudRate?: number;
}

/**
 * Opens the reader's serial port. The configured path is resolved at each open, so a
 * `/dev/serial/by-id/...` symlink finds a re-plugged reader whose ttyUSB number changed.
 */
export async function openSerialSamLink(path: string, options: SerialSamLinkOptions = {}): Promise<SamLink> {
  let device: string;
  try {
    device = await realpath(path);
  } catch (err) {
    throw new SitegateError('idcard_open_failed', `ID card reader ${path} is not there: ${errorMessage(err)}`);
  }
  const port = new SerialPort({ path: device, baudRate: options.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) =>
      err ? reject(new SitegateError('idcard_open_failed', `opening ID card reader ${path} (${device}) failed: ${err.message}`)) : resolve(),
    ),
  );
  return new SerialSamLink(port, path, device);
}

class SerialSamLink implements SamLink {
  private closing = false;
  private closeCb: ((err: SitegateError) => void) | null = null;

  constructor(
    private readonly port: SerialPort,
    private readonly path: string,
    readonly device: string,
  ) {
    // errors also arrive through write callbacks and `close`; this only keeps them from throwing
    port.on('error', () => undefined);
    port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      if (this.closing) return;
      this.closing = true;
      const why = err ? err.message : 'closed';
      this.closeCb?.(new SitegateError('idcard_disconnected', `ID card reader ${this.path} (${this.device}) went away: ${why}`));
    });
  }

  onData(cb: (chunk: Buffer) => void): void {
    this.port.on('data', cb);
  }

  onClose(cb: (err: SitegateError) => void): void {
    this.closeCb = cb;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closing || !this.port.isOpen) {
        reject(new SitegateError('idcard_io', `ID card reader ${this.path} is closed`));
        return;
      }
      this.port.write(bytes, (err) => {
        if (err) reject(new SitegateError('idcard_io', `writing to ID card reader ${this.path} failed: ${err.message}`));
        else this.port.drain((e) => (e ? reject(new SitegateError('idcard_io', `draining ${this.path} failed: ${e.message}`)) : resolve()));
      });
    });
  }

  close(): Promise<void> {
    if (this.closing && !this.port.isOpen) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}
