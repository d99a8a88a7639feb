import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import type { Pkcs11 } from '../../src/gate/punch/pkcs11-session.js';

export const PIN = '246810';
export const SO_PIN = '13579135';

export function tempTokenDir(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sitegate-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Wraps the real PKCS11 object: counts calls per function, and throws a Pkcs11Error from a
 * function while a fault is armed (the way a real token reports a pulled device).
 */
export class FaultyPkcs11 {
  readonly calls = new Map<string, number>();
  #faults = new Map<string, { name: string; code: number }>();
  readonly proxy: Pkcs11;

  constructor(real: Pkcs11) {
    this.proxy = new Proxy(real, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver);
        if (typeof prop !== 'string' || !prop.startsWith('C_') || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const fn = prop.replace(/Async$/, '');
          this.calls.set(fn, (this.calls.get(fn) ?? 0) + 1);
          const fault = this.#faults.get(fn);
          if (fault) {
            const err = new pkcs11js.Pkcs11Error(fault.name, fault.code, fn);
            if (prop.endsWith('Async')) return Promise.reject(err);
            throw err;
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  /** Arms a fault: every call of `fn` (sync or Async form) throws CKR `name`. */
  fail(fn: string, name: keyof typeof pkcs11js & `CKR_${string}`): void {
    this.#faults.set(fn, { name, code: pkcs11js[name] as number });
  }

  heal(fn: string): void {
    this.#faults.delete(fn);
  }

  count(fn: string): number {
    return this.calls.get(fn) ?? 0;
  }
}
