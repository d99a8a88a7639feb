import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headMessage } from '../../src/core/chain.js';
import type { SitegateError } from '../../src/core/errors.js';
import { pkcs11Library, SOFTHSM_MODULE } from '../../src/gate/punch/pkcs11-session.js';
import { Pkcs11Signer, type SignerState } from '../../src/gate/punch/signer.js';
import { provisionSoftHsmToken, type ProvisionedToken } from '../../src/gate/punch/token-provision.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { FaultyPkcs11, PIN, SO_PIN, tempTokenDir } from './helpers.js';

const tmp = tempTokenDir('faults');
let token: ProvisionedToken;
const message = headMessage('gate-07', 3, 'cd'.repeat(32));
const signers: Pkcs11Signer[] = [];

function faultySigner(pin = PIN): { signer: Pkcs11Signer; faults: FaultyPkcs11; states: Array<[SignerState, string | null]> } {
  const faults = new FaultyPkcs11(pkcs11Library(SOFTHSM_MODULE));
  const signer = new Pkcs11Signer({
    modulePath: SOFTHSM_MODULE,
    tokenLabel: token.tokenLabel,
    keyLabel: token.keyLabel,
    pin,
    mechanism: 'ecdsa-p256',
    pkcs11: faults.proxy,
  });
  const states: Array<[SignerState, string | null]> = [];
  signer.on('state', (state, err) => states.push([state, err?.code ?? null]));
  signers.push(signer);
  return { signer, faults, states };
}

beforeAll(async () => {
  token = await provisionSoftHsmToken({
    dir: tmp.dir, tokenLabel: 'gate-07', keyLabel: 'head-key', pin: PIN, soPin: SO_PIN, keyType: 'ec-p256', subjectCN: 'gate-07', validDays: 10,
  });
});

afterAll(async () => {
  for (const s of signers) await s.close();
  tmp.cleanup();
});

describe('wrong PIN', () => {
  it('goes to wrong_pin with token_wrong_pin, never logs in again by itself, and keeps the PIN out of the error', async () => {
    const { signer, faults, states } = faultySigner('999999');
    const err = (await signer.open().catch((e: unknown) => e)) as SitegateError;
    expect(err.code).toBe('token_wrong_pin');
    expect(signer.state).toBe('wrong_pin');
    expect(states).toEqual([['wrong_pin', 'token_wrong_pin']]);
    expect(faults.count('C_Login')).toBe(1);
    expect(JSON.stringify({ message: err.message, detail: err.detail })).not.toContain('999999');

    await expect(signer.reopen()).rejects.toMatchObject({ code: 'token_wrong_pin' });
    await expect(signer.open()).rejects.toMatchObject({ code: 'token_wrong_pin' });
    await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_wrong_pin' });
    expect(faults.count('C_Login')).toBe(1);
  });

  it('a locked PIN is a wrong_pin state too, with its own code', async () => {
    const { signer, faults } = faultySigner();
    faults.fail('C_Login', 'CKR_PIN_LOCKED');
    await expect(signer.open()).rejects.toMatchObject({ code: 'token_pin_locked' });
    expect(signer.state).toBe('wrong_pin');
    faults.heal('C_Login');
    await expect(signer.reopen()).rejects.toMatchObject({ code: 'token_pin_locked' });
    expect(faults.count('C_Login')).toBe(1);
  });

  it('the right PIN opens the token', async () => {
    const { signer, states } = faultySigner();
    await signer.open();
    expect(signer.state).toBe('ready');
    expect(states).toEqual([['ready', null]]);
  });
});

describe('token pulled while signing', () => {
  for (const name of ['CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT', 'CKR_SESSION_CLOSED', 'CKR_SESSION_HANDLE_INVALID', 'CKR_GENERAL_ERROR'] as const) {
    it(`${name} from C_Sign gives no_token and token_unavailable; after reopen it signs again`, async () => {
      const { signer, faults, states } = faultySigner();
      await signer.open();
      faults.fail('C_Sign', name);
      const err = (await signer.sign(message).catch((e: unknown) => e)) as SitegateError;
      expect(err.code).toBe('token_unavailable');
      expect(err.detail).toMatchObject({ pkcs11: name, fn: 'C_Sign', tokenLabel: 'gate-07' });
      expect(signer.state).toBe('no_token');
      expect(states.at(-1)).toEqual(['no_token', 'token_unavailable']);
      // While no_token, sign fails at once without touching the token.
      const signCalls = faults.count('C_Sign');
      await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_unavailable' });
      expect(faults.count('C_Sign')).toBe(signCalls);

      faults.heal('C_Sign');
      await signer.reopen();
      expect(signer.state).toBe('ready');
      expect(states.at(-1)).toEqual(['ready', null]);
      const sig = await signer.sign(message);
      expect(verifyHeadSignature(token.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(true);
    });
  }

  it('reopen while the token is still away keeps no_token', async () => {
    const { signer, faults } = faultySigner();
    await signer.open();
    faults.fail('C_Sign', 'CKR_DEVICE_REMOVED');
    await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_unavailable' });
    faults.fail('C_GetSlotList', 'CKR_DEVICE_REMOVED');
    await expect(signer.reopen()).rejects.toMatchObject({ code: 'token_unavailable' });
    expect(signer.state).toBe('no_token');
    faults.heal('C_GetSlotList');
    faults.fail('C_OpenSession', 'CKR_TOKEN_NOT_PRESENT');
    await expect(signer.reopen()).rejects.toMatchObject({ code: 'token_unavailable' });
    expect(signer.state).toBe('no_token');
    faults.heal('C_OpenSession');
    faults.heal('C_Sign');
    await signer.reopen();
    expect(signer.state).toBe('ready');
    expect(signer.certSha256()).toBe(token.certSha256);
  });

  it('an unexpected token error is a fault (token_fault) that reopen can clear', async () => {
    const { signer, faults } = faultySigner();
    await signer.open();
    faults.fail('C_SignInit', 'CKR_MECHANISM_INVALID');
    await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_fault', detail: { pkcs11: 'CKR_MECHANISM_INVALID' } });
    expect(signer.state).toBe('fault');
    faults.heal('C_SignInit');
    await signer.reopen();
    const sig = await signer.sign(message);
    expect(verifyHeadSignature(token.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(true);
  });

  it('a failing listener does not break signing', async () => {
    const { signer, faults } = faultySigner();
    signer.on('state', () => {
      throw new Error('listener bug');
    });
    await signer.open();
    faults.fail('C_Sign', 'CKR_DEVICE_REMOVED');
    await expect(signer.sign(message)).rejects.toMatchObject({ code: 'token_unavailable' });
  });
});
