/** Topic names shared by gate and hub. IDs of people never appear in a topic. */
const ROOT = 'sitegate/v1';

const SAFE = /^[A-Za-z0-9_-]{1,64}$/;

export function assertTopicId(kind: string, id: string): string {
  if (!SAFE.test(id)) throw new TypeError(`${kind} "${id}" must be 1-64 of A-Z a-z 0-9 _ -`);
  return id;
}

export const topics = {
  siteRoot: (siteId: string) => `${ROOT}/${siteId}`,
  gatePunch: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/punch`,
  gateAck: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/ack`,
  gateStatus: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/status`,
  gateEvent: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/event`,
  gateCmd: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/cmd`,
  gateCmdAck: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/cmd/ack`,
  hubStatus: (siteId: string) => `${ROOT}/${siteId}/hub/status`,
  /** operator → hub: upload now, resume, reload the security token (joint-test commands) */
  hubCmd: (siteId: string) => `${ROOT}/${siteId}/hub/cmd`,
  hubCmdAck: (siteId: string) => `${ROOT}/${siteId}/hub/cmd/ack`,
  roster: (siteId: string) => `${ROOT}/${siteId}/roster`,
  /** gate → hub: one photo, apart from the punch that names its hash (src/mqtt/photos.ts) */
  gatePhoto: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/photo`,
  /** hub → gate: the photos the hub has stored */
  gatePhotoAck: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/photo/ack`,
  allGatePhotos: (siteId: string) => `${ROOT}/${siteId}/gate/+/photo`,
  /** gate → hub: a face captured for enrolment, or why none was (src/mqtt/enrol.ts); holds a template */
  gateEnrol: (siteId: string, gateId: string) => `${ROOT}/${siteId}/gate/${gateId}/enrol`,
  allGateEnrols: (siteId: string) => `${ROOT}/${siteId}/gate/+/enrol`,
  /** hub → operator CLI: what became of an enrolment at a gate (stored or refused) */
  hubEnrol: (siteId: string) => `${ROOT}/${siteId}/hub/enrol`,
  /** Wildcards the hub subscribes to. */
  allGatePunches: (siteId: string) => `${ROOT}/${siteId}/gate/+/punch`,
  allGateStatus: (siteId: string) => `${ROOT}/${siteId}/gate/+/status`,
  allGateEvents: (siteId: string) => `${ROOT}/${siteId}/gate/+/event`,
  allGateCmdAcks: (siteId: string) => `${ROOT}/${siteId}/gate/+/cmd/ack`,
  /** Home Assistant's birth and last-will topic (`online` / `offline`) under its discovery prefix. */
  homeAssistantStatus: (prefix = 'homeassistant') => `${prefix}/status`,
};

/** The gateId segment of a gate topic, or null when the topic is not one. */
export function gateIdFromTopic(siteId: string, topic: string): string | null {
  const prefix = `${ROOT}/${siteId}/gate/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length).split('/');
  return rest.length >= 2 && SAFE.test(rest[0]) ? rest[0] : null;
}
