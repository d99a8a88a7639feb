// Square face crops out of a frame tensor; parts of a box outside the frame come out black.
import type { Tf } from './tfjs-wasm.js';
import type { Box } from './face-types.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;

/** `box` (frame pixels) out of `frame`, resized to size × size, float 0..255. Caller disposes. */
export function cropBox(tf: Tf, frame: Tensor3D, box: Box, size: number): Tensor3D {
  const [h, w] = frame.shape;
  return tf.tidy(() => {
    const batch = tf.expandDims(tf.cast(frame, 'float32'), 0) as import('@tensorflow/tfjs').Tensor4D;
    const norm = [[box.y / (h - 1), box.x / (w - 1), (box.y + box.height) / (h - 1), (box.x + box.width) / (w - 1)]];
    return tf.squeeze(tf.image.cropAndResize(batch, norm, [0], [size, size], 'bilinear', 0), [0]) as Tensor3D;
  });
}
