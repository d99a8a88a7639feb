import type { PlatformProfile } from '../../src/municipal/profile.js';

/** A platform that accepts every upload and reports every batch done: for hub tests that do not look at the platform. */
export const acceptingProfile: PlatformProfile = {
  name: 'fake',
  upload: async () => ({ ok: true, value: { requestSerialCode: 'r1' } }),
  query: async () => ({ ok: true, value: { state: 'done', rows: [] } }),
};
