// Frees tfjs' copy of a convolution filter once XNNPACK has packed it.
//
// On the WASM backend a convolution's first call creates an XNNPACK operator, cached by filter id
// and conv parameters (tfjs-backend-wasm src/cc/conv2d_impl.cc), which holds its own packed copy of
// the weights (measured: twice the filter's size). Later calls with the same filter and parameters
// only run that operator: tfjs' float copy of the filter is never read again, yet it stays in the
// WASM heap (face-api's ResNet: ~21 MB per worker). This module frees that copy right after the
// operator exists. The filter tensor itself stays alive (its id keys the operator cache).
//
// Nothing may read a freed filter, so every WASM kernel of this thread is wrapped: a kernel given
// a freed tensor throws (`face_filter_released`) instead of reading freed memory, except a
// convolution with exactly the parameters that created its operator; so does reading its values.
import type { Tf } from './tfjs-wasm.js';

type Tensor = import('@tensorflow/tfjs').Tensor;
type DataId = object;

interface WasmData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
}
interface WasmBackend {
  wasm: { _malloc(n: number): number; _free(p: number): void };
  dataIdMap: { get(id: DataId): WasmData | undefined };
  readSync(id: DataId): unknown;
}
interface KernelArgs {
  inputs: Record<string, Tensor | undefined>;
  attrs?: Record<string, unknown>;
  backend: unknown;
}
interface KernelConfig {
  kernelName: string;
  kernelFunc: (args: KernelArgs) => unknown;
}

/** The kernels that go through conv2d_impl's operator cache, and the name of their filter input. */
const PACKING_KERNELS: Record<string, string> = { Conv2D: 'filter', DepthwiseConv2dNative: 'filter' };

export class FilterReleasedError extends Error {
  readonly code = 'face_filter_released';
}

interface ThreadState {
  /** Filters to free after their first convolution. */
  watched: WeakSet<DataId>;
  /** Freed filters → the convolution (kernel, parameters) whose XNNPACK operator holds them. */
  released: WeakMap<DataId, string>;
  releasedBytes: number;
}

let state: ThreadState | undefined;

function convKey(kernel: string, args: KernelArgs): string {
  const x = args.inputs.x;
  return `${kernel}|${JSON.stringify(args.attrs ?? {})}|${x?.shape[x.shape.length - 1]}`;
}

function install(tf: Tf): ThreadState {
  const s: ThreadState = { watched: new WeakSet(), released: new WeakMap(), releasedBytes: 0 };
  const backend = tf.backend() as unknown as WasmBackend;
  if (tf.getBackend() !== 'wasm' || !backend.dataIdMap) throw new Error('freeing packed filters needs the tfjs WASM backend');
  const kernels = tf.getKernelsForBackend('wasm') as unknown as KernelConfig[];
  for (const config of kernels) {
    const inner = config.kernelFunc;
    const filterInput = PACKING_KERNELS[config.kernelName];
    config.kernelFunc = (args) => {
      let freeAfter: Tensor | undefined;
      let key: string | undefined;
      for (const [name, t] of Object.entries(args.inputs)) {
        if (!t) continue;
        const heldBy = s.released.get(t.dataId);
        if (heldBy !== undefined) {
          key ??= filterInput ? convKey(config.kernelName, args) : '';
          if (name !== filterInput || heldBy !== key) {
            throw new FilterReleasedError(`${config.kernelName} read a convolution filter whose WASM copy was freed after packing (only ${heldBy} may use it)`);
          }
        } else if (name === filterInput && s.watched.has(t.dataId)) {
          freeAfter = t;
        }
      }
      const out = inner(args);
      if (freeAfter) release(s, backend, freeAfter, convKey(config.kernelName, args));
      return out;
    };
  }
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (id) => {
    if (s.released.has(id)) throw new FilterReleasedError('reading a convolution filter whose WASM copy was freed after packing');
    return readSync(id);
  };
  return s;
}

function release(s: ThreadState, backend: WasmBackend, filter: Tensor, key: string): void {
  const data = backend.dataIdMap.get(filter.dataId);
  if (!data) return;
  s.watched.delete(filter.dataId);
  s.released.set(filter.dataId, key);
  backend.wasm._free(data.memoryOffset);
  // A fresh minimal block: disposing the tensor later frees this one, not the freed copy again.
  data.memoryOffset = backend.wasm._malloc(1) >>> 0;
  s.releasedBytes += filter.size * 4;
}

/**
 * Marks convolution filters (float32 tensors on this thread's WASM backend) to be freed right after
 * their first Conv2D / DepthwiseConv2dNative call, which packs them into an XNNPACK operator.
 */
export function freeFiltersOncePacked(tf: Tf, filters: Tensor[]): void {
  state ??= install(tf);
  for (const f of filters) {
    if (f.dtype !== 'float32' || f.rank !== 4) throw new TypeError(`only float32 4-D convolution filters can be freed after packing, got ${f.dtype} rank ${f.rank}`);
    if (!state.released.has(f.dataId)) state.watched.add(f.dataId);
  }
}

/** Bytes of filter copies freed so far on this thread. */
export function releasedFilterBytes(): number {
  return state?.releasedBytes ?? 0;
}
