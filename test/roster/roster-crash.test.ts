import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RosterStore } from '../../src/gate/roster/roster-store.js';
import { cardHmac, SITE, SITE_KEY, tempDir, worker } from './helpers.js';

// A child process applies a roster change and is SIGKILLed in the middle of the transaction;
// the reopened file must hold the previous version, whole and usable.
const FIXTURES = join(import.meta.dirname, 'fixtures');
const dir = await tempDir();
afterAll(() => dir.remove());

async function killMidApply(phase: 'delta' | 'stage' | 'commit'): Promise<string> {
  const path = join(dir.path, `${phase}.db`);
  const store = new RosterStore(path);
  store.replace({ version: 1, siteId: SITE, siteKey: SITE_KEY.toString('hex'), workers: Array.from({ length: 2000 }, (_, i) => worker(i)) });
  store.close();

  const child = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', '--import', join(import.meta.dirname, '..', 'fixtures', 'ts-import.ts'), join(FIXTURES, 'apply-child.ts'), path, phase], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = once(child, 'exit');
  try {
    await vi.waitFor(() => expect(out, err).toContain(`inside ${phase}`), { timeout: 30_000, interval: 20 });
  } finally {
    child.kill('SIGKILL');
  }
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');
  expect(out).not.toContain('finished');
  return path;
}

function expectPreviousVersion(path: string): void {
  const store = new RosterStore(path);
  try {
    expect(store.version()).toBe(1);
    expect(store.size()).toBe(2000);
    expect(store.findByCredential('card', cardHmac('card-0'))?.status).toBe('entered');
    expect(store.findByCredential('card', cardHmac('card-1'))?.workerId).toBe('W000001');
    expect(store.findByCredential('card', cardHmac('card-1999'))?.workerId).toBe('W001999');
    // and the next change applies cleanly on top
    store.applyDelta({ siteId: SITE, fromVersion: 1, version: 2, upserts: [worker(0, { status: 'left' })], removes: [] });
    expect(store.findByCredential('card', cardHmac('card-0'))?.status).toBe('left');
  } finally {
    store.close();
  }
}

describe('roster apply killed with SIGKILL', () => {
  it('mid-delta leaves the previous version', async () => {
    expectPreviousVersion(await killMidApply('delta'));
  });

  it('mid-way through staging a snapshot leaves the previous version', async () => {
    expectPreviousVersion(await killMidApply('stage'));
  });

  it('inside the snapshot\'s switch-over transaction leaves the previous version', async () => {
    expectPreviousVersion(await killMidApply('commit'));
  });
});
