// How many face worker threads a gate runs. Each holds its own models (about 110 MB resident), and
// the gate's main thread (readers, relay, journal, signing) must keep a core of its own: 'auto'
// leaves one core free and runs at most two workers, which is where a burst's frames stop coming
// faster than the camera gives them.
import { availableParallelism } from 'node:os';

export type FaceWorkersSetting = number | 'auto';

export function faceWorkerCount(setting: FaceWorkersSetting, cpus: number = availableParallelism()): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(2, cpus - 1));
}
