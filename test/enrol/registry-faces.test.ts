import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { parseImportFile } from '../../src/hub/registry/import-file.js';
import { RegistryStore } from '../../src/hub/registry/registry-store.js';
import { CSV_HEADER, csvRow } from '../registry/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'registry-faces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry: face enrolments and capture requests', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 2));
  const store = new RegistryStore(join(dir, 'r.db'), clock);
  store.importRows(parseImportFile(Buffer.from([CSV_HEADER, csvRow({})].join('\n')), 'w.csv').rows);
  const photo = (n: number) => ({ photoRef: `photos/W000001/${n}.jpg`, photoSha256: String(n).repeat(64).slice(0, 64) });
  const ready = { template: Buffer.from([1, 2, 3]), modelId: 'm@1' };

  it('a photo with its template is one ready enrolment in one version; the same again changes nothing', () => {
    const v = store.version();
    expect(store.enrolFace('W000001', photo(1), ready).face).toMatchObject({ faceId: 'W000001-F1', state: 'ready', template: 'AQID', modelId: 'm@1' });
    expect(store.version()).toBe(v + 1);
    store.enrolFace('W000001', photo(1), ready);
    expect(store.version()).toBe(v + 1);
  });

  it('a pending photo given its template later becomes ready; face ids are never reused', () => {
    store.enrolFace('W000001', photo(2));
    expect(store.pendingFaces().map((p) => p.faceId)).toEqual(['W000001-F2']);
    expect(store.enrolFace('W000001', photo(2), ready).face).toMatchObject({ faceId: 'W000001-F2', state: 'ready' });
    expect(store.get('W000001')!.credentials.faces).toHaveLength(2);
    expect(store.pendingFaces()).toEqual([]);
  });

  it('keeps capture requests until they end, with how they ended', () => {
    store.requestFaceCapture('W000001', 'G1', 'enrol-1', clock.now() + 30_000);
    expect(store.faceCaptureRequest('enrol-1')).toMatchObject({ workerId: 'W000001', gateId: 'G1', state: 'waiting', code: null });
    store.closeFaceCapture('enrol-1', { code: 'stored', message: 'ok', faceId: 'W000001-F3' });
    expect(store.faceCaptureRequest('enrol-1')).toMatchObject({ state: 'done', code: 'stored', faceId: 'W000001-F3' });
    expect(store.faceCaptureRequest('nope')).toBeNull();
    expect(() => store.requestFaceCapture('W999999', 'G1', 'enrol-2', 0)).toThrow(/no worker/);
  });
});
