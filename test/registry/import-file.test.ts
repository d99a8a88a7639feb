import { describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { parseImportFile } from '../../src/hub/registry/import-file.js';
import { decodeImportText } from '../../src/hub/registry/text-decode.js';
import { CSV_HEADER, csvRow, encodeGbk, ID_A, ID_B, ID_C, ID_D, withBadCheck } from './helpers.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const GOOD_CSV = [
  CSV_HEADER,
  csvRow({}),
  csvRow({ 姓名: '李四', 性别: '女', 身份证号: ID_B, 有效期限: '2020.05.01-长期', 工种: '电工', 证书名称: '特种作业操作证', 证书工种: '电工', 证书编号: 'T310101199003071234', 证书有效期至: '2027/06/30' }),
  csvRow({ 姓名: '王五', 性别: '', 身份证号: ID_C, 人员类型: '班组长', 手机号: '' }),
].join('\r\n');

describe('import files: good rows', () => {
  it('reads a UTF-8 CSV with Chinese headers into worker records', () => {
    const p = parseImportFile(utf8(GOOD_CSV), 'workers.csv');
    expect(p).toMatchObject({ format: 'csv', encoding: 'utf-8', errors: [], ignoredColumns: [] });
    expect(p.rows.map((r) => r.row)).toEqual([2, 3, 4]);
    const [a, b, c] = p.rows.map((r) => r.input);
    expect(a.identity).toMatchObject({ name: '张三', sex: 'male', nation: '汉', idType: '01', idNumber: ID_A, birthDate: '1990-03-07', idValidFrom: '2016-01-01', idValidTo: '2036-01-01' });
    expect(a.employment).toMatchObject({ employer: '上海建工一建集团有限公司', team: '钢筋一班', teamSysNo: 1001, projectCode: 'P-310101-0001', trade: '钢筋工', role: 'worker', phone: '13800138000' });
    expect(a.certificates).toEqual([]);
    expect(b.identity).toMatchObject({ sex: 'female', idValidTo: null, birthDate: '1985-11-20' });
    expect(b.certificates).toEqual([{ name: '特种作业操作证', trade: '电工', number: 'T310101199003071234', validTo: '2027-06-30' }]);
    expect(c.identity.sex).toBe('female'); // derived from ID_C's 17th digit (2)
    expect(c.identity.idNumber).toBe(ID_C);
    expect(c.employment.role).toBe('team_leader');
  });

  it('reads the same file saved with a UTF-8 BOM', () => {
    const p = parseImportFile(Buffer.concat([BOM, utf8(GOOD_CSV)]), 'workers.csv');
    expect(p.encoding).toBe('utf-8-bom');
    expect(p.rows.map((r) => r.input.identity.name)).toEqual(['张三', '李四', '王五']);
    expect(p.errors).toEqual([]);
  });

  it('detects a GBK CSV (a spreadsheet export) and converts it', () => {
    const p = parseImportFile(encodeGbk(GOOD_CSV), 'export.csv');
    expect(p.encoding).toBe('gbk');
    expect(p.errors).toEqual([]);
    expect(p.rows.map((r) => r.input.identity.name)).toEqual(['张三', '李四', '王五']);
    expect(p.rows[0].input.employment.team).toBe('钢筋一班');
  });

  it('takes GBK that happens to be valid UTF-8 as GBK when it reads as common Chinese', () => {
    const bytes = encodeGbk('微支');
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).not.toThrow();
    expect(decodeImportText(bytes)).toEqual({ text: '微支', encoding: 'gbk' });
    expect(decodeImportText(utf8('微支'))).toEqual({ text: '微支', encoding: 'utf-8' });
  });

  it('reads JSON lists of nested records and of flat rows, with or without BOM', () => {
    const nested = [{
      identity: { name: '赵六', idNumber: ID_D, idValidTo: '长期', nation: '汉' },
      employment: { employer: '某劳务公司', team: '木工班', teamSysNo: 7, projectCode: 'P1', trade: '木工' },
      certificates: [{ name: '岗位证书', trade: '木工', number: 'C-1', validTo: '2030-01-01' }],
      history: { education: [{ level: '高中' }] },
    }];
    const flat = { workers: [{ 姓名: '张三', 身份证号: ID_A, 有效期限: '2016.01.01-2036.01.01', 所属单位: 'X', 班组: 'T', 班组编号: 3, 项目编码: 'P1', 工种: '普工' }] };
    const a = parseImportFile(Buffer.concat([BOM, utf8(JSON.stringify(nested))]), 'w.json');
    expect(a).toMatchObject({ format: 'json', encoding: 'utf-8-bom', errors: [] });
    expect(a.rows[0].input.identity).toMatchObject({ idValidTo: null, sex: 'male', birthDate: '1998-06-15' });
    expect(a.rows[0].input.history?.education).toEqual([{ level: '高中' }]);
    const b = parseImportFile(utf8(JSON.stringify(flat)), 'w.json');
    expect(b.errors).toEqual([]);
    expect(b.rows[0].input.identity).toMatchObject({ name: '张三', idValidFrom: '2016-01-01', idValidTo: '2036-01-01' });
    expect(b.rows[0].input.employment.teamSysNo).toBe(3);
  });

  it('accepts other spellings of dates and headers with required markers', () => {
    const csv = ['姓名*,身份证号（必填）,有效期止,所属单位,班组,班组编号,项目编码,工种,出生日期,备注', `张三,${ID_A},2036年1月1日,X,T,1,P,普工,19900307,随便`].join('\n');
    const p = parseImportFile(utf8(csv), 'x.csv');
    expect(p.errors).toEqual([]);
    expect(p.rows[0].input.identity).toMatchObject({ idValidTo: '2036-01-01', birthDate: '1990-03-07' });
    expect(p.ignoredColumns).toEqual(['备注']);
  });
});

