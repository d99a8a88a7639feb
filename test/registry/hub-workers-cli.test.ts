import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_HEADER, csvRow, encodeGbk, ID_A, ID_B, ID_C, withBadCheck } from './helpers.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
let dir: string;
let config: string;

function sitegate(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'hub', 'workers', ...args, '-c', config], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

/** The exit code, with stderr in the failure message (a crash shows its stack). */
function expectExit(r: { status: number | null; stderr: string }, code: number) {
  expect({ status: r.status, stderr: r.status === code ? '' : r.stderr }).toEqual({ status: code, stderr: '' });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hub-workers-cli-'));
  config = join(dir, 'hub.yaml');
  writeFileSync(config, [
    'siteId: SITE01',
    `stateDir: ${join(dir, 'state')}`,
    `mqtt: { url: "mqtt://127.0.0.1:1883", passwordFile: ${join(dir, 'pw')} }`,
    `registry: { workersFile: ${join(dir, 'registry.json')} }`,
    `platform: { baseUrl: "http://127.0.0.1:9/api", appId: A, appSecretFile: ${join(dir, 'secret')} }`,
  ].join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One registry through a whole sequence of operator commands, as a technician would run them.
describe('sitegate hub workers', () => {
  it('imports a mixed GBK spreadsheet export: good rows in, bad rows named, exit 1', () => {
    const file = join(dir, 'export.csv');
    writeFileSync(file, encodeGbk([
      CSV_HEADER,
      csvRow({}),
      csvRow({ 姓名: '李四', 性别: '女', 身份证号: withBadCheck(ID_B) }),
      csvRow({ 姓名: '王五', 性别: '女', 身份证号: ID_C, 工种: '电工' }),
    ].join('\r\n')));
    const r = sitegate('import', file, '--json');
    expectExit(r, 1);
    const out = r.json();
    expect(out).toMatchObject({ format: 'csv', encoding: 'gbk', version: 2, added: [{ row: 2, workerId: 'W000001' }, { row: 4, workerId: 'W000002' }] });
    expect(out.rejected).toEqual([{ row: 3, field: '身份证号 (identity.idNumber)', message: expect.stringMatching(/^check digit is/), name: '李四' }]);
  });

  it('imports a clean UTF-8 file with a BOM and exits 0; text output names each row', () => {
    const file = join(dir, 'more.csv');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([CSV_HEADER, csvRow({ 姓名: '李四', 性别: '女', 身份证号: ID_B })].join('\n'))]));
    const r = sitegate('import', file);
    expectExit(r, 0);
    expect(r.stdout).toContain('CSV, utf-8-bom; registry version 3');
    expect(r.stdout).toContain('row 2: added W000003');
  });

  it('lists with masked ID numbers unless asked to reveal them', () => {
    const r = sitegate('list', '--json');
    expectExit(r, 0);
    expect(r.json().workers.map((w: { workerId: string; idNumber: string }) => [w.workerId, w.idNumber])).toEqual([
      ['W000001', `${ID_A.slice(0, 4)}**********${ID_A.slice(-4)}`],
      ['W000002', `${ID_C.slice(0, 4)}**********${ID_C.slice(-4)}`],
      ['W000003', `${ID_B.slice(0, 4)}**********${ID_B.slice(-4)}`],
    ]);
    expect(sitegate('list', '--reveal').stdout).toContain(ID_A);
    expect(sitegate('list').stdout).not.toContain(ID_A);
  });

  it('enters, binds a card, blocks and shows a worker; refusals exit 1', () => {
    expectExit(sitegate('enter', ID_A, '--date', '2026-11-20'), 0);
    expectExit(sitegate('bind-card', 'W000001', '04:A1:B2:C3'), 0);
    const taken = sitegate('bind-card', 'W000002', '04a1b2c3');
    expectExit(taken, 1);
    expect(taken.stderr).toContain('already bound to W000001');
    expectExit(sitegate('block', 'W000002', '--reason', '冒用身份'), 0);
    const refused = sitegate('enter', 'W000002', '--json');
    expectExit(refused, 1);
    expect(refused.json()).toMatchObject({ ok: false, code: 'worker_blocked' });
    const shown = sitegate('show', 'W000001', '--json').json();
    expect(shown.site).toMatchObject({ status: 'entered', enteredOn: '2026-11-20' });
    expect(shown.credentials.cards.map((c: { number: string }) => c.number)).toEqual(['04A1B2C3']);
    expect(sitegate('show', 'W000002').stdout).toMatch(/W000002 +王五 +\(blacklisted: 冒用身份\)/);
  });

  it('enrols a face from a photo file: the face pipeline makes the template at once', () => {
    const r = sitegate('enrol-face', 'W000001', join(import.meta.dirname, '../../../shared/faces/people/obama/1.jpg'), '--json');
    expectExit(r, 0);
    const out = r.json();
    expect(out).toMatchObject({ ok: true, workerId: 'W000001', faceId: 'W000001-F1', state: 'ready' });
    expect(existsSync(join(dir, 'state', out.photoRef))).toBe(true);
    expect(sitegate('show', 'W000001').stdout).toMatch(/face +W000001-F1 ready from photos\/W000001\//);
  });

  it('refuses a photo the pipeline cannot use, with the reason, exit 1, nothing stored', () => {
    const photo = join(dir, 'face.jpg');
    writeFileSync(photo, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]));
    const r = sitegate('enrol-face', 'W000002', photo, '--json');
    expectExit({ ...r, stderr: '' }, 1);
    expect(r.json()).toMatchObject({ ok: false, code: 'face_unreadable', reason: 'unreadable' });
    expect(r.stderr).toContain('nothing was stored');
    const group = sitegate('enrol-face', 'W000002', join(import.meta.dirname, '../../node_modules/@vladmandic/face-api/demo/sample1.jpg'));
    expect(group.status).toBe(1);
    expect(group.stderr).toMatch(/several_faces\): the photo shows \d faces; enrolment needs exactly one/);
    expect(sitegate('show', 'W000002', '--json').json().credentials.faces).toEqual([]);
  });

  it('--pending with nothing pending says so; wrong combinations are usage errors', () => {
    const r = sitegate('enrol-face', '--pending');
    expectExit(r, 0);
    expect(r.stdout).toContain('no face enrolment is pending');
    expectExit({ ...sitegate('enrol-face', 'W000001'), stderr: '' }, 2);
    expectExit({ ...sitegate('enrol-face', 'W000001', 'x.jpg', '--from-gate', 'G1'), stderr: '' }, 2);
    expectExit({ ...sitegate('enrol-face', 'W000001', '--from-gate', 'G1', '--timeout', '0'), stderr: '' }, 2);
  });

  it('exits 2 on usage and config problems', () => {
    expectExit(sitegate('block', 'W000001'), 2);
    expectExit(sitegate('enter', 'W000003', '--date', '2026-02-30'), 2);
    expectExit(sitegate('import', join(dir, 'missing.csv')), 2);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'foo,bar\n1,2\n');
    const r = sitegate('import', bad);
    expectExit(r, 2);
    expect(r.stderr).toContain('no 姓名 (name) and 身份证号 (idNumber) columns');
    const noConfig = spawnSync(process.execPath, [CLI, 'hub', 'workers', 'list', '-c', join(dir, 'nope.yaml')], { encoding: 'utf8' });
    expectExit(noConfig, 2);
  });
});
