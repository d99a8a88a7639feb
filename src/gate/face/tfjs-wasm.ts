// One tfjs instance per worker thread, on the WASM backend with SIMD, its .wasm files read from the
// local @tensorflow/tfjs-backend-wasm dist folder (never a CDN). Everything here loads tfjs through
// require so that face-api (CommonJS) and our own code share the same instance.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export type Tf = typeof import('@tensorflow/tfjs');
type WasmBackend = typeof import('@tensorflow/tfjs-backend-wasm');

let ready: Promise<Tf> | undefined;

/** The folder holding tfjs-backend-wasm's .wasm binaries. */
export function wasmDistDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
}

/** tfjs on the WASM backend, initialised once per thread. */
export function tfjsWasm(): Promise<Tf> {
  ready ??= (async () => {
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
