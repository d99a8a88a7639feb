// The 1:N scoring kernel: int8 templates × an int8 query, one f32 score per template.
// Written as WAT, assembled at load with wabt (`simd: true`). The query's 128 int8 values are
// widened once to sixteen i16x8 registers; each template is eight 16-byte loads, widened
// (`i16x8.extend_*_i8x16_s`) and multiplied-and-added pairwise (`i32x4.dot_i16x8_s`).
// The integer dot (|dot| ≤ 128·127·127 < 2^24, exact in f32) is multiplied by the template's
// scale and the query's and the template's bias is added, each step an f32 operation, so the JS
// fallback (index-matrix.ts jsScores) gives bit-identical scores.
import wabtInit from 'wabt';
import { SitegateError, errorMessage } from '../../core/errors.js';

export const DIM = 128;
const CHUNKS = DIM / 16;

function kernelWat(): string {
  const qLocals = Array.from({ length: CHUNKS * 2 }, (_, i) => `(local $q${i} v128)`).join(' ');
  const loadQuery = Array.from({ length: CHUNKS }, (_, c) => `
    (local.set $v (v128.load offset=${c * 16} (local.get $q)))
    (local.set $q${2 * c} (i16x8.extend_low_i8x16_s (local.get $v)))
    (local.set $q${2 * c + 1} (i16x8.extend_high_i8x16_s (local.get $v)))`).join('');
  const dotTemplate = Array.from({ length: CHUNKS }, (_, c) => `
      (local.set $v (v128.load offset=${c * 16} (local.get $t)))
      (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v)) (local.get $q${2 * c}))))
      (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v)) (local.get $q${2 * c + 1}))))`).join('');
  return `(module
  (memory (export "memory") 1)
  ;; scores(q, t, scale, bias, out, n, qs): out[i] = f32(dot(q, t[i])) * scale[i] * qs + bias[i] for i < n
  (func (export "scores") (param $q i32) (param $t i32) (param $scale i32) (param $bias i32) (param $out i32) (param $n i32) (param $qs f32)
    (local $v v128) (local $acc v128) (local $end i32) ${qLocals}
    ${loadQuery}
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $next
        (local.set $acc (v128.const i32x4 0 0 0 0))${dotTemplate}
        (f32.store (local.get $out)
          (f32.add
            (f32.mul
              (f32.mul
                (f32.convert_i32_s
                  (i32.add
                    (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                    (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
                (f32.load (local.get $scale)))
              (local.get $qs))
            (f32.load (local.get $bias))))
        (local.set $t (i32.add (local.get $t) (i32.const ${DIM})))
        (local.set $scale (i32.add (local.get $scale) (i32.const 4)))
        (local.set $bias (i32.add (local.get $bias) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $next (i32.lt_u (local.get $out) (local.get $end))))))
)`;
}

/** The WAT source, exported for inspection and tests. */
export const KERNEL_WAT = kernelWat();

// tsconfig's lib has no WebAssembly types (no DOM lib): the little used here, declared locally.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<{ exports: object }>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface SimdKernelInstance {
  readonly memory: WasmMemory;
  scores(q: number, t: number, scale: number, bias: number, out: number, n: number, queryScale: number): void;
}

let compiled: Promise<object> | undefined;

async function compile(): Promise<object> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('face-index-kernel.wat', KERNEL_WAT, { simd: true });
  try {
    mod.validate();
    const { buffer } = mod.toBinary({});
    return await Wasm.compile(buffer);
  } finally {
    mod.destroy();
  }
}

/** A fresh instance (own memory) of the SIMD kernel; the module is assembled once per process. */
export async function instantiateSimdKernel(): Promise<SimdKernelInstance> {
  try {
    compiled ??= compile();
    const instance = await Wasm.instantiate(await compiled, {});
    const e = instance.exports as { memory: WasmMemory; scores: SimdKernelInstance['scores'] };
    return { memory: e.memory, scores: e.scores };
  } catch (err) {
    compiled = undefined;
    throw new SitegateError('face_index_kernel', `cannot assemble the WebAssembly SIMD search kernel: ${errorMessage(err)}`);
  }
}
