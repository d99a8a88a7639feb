import type { Clock, TimerHandle } from '../../core/clock.js';
import { SitegateError, errorMessage } from '../../core/errors.js';
import { firmwareText, type Pn532 } from './pn532.js';
import { toHex } from './pn532-frame.js';

export interface CardCredential {
  kind: 'card';
  /** The card UID as upper-case hex, e.g. `04A1B2C3D4E5F6`. */
  number: string;
  readAtMono: number;
}

export interface Pn532ReaderHealth {
  state: 'starting' | 'ok' | 'fault';
  /** e.g. `PN532 firmware 1.6 (ISO14443A, ISO14443B, ISO18092)`. */
  firmware?: string;
  /** Wall-clock ms of the last card reported. */
  lastReadAtMs?: number;
  lastError?: string;
  /** Times the reader has entered the fault state. */
  faults: number;
}

export interface Pn532ReaderOptions {
  /** Name for logs and events, e.g. the lane's reader. */
  name?: string;
  /** Pause between two polls, ms. Default 50. */
  pollIntervalMs?: number;
  /** A firmware-version exchange at least this often, ms, so a silent chip is noticed. Default 5000. */
  heartbeatMs?: number;
  /** Consecutive failed exchanges before a fault is reported. Default 3. */
  faultAfter?: number;
  /** Pause between recovery attempts once in fault, ms. Default 1000. */
  retryMs?: number;
  /** A card must go unseen this long before the same card is reported again, ms. Default 200. */
  releaseMs?: number;
  /** InListPassiveTarget activation attempts before "no card" (RFConfiguration MxRtyPassiveActivation). Default 1. */
  passiveRetries?: number;
}

const DEFAULTS = { pollIntervalMs: 50, heartbeatMs: 5000, faultAfter: 3, retryMs: 1000, releaseMs: 200, passiveRetries: 1 } as const;

type Listener<T> = (value: T) => void;
interface Events {
  credential: CardCredential;
  fault: SitegateError;
  recovered: void;
}

/** Errors that re-trying cannot fix: reported at once. */
const FATAL = new Set(['pn532_i2c_bus_missing', 'pn532_i2c_open_failed', 'pn532_wrong_ic']);

/**
 * Polls a PN532 for ISO14443A cards. A card held on the reader is reported once; it is reported
 * again only after it has been away for `releaseMs`. A chip that stops answering (timeouts,
 * EREMOTEIO) is woken and re-configured on every following attempt; after `faultAfter` failures
 * in a row a `fault` is emitted, and `recovered` when it answers again.
 */
export class Pn532Reader {
  private readonly o: Required<Omit<Pn532ReaderOptions, 'name'>> & { name: string };
  private readonly listeners: { [K in keyof Events]: Set<Listener<Events[K]>> } = {
    credential: new Set(),
    fault: new Set(),
    recovered: new Set(),
  };
  private running = false;
  private timer: TimerHandle | null = null;
  private cycle: Promise<void> | null = null;
  private configured = false;
  private opened = false;
  private lastHeartbeat = -Infinity;
  private failures = 0;
  private held: { uid: string; lastSeen: number } | null = null;
  private readonly h: Pn532ReaderHealth = { state: 'starting', faults: 0 };

  constructor(
    private readonly pn532: Pn532,
    private readonly clock: Clock,
    options: Pn532ReaderOptions = {},
  ) {
    const o = { ...DEFAULTS, name: 'pn532', ...options };
    for (const k of ['pollIntervalMs', 'heartbeatMs', 'retryMs', 'releaseMs'] as const) {
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new TypeError(`Pn532Reader: ${k} must be a number >= 0`);
    }
    if (!Number.isInteger(o.faultAfter) || o.faultAfter < 1) throw new TypeError('Pn532Reader: faultAfter must be an integer >= 1');
    this.o = o;
  }

  on<K extends keyof Events>(event: K, cb: Listener<Events[K]>): () => void {
    const set = this.listeners[event] as Set<Listener<Events[K]>>;
    set.add(cb);
    return () => set.delete(cb);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.h.state = 'starting';
    this.schedule(0);
  }

  /** Stops polling, waits for the exchange in flight and closes the bus. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.cycle;
    this.configured = false;
    this.held = null;
    if (this.opened) {
      this.opened = false;
      await this.pn532.close();
    }
  }

  health(): Pn532ReaderHealth {
    return { ...this.h };
  }

  /** Asks the chip for its firmware version (waits its turn behind a poll in flight). */
  async selftest(): Promise<{ ok: boolean; detail: string }> {
    const openedHere = !this.opened;
    try {
      if (openedHere) {
        await this.pn532.open();
        await this.pn532.wakeup();
      }
      const fw = firmwareText(await this.pn532.getFirmwareVersion());
      this.h.firmware = fw;
      return { ok: true, detail: fw };
    } catch (err) {
      return { ok: false, detail: errorMessage(err) };
    } finally {
      // A running reader keeps the bus it will use anyway; a stopped one leaves it closed.
      if (openedHere && !this.running) await this.pn532.close().catch(() => undefined);
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.cycle = this.runCycle().finally(() => (this.cycle = null));
    }, ms);
  }

  private async runCycle(): Promise<void> {
    let next: number = this.o.pollIntervalMs;
    try {
      if (!this.configured) await this.configure();
      else if (this.clock.monotonic() - this.lastHeartbeat >= this.o.heartbeatMs) await this.heartbeat();
      if (!this.running) return;
      const target = await this.pn532.listPassiveTarget();
      this.succeeded();
      this.seen(target ? toHex(target.uid) : null);
    } catch (err) {
      this.failed(err);
      if (this.h.state === 'fault') next = this.o.retryMs;
    }
    this.schedule(next);
  }

  private async configure(): Promise<void> {
    if (!this.opened) {
      await this.pn532.open();
      this.opened = true;
    }
    await this.pn532.wakeup();
    await this.heartbeat();
    await this.pn532.samConfigure();
    await this.pn532.setPassiveActivationRetries(this.o.passiveRetries);
    this.configured = true;
  }

  private async heartbeat(): Promise<void> {
    this.h.firmware = firmwareText(await this.pn532.getFirmwareVersion());
    this.lastHeartbeat = this.clock.monotonic();
  }

  private seen(uid: string | null): void {
    const now = this.clock.monotonic();
    if (uid === null) {
      if (this.held && now - this.held.lastSeen >= this.o.releaseMs) this.held = null;
      return;
    }
    if (this.held?.uid === uid) {
      this.held.lastSeen = now;
      return;
    }
    this.held = { uid, lastSeen: now };
    this.h.lastReadAtMs = this.clock.now();
    this.emit('credential', { kind: 'card', number: uid, readAtMono: now });
  }

  private succeeded(): void {
    this.failures = 0;
    const was = this.h.state;
    this.h.state = 'ok';
    if (was === 'fault') this.emit('recovered', undefined);
  }

  private failed(err: unknown): void {
    const e = err instanceof SitegateError ? err : new SitegateError('pn532_io', `PN532 ${this.o.name}: ${errorMessage(err)}`);
    this.failures++;
    this.configured = false; // wake and re-configure on the next attempt: the chip may have reset
    this.h.lastError = e.message;
    if (this.h.state === 'fault') return;
    if (this.failures >= this.o.faultAfter || FATAL.has(e.code)) {
      this.h.state = 'fault';
      this.h.faults++;
      this.emit('fault', e);
    }
  }

  private emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const cb of this.listeners[event]) {
      try {
        (cb as Listener<Events[K]>)(value);
      } catch {
        // a listener's bug must not stop the poller
      }
    }
  }
}
