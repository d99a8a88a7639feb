import { randomBytes } from 'node:crypto';
import type { HubConfig } from '../config/hub-config.js';
import { readSecretFile } from '../config/load.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { RegistryStore } from '../hub/registry/registry-store.js';
import { connectMqtt } from '../mqtt/client.js';
import { commandAckSchema, type CommandAck } from '../mqtt/commands.js';
import { faceEnrolMessageSchema, faceEnrolResultSchema, type FaceEnrolResult } from '../mqtt/enrol.js';
import { parsePayload } from '../mqtt/schemas.js';
import { topics } from '../mqtt/topics.js';

/** How long the gate has to acknowledge the command, and the hub to store what the gate sent. */
const ACK_WAIT_MS = 10_000;
const STORE_WAIT_MS = 10_000;

type Ev = { kind: 'ack'; ack: CommandAck } | { kind: 'gate' } | { kind: 'hub'; result: FaceEnrolResult } | { kind: 'timer'; what: 'ack' | 'capture' | 'store' };

export interface GateEnrolOutcome {
  ok: boolean;
  requestId: string;
  workerId: string;
  gateId: string;
  /** stored, or why not: the hub's code, the gate's refusal (unavailable…), no_ack, hub_silent */
  code: string;
  message: string;
  faceId: string | null;
  version: number | null;
}

/**
 * Enrols a worker's face from the next good capture at a gate: records the request in the
 * registry (the hub stores only requested answers), sends `capture-face` to the gate, and waits
 * for the hub's word on `hub/enrol`. Talks to the broker as the hub's account, with its own client id.
 */
export async function enrolFromGate(
  config: HubConfig,
  registry: RegistryStore,
  o: { worker: string; gateId: string; timeoutMs: number; clock?: Clock },
): Promise<GateEnrolOutcome> {
  const clock = o.clock ?? systemClock;
  if (!config.gates.some((g) => g.gateId === o.gateId)) {
    throw new SitegateError('usage', `gate "${o.gateId}" is not one of this hub's gates (${config.gates.map((g) => g.gateId).join(', ') || 'none'})`);
  }
  const requestId = `enrol-${randomBytes(8).toString('hex')}`;
  const worker = registry.requestFaceCapture(o.worker, o.gateId, requestId, clock.now() + o.timeoutMs);
  const base = { requestId, workerId: worker.workerId, gateId: o.gateId };
  const end = (code: string, message: string): GateEnrolOutcome => {
    // a late answer for a request the operator was told failed must not be stored
    registry.closeFaceCapture(requestId, { code, message });
    return { ...base, ok: false, code, message, faceId: null, version: null };
  };

  const queue: Ev[] = [];
  let wake: (() => void) | null = null;
  const settle = (v: Ev) => {
    queue.push(v);
    wake?.();
  };
  const next = (): Promise<Ev> =>
    queue.length
      ? Promise.resolve(queue.shift()!)
      : new Promise((resolve) => {
          wake = () => {
            wake = null;
            resolve(queue.shift()!);
          };
        });

  let client;
  try {
    client = await connectMqtt({
      url: config.mqtt.url,
      username: config.mqtt.username ?? 'hub',
      password: readSecretFile(config.mqtt.passwordFile, 'MQTT password'),
      clientId: `sitegate-cli-${requestId}`,
      connectTimeoutMs: ACK_WAIT_MS,
      onMessage: (topic, payload) => {
        if (topic === topics.gateCmdAck(config.siteId, o.gateId)) {
          const a = parsePayload(commandAckSchema, payload);
          if (a.ok && a.value.id === requestId) settle({ kind: 'ack', ack: a.value });
        } else if (topic === topics.gateEnrol(config.siteId, o.gateId)) {
          const m = parsePayload(faceEnrolMessageSchema, payload);
          if (m.ok && m.value.requestId === requestId) settle({ kind: 'gate' });
        } else if (topic === topics.hubEnrol(config.siteId)) {
          const r = parsePayload(faceEnrolResultSchema, payload);
          if (r.ok && r.value.requestId === requestId) settle({ kind: 'hub', result: r.value });
        }
      },
    });
  } catch (err) {
    return end('no_broker', `cannot reach the broker at ${config.mqtt.url}: ${errorMessage(err)}`);
  }
  let timer: TimerHandle | null = null;
  const arm = (ms: number, what: 'ack' | 'capture' | 'store') => {
    if (timer) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => settle({ kind: 'timer', what }), ms);
  };
  try {
    await client.subscribeAsync([topics.gateCmdAck(config.siteId, o.gateId), topics.gateEnrol(config.siteId, o.gateId), topics.hubEnrol(config.siteId)], { qos: 1 });
    const cmd = { cmd: 'capture-face', id: requestId, workerId: worker.workerId, requestId, timeoutMs: o.timeoutMs, notAfterMs: clock.now() + ACK_WAIT_MS };
    await client.publishAsync(topics.gateCmd(config.siteId, o.gateId), JSON.stringify(cmd), { qos: 1 });
    arm(ACK_WAIT_MS, 'ack');
    for (;;) {
      const ev = await next();
      if (ev.kind === 'hub') {
        const r = ev.result;
        if (!r.ok && registry.faceCaptureRequest(requestId)?.state === 'waiting') registry.closeFaceCapture(requestId, { code: r.code, message: r.message });
        return { ...base, ok: r.ok, code: r.code, message: r.message, faceId: r.faceId, version: r.version };
      }
      if (ev.kind === 'ack') {
        if (!ev.ack.ok) return end(ev.ack.code, `${o.gateId} refused: ${ev.ack.message}`);
        arm(o.timeoutMs + STORE_WAIT_MS, 'capture');
      } else if (ev.kind === 'gate') {
        arm(STORE_WAIT_MS, 'store');
      } else if (ev.what === 'ack') {
        return end('no_ack', `${o.gateId} did not acknowledge within ${ACK_WAIT_MS / 1000} s (is it online?)`);
      } else if (ev.what === 'store') {
        return end('hub_silent', `${o.gateId} sent its capture but the hub did not store it within ${STORE_WAIT_MS / 1000} s (is the hub running?)`);
      } else {
        return end('no_answer', `no answer from ${o.gateId} or the hub within ${Math.round((o.timeoutMs + STORE_WAIT_MS) / 1000)} s`);
      }
    }
  } finally {
    if (timer) clock.clearTimeout(timer);
    await client.endAsync().catch(() => undefined);
  }
}
