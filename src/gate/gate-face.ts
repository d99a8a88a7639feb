import type { Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { GateConfig } from '../config/gate-config.js';
import { defaultChooseOptions } from './face/choose-face.js';
import { createFaceIndex, type FaceIndex } from './face/face-index.js';
import { defaultPipelineOptions } from './face/face-pipeline.js';
import { FacePool, type FacePoolOptions } from './face/face-pool.js';
import { faceWorkerCount } from './face/face-worker-count.js';
import { FaceStation, type FaceCredential, type FaceNoMatch, type FaceProcessor, type FaceSpoof } from './face/face-station.js';
import { decodeTemplate, loadRosterTemplates } from './face/face-templates.js';
import type { RgbFrame } from './face/face-types.js';
import { defaultFrameSize } from './face/frame-decode.js';
import { CommandFrameSource, DirectoryFrameSource, type FrameSource, type FrameSourceStats } from './face/frame-source.js';
import type { GateFaults } from './gate-faults.js';
import type { RosterApplied } from './roster/roster-sync.js';
import type { RosterStore } from './roster/roster-store.js';

type FaceConfig = GateConfig['face'];
type CameraConfig = NonNullable<FaceConfig['camera']>;

/** Face workers as the gate runs them: a FacePool, or (tests) anything that processes frames. */
export interface GateFaceProcessor extends FaceProcessor {
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface GateFaceHandlers {
  credential(c: FaceCredential): void;
  spoof(s: FaceSpoof): void;
  noMatch(n: FaceNoMatch): void;
}

export interface GateFaceOptions {
  config: FaceConfig;
  roster: RosterStore;
  clock: Clock;
  log: Logger;
  faults: GateFaults;
  handlers: GateFaceHandlers;
  /** the face workers; default a FacePool of `config.workers` threads */
  processor?: GateFaceProcessor;
  /** where the pool finds its models and their manifest (tests point at a changed copy) */
  pool?: Pick<FacePoolOptions, 'modelsDir' | 'manifestPath'>;
}

export interface GateFaceStatus {
  state: 'off' | 'running' | 'fault';
  policy: FaceConfig['livenessPolicy'];
  /** workers and templates in the 1:N index */
  indexWorkers: number;
  indexTemplates: number;
  /** roster templates refused at the last load (bad length, not normalised…) */
  badTemplates: number;
  station: FaceStation['counters'] | null;
  camera: FrameSourceStats | null;
  problem: string | null;
}

/**
 * Face matching on the gate: the face workers, the 1:N index built from the roster's templates
 * (kept current on every roster apply), the camera (and IR camera) feeding one FaceStation.
 * Missing or changed model files leave the gate running without face matching, with a fault
 * naming the file; cards and ID cards go on working.
 */
export class GateFace {
  station: FaceStation | null = null;
  index: FaceIndex | null = null;
  private pool: GateFaceProcessor | null = null;
  private camera: FrameSource | null = null;
  private irCamera: FrameSource | null = null;
  private lastIr: RgbFrame | undefined;
  private badTemplates = 0;
  private problem: string | null = null;
  private stopped = false;

  constructor(private readonly opts: GateFaceOptions) {}

  get running(): boolean {
    return this.station !== null && this.problem === null;
  }

  async start(): Promise<void> {
    const { config: c, log } = this.opts;
    if (!c.enabled || !c.camera) return;
    const pool = this.opts.processor ?? new FacePool({
      workers: faceWorkerCount(c.workers),
      ...this.opts.pool,
      pipeline: { ...defaultPipelineOptions, choose: { ...defaultChooseOptions, minEyeDistancePx: c.minEyeDistancePx } },
    });
    try {
      await pool.start?.();
    } catch (err) {
      const file = err instanceof SitegateError && typeof err.detail?.file === 'string' ? err.detail.file : null;
      this.problem = errorMessage(err);
      log.error({ file, code: err instanceof SitegateError ? err.code : undefined }, `face matching is off: ${this.problem}`);
      this.opts.faults.raise('face_models', '', `face matching is off${file ? ` (model file ${file})` : ''}: ${this.problem}`);
      return;
    }
    if (this.stopped) {
      await pool.stop?.();
      return;
    }
    this.pool = pool;
    this.index = await createFaceIndex({ threshold: c.threshold, margin: c.margin });
    this.rebuildIndex();
    const station = new FaceStation(pool, this.index, {
      lane: c.camera.lane,
      direction: c.camera.direction,
      policy: c.livenessPolicy,
      clock: this.opts.clock,
      burstFrames: c.burstFrames,
      cooldownMs: c.cooldownMs,
    });
    station.on('credential', (x) => this.opts.handlers.credential(x));
    station.on('spoof', (x) => this.opts.handlers.spoof(x));
    station.on('no_match', (x) => this.opts.handlers.noMatch(x));
    station.on('error', (err) => log.warn({ err: err.message }, 'face frame not judged'));
    station.start();
    this.station = station;
    if (c.irCamera) {
      this.irCamera = this.source(c.irCamera, (f) => void (this.lastIr = f));
      this.irCamera.start();
    }
    this.camera = this.source(c.camera, (f) => station.offer(f, this.lastIr));
    this.camera.start();
    log.info({ lane: c.camera.lane, policy: c.livenessPolicy, workers: this.index.workerCount, kernel: this.index.kernel }, 'face matching started');
  }

  private source(cam: CameraConfig, onFrame: (f: RgbFrame) => Promise<void> | void): FrameSource {
    const onError = (err: Error) => this.opts.log.warn({ err: err.message }, 'camera frame dropped');
    if ('command' in cam) return new CommandFrameSource({ command: cam.command, size: defaultFrameSize, onFrame, onError });
    return new DirectoryFrameSource({ dir: cam.directory, intervalMs: cam.intervalMs, loop: cam.loop, clock: this.opts.clock, size: defaultFrameSize, onFrame, onError });
  }

  /** Resolves when the camera has delivered everything it will (a directory read to its end). */
  cameraEnded(): Promise<void> {
    return this.camera?.ended() ?? Promise.resolve();
  }

  /** Keeps the index in step with the roster: a snapshot rebuilds it, a delta changes only its workers. */
  rosterApplied(a: RosterApplied): void {
    if (!this.index) return;
    if (a.kind === 'snapshot') {
      this.rebuildIndex();
      return;
    }
    for (const id of a.removes) this.index.remove(id);
    for (const id of a.upserts) {
      const templates: Float32Array[] = [];
      for (const t of this.opts.roster.findWorker(id)?.faceTemplates ?? []) {
        try {
          templates.push(decodeTemplate(t));
        } catch {
          this.badTemplates++;
        }
      }
      this.index.replace(id, templates);
    }
  }

  /** Rebuilds the index from the whole roster (at start, after a snapshot or a roster file). */
  rebuildIndex(): void {
    if (!this.index) return;
    const load = loadRosterTemplates(this.index, this.opts.roster.faceTemplates());
    this.badTemplates = load.bad;
    if (load.bad) this.opts.log.warn({ bad: load.bad, workers: load.badWorkers.slice(0, 20) }, 'roster face templates refused');
  }

  /** card+face: the worker a live face seen just now verifies as; undefined when none was seen. */
  verifyRecent(workerId: string): string | null | undefined {
    const v = this.station?.verifyRecent(workerId);
    if (!v) return undefined;
    return v.accepted ? workerId : null;
  }

  status(): GateFaceStatus {
    const c = this.opts.config;
    return {
      state: !c.enabled ? 'off' : this.problem ? 'fault' : 'running',
      policy: c.livenessPolicy,
      indexWorkers: this.index?.workerCount ?? 0,
      indexTemplates: this.index?.size ?? 0,
      badTemplates: this.badTemplates,
      station: this.station ? { ...this.station.counters } : null,
      camera: this.camera ? this.camera.stats : null,
      problem: this.problem,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.camera?.stop().catch(() => undefined);
    await this.irCamera?.stop().catch(() => undefined);
    this.station?.stop();
    await this.pool?.stop?.().catch(() => undefined);
  }
}
