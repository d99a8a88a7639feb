import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { BLOCK_HOOK_ENV, installBlockHook } from '../../src/daemon/block-hook.js';

// The hook itself (a SIGUSR2 that spins the loop) is exercised on the real daemons in
// daemon-watchdog.test.ts; here: it is armed only by a sane number of seconds.
describe('the event-loop block test hook', () => {
  const listeners = () => process.listenerCount('SIGUSR2');

  it('installs nothing unless SITEGATE_TEST_BLOCK_ON_SIGNAL is 1 to 120 seconds', () => {
    const before = listeners();
    for (const value of [undefined, '', '0', '-3', '2.5', '121', 'yes']) {
      const remove = installBlockHook({ [BLOCK_HOOK_ENV]: value }, silentLogger());
      expect(listeners(), `value ${value}`).toBe(before);
      remove();
    }
  });

  it('handles SIGUSR2 when armed, and removes its handler when asked', () => {
    const before = listeners();
    const remove = installBlockHook({ [BLOCK_HOOK_ENV]: '4' }, silentLogger());
    expect(listeners()).toBe(before + 1);
    remove();
    expect(listeners()).toBe(before);
  });
});