describe('import files: bad and mixed rows name the row and the field', () => {
  const MIXED = [
    CSV_HEADER,
    csvRow({}), // row 2: good
    csvRow({ 姓名: '坏校验', 性别: '女', 身份证号: withBadCheck(ID_B) }), // row 3
    csvRow({ 姓名: '坏日期', 性别: '女', 身份证号: ID_C, 有效期限: '2016.01.01-2026.02.30' }), // row 4
    csvRow({ 姓名: '坏性别', 身份证号: ID_D, 性别: '未知' }), // row 5
    csvRow({ 姓名: '缺班组', 身份证号: ID_B, 班组: '' }), // row 6
    csvRow({ 姓名: '重复', 身份证号: ID_A }), // row 7: same ID as row 2
    csvRow({ 姓名: '证书', 性别: '女', 身份证号: ID_C, 工种: '电工', 证书名称: '特种作业操作证', 证书工种: '电工' }), // row 8: certificate without number and validity
    csvRow({ 姓名: '性别不符', 身份证号: ID_D, 性别: '女' }), // row 9
    csvRow({ 姓名: '班组编号', 身份证号: ID_D, 班组编号: 'abc' }), // row 10
  ].join('\n');

  it('keeps the good row and reports every bad one with row, column and reason', () => {
    const p = parseImportFile(utf8(MIXED), 'mixed.csv');
    expect(p.rows.map((r) => [r.row, r.input.identity.name])).toEqual([[2, '张三']]);
    const errs = p.errors.map((e) => `${e.row} ${e.field}: ${e.message}`);
    expect(errs).toEqual([
      `3 身份证号 (identity.idNumber): check digit is ${withBadCheck(ID_B)[17]}, expected ${ID_B[17]}`,
      expect.stringMatching(/^4 有效期限 \(identity\.idValidTo\): must be a date/),
      expect.stringMatching(/^5 性别 \(identity\.sex\): must be 男\/女/),
      '6 班组 (employment.team): required',
      '7 identity.idNumber: same ID number as row 2',
      '8 证书编号 (certificates.0.number): required',
      '8 证书有效期至 (certificates.0.validTo): required',
      '9 性别 (identity.sex): differs from the ID number (男)',
      expect.stringMatching(/^10 班组编号 \(employment\.teamSysNo\): must be a number/),
    ]);
    expect(p.errors.find((e) => e.row === 3)?.name).toBe('坏校验');
    expect(JSON.stringify(p.errors)).not.toContain(withBadCheck(ID_B));
  });

  it('reports the same rows the same way from a GBK file', () => {
    const p = parseImportFile(encodeGbk(MIXED), 'mixed.csv');
    expect(p.encoding).toBe('gbk');
    expect(p.rows.map((r) => r.row)).toEqual([2]);
    expect(p.errors.map((e) => e.row)).toEqual([3, 4, 5, 6, 7, 8, 8, 9, 10]);
  });

  it('numbers rows as a spreadsheet does: quoted line breaks stay in one row, blank rows count', () => {
    const csv = [CSV_HEADER, csvRow({ 住址: '上海市\n黄浦区 "一号"' }), '', csvRow({ 身份证号: withBadCheck(ID_C), 性别: '女' })].join('\r\n');
    const p = parseImportFile(utf8(csv), 'x.csv');
    expect(p.rows.map((r) => [r.row, r.input.identity.address])).toEqual([[2, '上海市\n黄浦区 "一号"']]);
    expect(p.errors.map((e) => [e.row, e.field])).toEqual([[4, '身份证号 (identity.idNumber)']]);
  });

  it('reads a UTF-16LE tab-separated "Unicode text" export', () => {
    const text = [CSV_HEADER.replaceAll(',', '\t'), csvRow({}).replaceAll(',', '\t')].join('\r\n');
    const p = parseImportFile(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'x.txt');
    expect(p).toMatchObject({ format: 'csv', encoding: 'utf-16le', errors: [] });
    expect(p.rows[0].input.employment.team).toBe('钢筋一班');
  });

  it('reads a tab-separated export', () => {
    const csv = [CSV_HEADER.replaceAll(',', '\t'), csvRow({}).replaceAll(',', '\t')].join('\n');
    const p = parseImportFile(utf8(csv), 'x.csv');
    expect(p.errors).toEqual([]);
    expect(p.rows[0].input.identity.name).toBe('张三');
  });

  it('refuses a malformed validity period and a row with more cells than the header', () => {
    const csv = [CSV_HEADER, csvRow({ 有效期限: '2016-2036' }), `${csvRow({ 身份证号: ID_B })},extra`].join('\n');
    const p = parseImportFile(utf8(csv), 'x.csv');
    expect(p.rows).toEqual([]);
    expect(p.errors).toEqual([
      { row: 2, field: '有效期限 (identity.idValidTo)', message: 'must be a period like 2016.01.01-2036.01.01 or 2020.05.01-长期', name: '张三' },
      { row: 3, field: '(row)', message: `has ${CSV_HEADER.split(',').length + 1} cells, the header has ${CSV_HEADER.split(',').length} (a comma inside an unquoted cell?)`, name: '张三' },
    ]);
  });

  it('names JSON fields by their path, unknown keys included', () => {
    const doc = [
      { identity: { name: 'A', idNumber: ID_A, idValidTo: '2030-13-01' }, employment: { employer: 'X', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 'x', role: 'boss' } },
      { identity: { name: 'B', idNumber: ID_B, idValidTo: null, idType: '05' }, employment: { employer: 'X', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 'x' }, shoeSize: 42 },
      { identity: { name: 'C', idNumber: 'E12345678', idType: '护照', idValidTo: '2030-01-01' }, employment: { employer: 'X', team: 'T', teamSysNo: 1, projectCode: 'P', trade: 'x' } },
    ];
    const p = parseImportFile(utf8(JSON.stringify(doc)), 'w.json');
    expect(p.rows.map((r) => [r.row, r.input.identity.idType])).toEqual([[3, '05']]);
    expect(p.errors.map((e) => `${e.row} ${e.field}`)).toEqual(['1 identity.idValidTo', '1 employment.role', '2 (row)']);
    expect(p.errors[2].message).toBe('unknown field(s): shoeSize');
  });

  it('refuses a file it cannot use at all with a clear error', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as SitegateError).code;
      }
      return 'no error';
    };
    expect(code(() => parseImportFile(utf8('foo,bar\n1,2'), 'x.csv'))).toBe('import_no_columns');
    expect(code(() => parseImportFile(utf8('[{"a":'), 'x.json'))).toBe('import_json');
    expect(code(() => parseImportFile(utf8('{"people": []}'), 'x.json'))).toBe('import_json');
    expect(code(() => parseImportFile(utf8('姓名,身份证号,姓名\n'), 'x.csv'))).toBe('import_duplicate_column');
    expect(code(() => parseImportFile(utf8(`姓名,身份证号\n"张三,${ID_A}\n`), 'x.csv'))).toBe('csv_unclosed_quote');
    expect(code(() => parseImportFile(Buffer.from([0x81, 0x20, 0xff, 0xff]), 'x.csv'))).toBe('import_encoding');
  });
});
