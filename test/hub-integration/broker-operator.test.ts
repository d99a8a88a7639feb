import { describe, expect, it } from 'vitest';
import { buildBrokerFiles, type BrokerFilesOptions } from '../../src/mqtt/broker-config.js';

const base: BrokerFilesOptions = {
  siteId: 'siteA',
  hub: { user: 'hubA', password: 'hub-secret' },
  gates: [{ gateId: 'gate-a', password: 'gate-secret' }],
  operator: { user: 'dashboard', password: 'dash-secret' },
  port: 18830,
  dataDir: '/var/lib/sitegate/mqtt',
};

function aclBlock(acl: string, user: string): string[] {
  const lines = acl.split('\n');
  const start = lines.indexOf(`user ${user}`);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

describe('the operator dashboard account in the broker config', () => {
  it('reads status, events, acks and discovery, writes only commands and the Home Assistant birth message', () => {
    const { acl, passwd } = buildBrokerFiles(base, '/etc/sitegate/mqtt');
    expect(aclBlock(acl, 'dashboard')).toEqual([
      'topic read sitegate/v1/siteA/hub/status',
      'topic read sitegate/v1/siteA/hub/cmd/ack',
      'topic write sitegate/v1/siteA/hub/cmd',
      'topic read sitegate/v1/siteA/gate/+/status',
      'topic read sitegate/v1/siteA/gate/+/event',
      'topic read sitegate/v1/siteA/gate/+/cmd/ack',
      'topic write sitegate/v1/siteA/gate/+/cmd',
      'topic read homeassistant/#',
      'topic write homeassistant/status',
    ]);
    expect(passwd.map((p) => p.user)).toEqual(['hubA', 'gate-a', 'dashboard']);
    expect(passwd.some((p) => p.hash.includes('dash-secret'))).toBe(false);
  });

  it('lets a gate read the hub\'s photo acks for itself only', () => {
    const { acl } = buildBrokerFiles(base, '/etc/sitegate/mqtt');
    expect(aclBlock(acl, 'gate-a')).toContain('topic read sitegate/v1/siteA/gate/gate-a/photo/ack');
    expect(acl).not.toMatch(/gate\/\+\/photo/);
  });

  it('uses its own discovery prefix and refuses a user name taken by a gate or a bad prefix', () => {
    const { acl } = buildBrokerFiles({ ...base, operator: { user: 'ha', password: 'x', discoveryPrefix: 'ha-disc' } }, '/etc/sitegate/mqtt');
    expect(aclBlock(acl, 'ha')).toContain('topic read ha-disc/#');
    expect(() => buildBrokerFiles({ ...base, operator: { user: 'gate-a', password: 'x' } }, '/etc/x')).toThrow(/appears twice/);
    expect(() => buildBrokerFiles({ ...base, operator: { user: 'ha', password: 'x', discoveryPrefix: 'a/#' } }, '/etc/x')).toThrow(/discoveryPrefix/);
    expect(() => buildBrokerFiles({ ...base, operator: { user: 'ha', password: '' } }, '/etc/x')).toThrow(/empty password/);
  });
});
