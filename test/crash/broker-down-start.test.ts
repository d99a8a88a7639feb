import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './daemon-process.js';
import { CrashSite, lookInJournal, openReader, waitFor } from './harness.js';

// A gate that crashes (or loses power) while the hub's broker is unreachable must come back and
// let workers through: workers need a decision also when the site network is down.
describe.skipIf(!existsSync(CLI))('a gate restarted while the broker is down', () => {
  const dir = mkdtempSync('/tmp/sg-nobroker-');
  const site = new CrashSite({ dir, workers: 5 });
  let startError: string | null = null;

  beforeAll(async () => {
    await site.start();
    await site.broker.kill('SIGKILL');
    await site.gate.kill('SIGKILL');
    try {
      await site.startGate(30_000);
    } catch (err) {
      startError = (err as Error).message.split('\n').slice(0, 3).join(' | ');
    }
  }, 120_000);

  afterAll(async () => {
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, opens the turnstile for a rostered card, and delivers the punch once the broker is back', async () => {
    expect(startError).toBeNull();
    const w = site.rostered[0];
    const before = site.relayPulses();
    site.swipe(w);
    expect(await waitFor(() => site.relayPulses() > before, 5000, 2)).toBe(true);
    await site.walkThrough(40);
    await site.broker.start();
    const journal = openReader(site.paths.journal);
    try {
      expect(await waitFor(() => lookInJournal(journal, w.workerId).unacked === 0, 30_000, 50)).toBe(true);
    } finally {
      journal.close();
    }
  }, 60_000);
});
