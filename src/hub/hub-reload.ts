import { SitegateError } from '../core/errors.js';
import type { HubConfig } from '../config/hub-config.js';

/**
 * What `systemctl reload` (SIGHUP) may change in a running hub: the commissioned gates (pins,
 * epochs, lanes), the site's rules, the registry file and poll, photos, and the platform's
 * pacing, mode and row policy. Everything else (site, state directory, broker, platform account
 * and profile, Home Assistant, roster key) needs a restart.
 */
const RESTART_ONLY: { key: string; of: (c: HubConfig) => unknown }[] = [
  { key: 'siteId', of: (c) => c.siteId },
  { key: 'stateDir', of: (c) => c.stateDir },
  { key: 'mqtt', of: (c) => c.mqtt },
  { key: 'rosterSigning', of: (c) => c.rosterSigning },
  { key: 'homeAssistant', of: (c) => c.homeAssistant },
  {
    key: 'platform (profile, profileOptions, securityTokenFile, baseUrl, appId, appSecretFile, timeoutMs)',
    of: (c) => [c.platform.profile, c.platform.profileOptions, c.platform.securityTokenFile, c.platform.baseUrl, c.platform.appId, c.platform.appSecretFile, c.platform.timeoutMs],
  },
];

/** Throws (and the old config stays) when the new config changes a key only a restart applies. */
export function checkReloadable(current: HubConfig, next: HubConfig): void {
  const changed = RESTART_ONLY.filter((k) => JSON.stringify(k.of(current)) !== JSON.stringify(k.of(next))).map((k) => k.key);
  if (changed.length) {
    throw new SitegateError('reload_needs_restart', `these keys changed and apply only at a restart (systemctl restart sitegate-hub): ${changed.join('; ')}`);
  }
}

/** True when the forwarder must be rebuilt to apply the new config (pacing or mode changed). */
export function forwarderChanged(current: HubConfig, next: HubConfig): boolean {
  return JSON.stringify([current.platform.pacing, current.platform.mode]) !== JSON.stringify([next.platform.pacing, next.platform.mode]);
}
