import { PASSAGE_EVENT_TYPES } from '../mqtt/events.js';
import { topics } from '../mqtt/topics.js';

/** One Home Assistant MQTT discovery document and the topic it goes to. */
export interface DiscoveryDocument {
  topic: string;
  payload: Record<string, unknown>;
}

export interface DiscoveryGate {
  gateId: string;
  lanes: readonly string[];
}

export interface DiscoveryOptions {
  siteId: string;
  /** Home Assistant's discovery prefix (its default: homeassistant) */
  prefix: string;
  gates: readonly DiscoveryGate[];
}

const ORIGIN = { name: 'sitegate' };
/** Python renders a bool as True / False: binary sensors read the status's booleans as such. */
const BOOL = { payload_on: 'True', payload_off: 'False' };

function availability(topic: string) {
  return [{ topic, value_template: "{{ 'online' if value_json.online else 'offline' }}" }];
}

/**
 * The discovery documents of a site: the hub (queue depths, requests today, a fault sensor, an
 * "upload now" button) and each gate (a lock per lane with "open once", fault and fire-alarm
 * binary sensors, unacknowledged entries, an event entity for passages, a roster-resync button).
 * Every entity reads a retained status topic, so its state is there as soon as HA subscribes.
 */
export function discoveryDocuments(o: DiscoveryOptions): DiscoveryDocument[] {
  const docs: DiscoveryDocument[] = [];
  const node = (suffix: string) => `sitegate_${o.siteId}_${suffix}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const add = (component: string, nodeId: string, objectId: string, payload: Record<string, unknown>) => {
    docs.push({
      topic: `${o.prefix}/${component}/${nodeId}/${objectId}/config`,
      payload: { ...payload, unique_id: `${nodeId}_${objectId}`, object_id: `${nodeId}_${objectId}`, origin: ORIGIN },
    });
  };

  const hubNode = node('hub');
  const hubStatus = topics.hubStatus(o.siteId);
  const hubDevice = { identifiers: [hubNode], name: `Sitegate hub ${o.siteId}`, manufacturer: 'sitegate', model: 'site hub' };
  const hubCommon = { device: hubDevice, availability: availability(hubStatus) };
  const queueSensor = (objectId: string, name: string, path: string) =>
    add('sensor', hubNode, objectId, {
      ...hubCommon,
      name,
      state_topic: hubStatus,
      value_template: `{{ value_json.${path} }}`,
      unit_of_measurement: 'rows',
      state_class: 'measurement',
    });
  queueSensor('queue_pending', 'Rows waiting for the platform', 'queue.pending');
  queueSensor('queue_in_flight', 'Rows in flight', 'queue.inFlight');
  queueSensor('queue_rejected', 'Rows rejected by the platform', 'queue.rejected');
  add('sensor', hubNode, 'requests_today', {
    ...hubCommon,
    name: 'Platform requests today',
    state_topic: hubStatus,
    value_template: '{{ value_json.pacer.requestsToday }}',
    state_class: 'total_increasing',
  });
  add('binary_sensor', hubNode, 'platform_fault', {
    ...hubCommon,
    name: 'Platform fault',
    device_class: 'problem',
    state_topic: hubStatus,
    value_template: '{{ value_json.faulted }}',
    ...BOOL,
  });
  add('button', hubNode, 'upload_now', {
    ...hubCommon,
    name: 'Upload now (joint test)',
    command_topic: topics.hubCmd(o.siteId),
    payload_press: JSON.stringify({ cmd: 'upload-now', rows: 5 }),
  });
  add('sensor', hubNode, 'last_command', {
    ...hubCommon,
    name: 'Last hub command',
    state_topic: topics.hubCmdAck(o.siteId),
    value_template: '{{ value_json.code }}',
  });

  for (const gate of o.gates) {
    const gateNode = node(gate.gateId);
    const status = topics.gateStatus(o.siteId, gate.gateId);
    const cmd = topics.gateCmd(o.siteId, gate.gateId);
    const device = { identifiers: [gateNode], name: `Gate ${gate.gateId}`, manufacturer: 'sitegate', model: 'turnstile controller', via_device: hubNode };
    const common = { device, availability: availability(status) };
    for (const lane of gate.lanes) {
      add('lock', gateNode, `lane_${lane}`, {
        ...common,
        name: `Lane ${lane}`,
        command_topic: cmd,
        payload_lock: JSON.stringify({ cmd: 'lock-down', lane }),
        payload_unlock: JSON.stringify({ cmd: 'release', lane }),
        payload_open: JSON.stringify({ cmd: 'open-once', lane }),
        state_topic: status,
        value_template: `{{ value_json.lanes['${lane}'].mode }}`,
        state_locked: 'lockdown',
        state_unlocked: 'normal',
        state_open: 'open',
        optimistic: false,
      });
    }
    add('binary_sensor', gateNode, 'fault', {
      ...common,
      name: 'Fault',
      device_class: 'problem',
      state_topic: status,
      value_template: '{{ value_json.fault }}',
      ...BOOL,
    });
    add('binary_sensor', gateNode, 'fire_alarm', {
      ...common,
      name: 'Fire alarm',
      device_class: 'safety',
      state_topic: status,
      value_template: '{{ value_json.fireAlarm }}',
      ...BOOL,
    });
    add('sensor', gateNode, 'unacked', {
      ...common,
      name: 'Entries waiting for the hub',
      state_topic: status,
      value_template: '{{ value_json.unacked }}',
      unit_of_measurement: 'entries',
      state_class: 'measurement',
    });
    add('event', gateNode, 'passage', {
      ...common,
      name: 'Passage',
      state_topic: topics.gateEvent(o.siteId, gate.gateId),
      event_types: [...PASSAGE_EVENT_TYPES],
    });
    add('button', gateNode, 'resync_roster', {
      ...common,
      name: 'Resync roster',
      command_topic: cmd,
      payload_press: JSON.stringify({ cmd: 'resync-roster' }),
    });
  }
  return docs;
}

export interface HaPublisher {
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void;
}

/**
 * Sends the discovery documents at start, again whenever Home Assistant announces itself
 * (`online` on `<prefix>/status`), and when a gate reports a lane not seen before.
 */
export class HaDiscovery {
  private readonly lanes = new Map<string, Set<string>>();
  published = 0;

  constructor(
    private readonly opts: { siteId: string; prefix: string; gates: readonly DiscoveryGate[]; publisher: HaPublisher },
  ) {
    for (const g of opts.gates) this.lanes.set(g.gateId, new Set(g.lanes));
  }

  get birthTopic(): string {
    return topics.homeAssistantStatus(this.opts.prefix);
  }

  documents(): DiscoveryDocument[] {
    const gates = [...this.lanes].map(([gateId, lanes]) => ({ gateId, lanes: [...lanes].sort() }));
    return discoveryDocuments({ siteId: this.opts.siteId, prefix: this.opts.prefix, gates });
  }

  publishAll(): void {
    for (const d of this.documents()) {
      this.opts.publisher.publish(d.topic, JSON.stringify(d.payload), { qos: 1, retain: false });
      this.published++;
    }
  }

  /** Home Assistant's birth or last-will message. */
  onHaStatus(payload: Buffer | string): void {
    if (payload.toString().trim() === 'online') this.publishAll();
  }

  /** A commissioned gate's status named its lanes: lanes new to us get their lock entities. */
  onGateLanes(gateId: string, lanes: readonly string[]): void {
    const known = this.lanes.get(gateId);
    if (!known) return; // only commissioned gates
    const fresh = lanes.filter((l) => /^[A-Za-z0-9_-]{1,64}$/.test(l) && !known.has(l));
    if (fresh.length === 0) return;
    for (const l of fresh) known.add(l);
    this.publishAll();
  }
}
