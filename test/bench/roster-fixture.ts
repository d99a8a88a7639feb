// A bench roster file in the format of src/gate/roster/roster-file.ts: `workers` workers, each
// with an HMAC'd Wiegand card and one face template (base64, as the gate's roster carries it).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { credentialHmac } from '../../dist/core/credential.js';
import { encodeTemplate } from '../../dist/gate/face/face-templates.js';

/** `template(i, out)` fills worker i's 128 values into `out` (reused between workers). */
export function writeBenchRoster(path: string, opts: { workers: number; siteId: string; template: (i: number, out: Float32Array) => void }): void {
  const siteKey = randomBytes(32);
  const workers: unknown[] = [];
  const v = new Float32Array(128);
  for (let i = 0; i < opts.workers; i++) {
    opts.template(i, v);
    workers.push({
      workerId: `W${String(i).padStart(6, '0')}`,
      name: `工人${i}`,
      status: 'entered',
      idValidTo: null,
      credentials: [{ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', String(1_000_000 + i)) }],
      faceTemplates: [encodeTemplate(v)],
    });
  }
  writeFileSync(path, JSON.stringify({ version: 1, siteId: opts.siteId, siteKey: siteKey.toString('hex'), workers }));
}
