import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { headMessage } from '../../src/core/chain.js';
import { SOFTHSM_MODULE } from '../../src/gate/punch/pkcs11-session.js';
import { Pkcs11Signer } from '../../src/gate/punch/signer.js';
import { provisionSoftHsmToken } from '../../src/gate/punch/token-provision.js';
import { PIN, SO_PIN, tempTokenDir } from './helpers.js';

const tmp = tempTokenDir('removed');
afterAll(() => tmp.cleanup());

// Not injected: SoftHSM's own errors when its token directory disappears under a running process
// (OBJECT_HANDLE_INVALID on sign, GENERAL_ERROR on the slot list) take the same recovery path.
it('a token whose files vanish gives no_token and token_unavailable, and reopen keeps saying so', async () => {
  const token = await provisionSoftHsmToken({
    dir: tmp.dir, tokenLabel: 'gate-09', keyLabel: 'head-key', pin: PIN, soPin: SO_PIN, keyType: 'ec-p256', subjectCN: 'gate-09', validDays: 1,
  });
  const signer = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: 'gate-09', keyLabel: 'head-key', pin: PIN, mechanism: 'ecdsa-p256' });
  await signer.open();
  const message = headMessage('gate-09', 0, token.certSha256);
  expect((await signer.sign(message)).length).toBe(64);

  rmSync(join(tmp.dir, 'tokens'), { recursive: true });
  await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_unavailable', detail: { pkcs11: 'CKR_OBJECT_HANDLE_INVALID' } });
  expect(signer.state).toBe('no_token');
  await expect(signer.reopen()).rejects.toMatchObject({ code: 'token_unavailable' });
  expect(signer.state).toBe('no_token');
  // The certificate read at open stays known, so the gate keeps chaining under the same identity.
  expect(signer.certSha256()).toBe(token.certSha256);
});
