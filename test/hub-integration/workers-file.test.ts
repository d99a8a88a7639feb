import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { importWorkersFileOnce } from '../../src/hub/registry-file.js';
import { RegistryStore } from '../../src/hub/registry/registry-store.js';

const ID = '11010519491231002X';

describe('the workers file imported into the registry at the hub\'s start', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  function setup() {
    const dir = mkdtempSync(join(tmpdir(), 'workers-file-'));
    dirs.push(dir);
    return { dir, registry: new RegistryStore(join(dir, 'registry.db'), new ManualClock()), clock: new ManualClock() };
  }

  it('takes the older { workers } list, reports the rows it cannot take, and imports the same content only once', () => {
    const { dir, registry, clock } = setup();
    const file = join(dir, 'registry.json');
    writeFileSync(file, JSON.stringify({ workers: [
      { workerId: 'W1', name: '王伟', idNumber: ID, projectCode: 'P1', teamSysNo: 7 },
      { workerId: 'W2', name: '李娜', idNumber: '110105194912310021', projectCode: 'P1', teamSysNo: 7 },
      { workerId: 'W3', name: '张三', idNumber: 'not-an-id', projectCode: 'P1', teamSysNo: 7 },
    ] }));
    const first = importWorkersFileOnce(registry, file, clock);
    expect(first).toMatchObject({ imported: true, format: 'legacy-json', added: 1 });
    expect(first.rejected.map((r) => [r.row, r.field])).toEqual([[2, 'identity.idNumber'], [3, 'idNumber']]);
    expect(registry.registryWorker('W1')).toEqual({ workerId: 'W1', name: '王伟', idCardType: '01', idNumber: ID, projectCode: 'P1', teamSysNo: 7 });
    expect(registry.get('W1')?.identity.idValidTo).toBeNull();

    registry.enter('W1');
    const version = registry.version();
    expect(importWorkersFileOnce(registry, file, clock)).toMatchObject({ imported: false });
    expect(registry.version()).toBe(version);
    expect(registry.get('W1')?.site.status).toBe('entered');
    registry.close();
  });

  it('takes a CSV as `sitegate hub workers import` does', () => {
    const { dir, registry, clock } = setup();
    const file = join(dir, 'workers.csv');
    writeFileSync(file, `姓名,身份证号,有效期止,所属单位,班组,班组编号,项目编码,工种\n王伟,${ID},长期,某建设公司,钢筋班,12,P-1,钢筋工\n`);
    expect(importWorkersFileOnce(registry, file, clock)).toMatchObject({ imported: true, format: 'csv', added: 1, rejected: [] });
    expect(registry.find(ID)?.employment).toMatchObject({ team: '钢筋班', teamSysNo: 12, trade: '钢筋工' });
    registry.close();
  });

  it('names the file when it cannot be read', () => {
    const { dir, registry, clock } = setup();
    expect(() => importWorkersFileOnce(registry, join(dir, 'absent.json'), clock)).toThrow(/absent\.json.*ENOENT/);
    registry.close();
  });
});
