import { topics } from './topics.js';

/**
 * Roster topics. Hub → gates under `roster/` (the broker lets the site's gates read it, nobody
 * else); a gate's snapshot request goes under its own `gate/<gateId>/`, the only place it may write.
 */
export const rosterTopics = {
  /** every delta, in version order (QoS 1) */
  delta: (siteId: string) => `${topics.roster(siteId)}/delta`,
  /** retained: the newest version, so a gate that was away knows how far behind it is */
  head: (siteId: string) => `${topics.roster(siteId)}/head`,
  /** the chunks of one snapshot (QoS 1) */
  snapshot: (siteId: string, version: number) => `${topics.roster(siteId)}/snapshot/${version}`,
  allSnapshots: (siteId: string) => `${topics.roster(siteId)}/snapshot/+`,
  /** gate → hub: send me a snapshot */
  request: (siteId: string, gateId: string) => `${topics.siteRoot(siteId)}/gate/${gateId}/roster/request`,
  allRequests: (siteId: string) => `${topics.siteRoot(siteId)}/gate/+/roster/request`,
};

/** The version in a snapshot topic, or null when the topic is not one. */
export function snapshotVersionOfTopic(siteId: string, topic: string): number | null {
  const prefix = `${topics.roster(siteId)}/snapshot/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length);
  return /^(0|[1-9]\d{0,14})$/.test(rest) ? Number(rest) : null;
}

/** The gateId of a snapshot request topic, or null when the topic is not one. */
export function requestGateOfTopic(siteId: string, topic: string): string | null {
  const prefix = `${topics.siteRoot(siteId)}/gate/`;
  const suffix = '/roster/request';
  if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) return null;
  const gateId = topic.slice(prefix.length, -suffix.length);
  return /^[A-Za-z0-9_-]{1,64}$/.test(gateId) ? gateId : null;
}
