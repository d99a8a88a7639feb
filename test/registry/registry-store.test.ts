import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialHmac } from '../../src/core/credential.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { decide } from '../../src/core/rules.js';
import { storeEnrolmentPhoto } from '../../src/hub/registry/face-photos.js';
import { parseImportFile } from '../../src/hub/registry/import-file.js';
import { RegistryStore } from '../../src/hub/registry/registry-store.js';
import { CSV_HEADER, csvRow, ID_A, ID_B, ID_C, ID_D, withBadCheck } from './helpers.js';

let dir: string;
let clock: ManualClock;
let store: RegistryStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-'));
  clock = new ManualClock(Date.UTC(2026, 10, 21, 2, 0)); // 10:00 Shanghai, 2026-11-21
  store = new RegistryStore(join(dir, 'registry.db'), clock);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function importCsv(lines: string[]) {
  const parsed = parseImportFile(Buffer.from([CSV_HEADER, ...lines].join('\n')), 'w.csv');
  return { parsed, result: store.importRows(parsed.rows) };
}

const THREE = [
  csvRow({}),
  csvRow({ 姓名: '李四', 性别: '女', 身份证号: ID_B, 工种: '电工', 证书名称: '特种作业操作证', 证书工种: '电工', 证书编号: 'T-1', 证书有效期至: '2026-11-21' }),
  csvRow({ 姓名: '王五', 性别: '女', 身份证号: ID_C, 有效期限: '2010.01.01-长期' }),
];

