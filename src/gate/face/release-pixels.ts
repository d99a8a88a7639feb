// Frees a picture's pixels now rather than at V8's next collection. V8 collects for memory held
// outside its heap only once tens of MB of it have piled up, so frames (~1 MB each, many per
// second) would otherwise sit in the resident set long after their last use. Detaching the
// ArrayBuffer (transfer to length 0) releases its backing store at once; any later read sees
// length 0. Only a view that owns its whole buffer is released, never a slice of a shared one.
export function releasePixels(view: ArrayBufferView | undefined): void {
  const buffer = view?.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) return;
  if (view!.byteOffset !== 0 || view!.byteLength !== buffer.byteLength) return;
  buffer.transfer(0);
}
