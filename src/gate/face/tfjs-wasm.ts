// One tfjs instance per worker thread, on the WASM backend with SIMD, its .wasm files read from the
// local @tensorflow/tfjs-backend-wasm dist folder (never a CDN). Everything here loads tfjs through
// require so that face-api (CommonJS) and our own code share the same instance.
//
// The `@tensorflow/tfjs` union package also loads tfjs-layers, tfjs-data and the CPU and WebGL
// backends, none of which face matching uses: about 12 MB of JS heap in every worker. They are
// replaced by empty modules in this thread's require cache before tfjs loads (only when not
// already loaded), so tfjs = core + converter + its chained ops, and face-api gets the same object.
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export type Tf = typeof import('@tensorflow/tfjs');
type WasmBackend = typeof import('@tensorflow/tfjs-backend-wasm');

let ready: Promise<Tf> | undefined;

/** The folder holding tfjs-backend-wasm's .wasm binaries. */
export function wasmDistDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
}

const UNUSED_TFJS_PARTS = ['@tensorflow/tfjs-layers', '@tensorflow/tfjs-data', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-webgl'];

function skipUnusedTfjsParts(): void {
  if (require.cache[require.resolve('@tensorflow/tfjs')]) return; // this thread already has the full package
  for (const name of UNUSED_TFJS_PARTS) {
    const file = require.resolve(name);
    if (require.cache[file]) continue;
    const stub = new Module(file);
    stub.filename = file;
    stub.loaded = true;
    require.cache[file] = stub;
  }
}

/** tfjs on the WASM backend, initialised once per thread. */
export function tfjsWasm(): Promise<Tf> {
  ready ??= (async () => {
    skipUnusedTfjsParts();
    const tf = require('@tensorflow/tfjs') as Tf;
    const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmBackend;
    // A trailing separator: tfjs appends the file name to the prefix.
    wasm.setWasmPaths(join(wasmDistDir(), '/'));
    tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs WASM backend did not initialise');
    await tf.ready();
    return tf;
  })();
  return ready;
}

/** Size of this thread's tfjs WASM heap (it grows to its high-water mark and never shrinks); 0 before tfjs is ready. */
export function wasmHeapBytes(tf: Tf): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? 0;
}