describe('importing into the registry', () => {
  it('adds the good rows of a mixed file, one version each, and leaves the bad ones out entirely', () => {
    const { parsed, result } = importCsv([THREE[0], csvRow({ 姓名: '坏', 身份证号: withBadCheck(ID_D) }), THREE[1]]);
    expect(parsed.errors.map((e) => e.row)).toEqual([3]);
    expect(result.added).toEqual([{ row: 2, workerId: 'W000001' }, { row: 4, workerId: 'W000002' }]);
    expect(result.version).toBe(2);
    expect(store.count()).toBe(2);
    expect(store.find(withBadCheck(ID_D))).toBeNull();
    expect(store.get('W000002')?.certificates).toEqual([{ name: '特种作业操作证', trade: '电工', number: 'T-1', validTo: '2026-11-21' }]);
    expect(store.get('W000001')?.site).toMatchObject({ status: 'registered', enteredOn: null });
    expect(store.changesSince(0).map((c) => [c.version, c.workerId, c.action])).toEqual([[1, 'W000001', 'added'], [2, 'W000002', 'added']]);
  });

  it('re-importing the same file changes nothing and does not bump the version', () => {
    importCsv(THREE);
    const { result } = importCsv(THREE);
    expect(result.unchanged.map((u) => u.workerId)).toEqual(['W000001', 'W000002', 'W000003']);
    expect(result.version).toBe(3);
    expect(store.version()).toBe(3);
  });

  it('updates a known ID number in place, keeping site status, credentials and certificates the file lacks', () => {
    importCsv(THREE);
    store.enter('W000002');
    store.bindCard('W000002', 'card', '04a1b2c3');
    const { result } = importCsv([csvRow({ 姓名: '李四', 性别: '女', 身份证号: ID_B, 工种: '电工', 班组: '电工班' })]);
    expect(result.updated).toEqual([{ row: 2, workerId: 'W000002' }]);
    const w = store.get('W000002')!;
    expect(w.employment.team).toBe('电工班');
    expect(w.site.status).toBe('entered');
    expect(w.credentials.cards.map((c) => c.number)).toEqual(['04A1B2C3']);
    expect(w.certificates.map((c) => c.number)).toEqual(['T-1']);
    expect(store.changesSince(5).map((c) => c.action)).toEqual(['updated']);
  });

  it('refuses a row whose workerId belongs to someone else, and imports the rest', () => {
    importCsv(THREE);
    const doc = [
      { workerId: 'W000001', identity: { name: 'X', idNumber: ID_D, idValidTo: '长期' }, employment: { employer: 'E', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 't' } },
      { workerId: 'W000009', identity: { name: '李四', idNumber: ID_B, idValidTo: '长期' }, employment: { employer: 'E', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 't' } },
      { workerId: 'SUB-7', identity: { name: 'Y', idNumber: 'E12345678', idValidTo: '长期', idType: '05' }, employment: { employer: 'E', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 't' } },
    ];
    const parsed = parseImportFile(Buffer.from(JSON.stringify(doc)), 'w.json');
    const result = store.importRows(parsed.rows);
    expect(result.rejected).toEqual([
      { row: 1, field: 'workerId', message: 'W000001 is already used by another worker', name: 'X' },
      { row: 2, field: 'workerId', message: 'this ID number is already registered as W000002', name: '李四' },
    ]);
    expect(result.added).toEqual([{ row: 3, workerId: 'SUB-7' }]);
    expect(store.find(ID_D)).toBeNull();
  });

  it('writes nothing at all when the database fails in the middle of an import', () => {
    importCsv([THREE[0]]);
    store.db.exec(`CREATE TRIGGER boom BEFORE INSERT ON workers WHEN NEW.name = '王五' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
    expect(() => importCsv([THREE[1], THREE[2]])).toThrow(/disk trouble/);
    expect(store.count()).toBe(1);
    expect(store.version()).toBe(1);
    expect(store.find(ID_B)).toBeNull();
    expect(store.changesSince(0)).toHaveLength(1);
  });
});

describe('editing workers', () => {
  beforeEach(() => importCsv(THREE));

  it('enters and leaves on Shanghai days, refusing the wrong order', () => {
    expect(store.enter(ID_A).site).toMatchObject({ status: 'entered', enteredOn: '2026-11-21', leftOn: null });
    expect(() => store.enter('W000001')).toThrow(expect.objectContaining({ code: 'worker_state' }));
    expect(store.leave('W000001', '2026-11-30').site).toMatchObject({ status: 'left', leftOn: '2026-11-30' });
    expect(() => store.leave('W000001')).toThrow(expect.objectContaining({ code: 'worker_state' }));
    expect(() => store.enter('nobody')).toThrow(expect.objectContaining({ code: 'worker_not_found' }));
  });

  it('blocks with a reason, refuses entry while blocked, and restores the previous status when lifted', () => {
    store.enter('W000001');
    store.block('W000001', 'suspended', '未参加安全教育');
    expect(store.get('W000001')!.site).toMatchObject({ status: 'suspended', reason: '未参加安全教育', blockedOn: '2026-11-21' });
    store.block('W000001', 'blacklisted', '冒用他人身份');
    expect(() => store.enter('W000001')).toThrow(expect.objectContaining({ code: 'worker_blocked' }));
    expect(() => store.block('W000001', 'blacklisted', '  ')).toThrow(/reason/);
    expect(store.unblock('W000001').site).toMatchObject({ status: 'entered', reason: null, blockedOn: null });
  });

  it('binds cards in one spelling and refuses a card already bound to someone else', () => {
    const v = store.version();
    expect(store.bindCard('W000001', 'card', '04:a1:b2:c3').alreadyBound).toBe(false);
    expect(store.bindCard('W000001', 'card', '04A1B2C3').alreadyBound).toBe(true);
    expect(store.version()).toBe(v + 1);
    expect(() => store.bindCard('W000002', 'card', '04a1b2c3')).toThrow(expect.objectContaining({ code: 'credential_in_use', message: expect.stringContaining('W000001') }));
    store.bindCard('W000002', 'wiegand', '12,34567');
    expect(store.get('W000002')!.credentials.wiegand[0].number).toBe(String(12 * 65536 + 34567));
    expect(() => store.bindCard('W000002', 'card', 'xyz')).toThrow(expect.objectContaining({ code: 'credential_invalid' }));
  });

  it('enrols a face photo as a pending template and takes the face pipeline\'s answer', () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 1)]);
    const photo = storeEnrolmentPhoto(dir, 'W000001', jpeg);
    expect(readFileSync(join(dir, photo.photoRef))).toEqual(jpeg);
    const { face } = store.enrolFace('W000001', photo);
    expect(face).toMatchObject({ faceId: 'W000001-F1', state: 'pending', template: null });
    expect(store.enrolFace('W000001', photo).face.faceId).toBe('W000001-F1');
    expect(store.pendingFaces()).toEqual([{ workerId: 'W000001', faceId: 'W000001-F1', photoRef: photo.photoRef }]);
    store.setFaceTemplate('W000001', 'W000001-F1', { template: Buffer.from([1, 2, 3]), modelId: 'faceres@1' });
    expect(store.get('W000001')!.credentials.faces[0]).toMatchObject({ state: 'ready', template: 'AQID', modelId: 'faceres@1' });
    expect(store.pendingFaces()).toEqual([]);
    expect(() => storeEnrolmentPhoto(dir, 'W000001', Buffer.from('not an image'))).toThrow(expect.objectContaining({ code: 'photo_type' }));
  });
});

describe('what the gates get', () => {
  beforeEach(() => importCsv(THREE));

  it('derives roster workers with credentials as HMACs under the site key, never bare numbers', () => {
    store.enter('W000002');
    store.bindCard('W000002', 'card', '04A1B2C3');
    const key = store.siteKey();
    expect(key).toHaveLength(32);
    const r = store.rosterWorker('W000002')!;
    expect(r).toMatchObject({ workerId: 'W000002', name: '李四', status: 'entered', idValidTo: '2036-01-01', trade: '电工', certificates: [{ trade: '电工', validTo: '2026-11-21' }] });
    expect(r.credentials).toEqual([
      { kind: 'card', hmac: credentialHmac(key, 'card', '04A1B2C3') },
      { kind: 'idcard', hmac: credentialHmac(key, 'idcard', ID_B) },
    ]);
    expect(JSON.stringify(store.rosterSnapshot())).not.toContain(ID_B);
    expect(JSON.stringify(store.rosterSnapshot())).not.toContain('04A1B2C3');
  });

  it('feeds the rules: the electrician passes today and is refused tomorrow once the site lists 电工', () => {
    store.enter('W000002');
    store.setRules({ specialTrades: ['电工'] });
    const snap = store.rosterSnapshot();
    const li = snap.workers.find((w) => w.workerId === 'W000002')!;
    expect(decide(li, { nowMs: clock.now(), direction: 'in', rules: snap.rules }).reason).toBe('ok');
    expect(decide(li, { nowMs: Date.UTC(2026, 10, 21, 16), direction: 'in', rules: snap.rules }).reason).toBe('cert_expired');
    expect(decide(snap.workers.find((w) => w.workerId === 'W000001')!, { nowMs: clock.now(), direction: 'in', rules: snap.rules }).reason).toBe('not_entered');
  });

  it('records rules changes as versions and keeps the site key across restarts', () => {
    const key = store.siteKey();
    const v = store.setRules({ antiPassback: { policy: 'deny' } });
    expect(v).toBe(4);
    expect(store.changesSince(3)).toEqual([{ version: 4, atMs: clock.now(), subject: 'rules', workerId: null, action: 'rules' }]);
    store.close();
    store = new RegistryStore(join(dir, 'registry.db'), clock);
    expect(store.siteKey()).toEqual(key);
    expect(store.rules().antiPassback.policy).toBe('deny');
    expect(store.version()).toBe(4);
    expect(store.registryWorker('W000003')).toEqual({ workerId: 'W000003', name: '王五', idCardType: '01', idNumber: ID_C, projectCode: 'P-310101-0001', teamSysNo: 1001 });
  });
});
