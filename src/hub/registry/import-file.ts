import { extname } from 'node:path';
import type { z } from 'zod';
import { SitegateError } from '../../core/errors.js';
import { parseCsv } from './csv.js';
import { splitValidityPeriod } from './field-values.js';
import { decodeImportText, type TextEncodingName } from './text-decode.js';
import { workerInputSchema, type WorkerInput } from './worker-record.js';

/** A row that failed validation: which row, which field, and what was wrong. */
export interface RowError {
  /** CSV: the spreadsheet row (the header is row 1); JSON: the 1-based position in the list */
  row: number;
  /** the column as the file names it, with the record field in brackets, e.g. `身份证号 (identity.idNumber)` */
  field: string;
  message: string;
  /** the row's name cell, so the operator finds the person (never the ID number) */
  name?: string;
}

export interface ImportRow {
  row: number;
  input: WorkerInput;
}

export interface ParsedImport {
  format: 'csv' | 'json';
  encoding: TextEncodingName;
  rows: ImportRow[];
  errors: RowError[];
  /** header cells that map to no field */
  ignoredColumns: string[];
}

type Target = { path: (string | number)[] } | { split: 'idValidity' };

const COLUMNS: { target: Target; names: string[] }[] = [
  { target: { path: ['workerId'] }, names: ['workerId', '人员编号', '工号'] },
  { target: { path: ['identity', 'name'] }, names: ['name', '姓名'] },
  { target: { path: ['identity', 'sex'] }, names: ['sex', '性别'] },
  { target: { path: ['identity', 'nation'] }, names: ['nation', '民族'] },
  { target: { path: ['identity', 'birthDate'] }, names: ['birthDate', '出生日期'] },
  { target: { path: ['identity', 'idType'] }, names: ['idType', '证件类型'] },
  { target: { path: ['identity', 'idNumber'] }, names: ['idNumber', '身份证号', '身份证号码', '证件号码', '证件号'] },
  { target: { path: ['identity', 'issuingAuthority'] }, names: ['issuingAuthority', '签发机关'] },
  { target: { path: ['identity', 'idValidFrom'] }, names: ['idValidFrom', '有效期起', '有效期开始', '证件有效期起'] },
  { target: { path: ['identity', 'idValidTo'] }, names: ['idValidTo', '有效期止', '有效期至', '有效期截止', '证件有效期止', '证件有效期至'] },
  { target: { split: 'idValidity' }, names: ['idValidity', '有效期限', '证件有效期'] },
  { target: { path: ['identity', 'address'] }, names: ['address', '住址', '地址'] },
  { target: { path: ['identity', 'photoRef'] }, names: ['photoRef', '照片'] },
  { target: { path: ['employment', 'employer'] }, names: ['employer', '所属单位', '所属企业', '参建单位', '企业名称'] },
  { target: { path: ['employment', 'employerCode'] }, names: ['employerCode', '统一社会信用代码'] },
  { target: { path: ['employment', 'team'] }, names: ['team', '班组', '班组名称'] },
  { target: { path: ['employment', 'teamSysNo'] }, names: ['teamSysNo', '班组编号'] },
  { target: { path: ['employment', 'projectCode'] }, names: ['projectCode', '项目编码', '项目编号'] },
  { target: { path: ['employment', 'trade'] }, names: ['trade', '工种'] },
  { target: { path: ['employment', 'role'] }, names: ['role', '人员类型', '角色', '工人类型'] },
  { target: { path: ['employment', 'phone'] }, names: ['phone', '手机号', '手机号码', '联系电话'] },
  { target: { path: ['certificates', 0, 'name'] }, names: ['certName', '证书名称'] },
  { target: { path: ['certificates', 0, 'trade'] }, names: ['certTrade', '证书工种', '作业类别'] },
  { target: { path: ['certificates', 0, 'level'] }, names: ['certLevel', '证书等级'] },
  { target: { path: ['certificates', 0, 'number'] }, names: ['certNumber', '证书编号'] },
  { target: { path: ['certificates', 0, 'issueDate'] }, names: ['certIssueDate', '发证日期'] },
  { target: { path: ['certificates', 0, 'validTo'] }, names: ['certValidTo', '证书有效期至', '证书有效期'] },
  { target: { path: ['certificates', 0, 'issuingAuthority'] }, names: ['certAuthority', '发证机关'] },
];

/** 身份证号* and 身份证号（必填） name the same column as 身份证号. */
function headerKey(h: string): string {
  return h.replace(/[(（][^)）]*[)）]/g, '').replace(/[*\s]/g, '').toLowerCase();
}

const BY_HEADER = new Map<string, (typeof COLUMNS)[number]>();
for (const c of COLUMNS) for (const n of c.names) BY_HEADER.set(headerKey(n), c);

/** Reads an import file (CSV or JSON, by extension or content) and validates every row. */
export function parseImportFile(bytes: Uint8Array, fileName: string, opts: { encoding?: 'utf-8' | 'gbk' } = {}): ParsedImport {
  const { text, encoding } = decodeImportText(bytes, opts.encoding);
  const ext = extname(fileName).toLowerCase();
  const json = ext === '.json' || (ext !== '.csv' && /^\s*[[{]/.test(text));
  const parsed = json ? parseJsonRows(text) : parseCsvRows(text);
  dropDuplicates(parsed);
  return { format: json ? 'json' : 'csv', encoding, ...parsed };
}

type Parsed = Omit<ParsedImport, 'format' | 'encoding'>;

function parseCsvRows(text: string): Parsed {
  const records = parseCsv(text);
  if (!records.length) throw new SitegateError('import_empty', 'the file has no header row');
  const [header, ...data] = records;
  const columns: ({ target: Target; label: string } | null)[] = [];
  const seen = new Map<string, string>();
  const ignoredColumns: string[] = [];
  for (const cell of header.cells) {
    const col = BY_HEADER.get(headerKey(cell));
    if (!col) {
      if (cell.trim()) ignoredColumns.push(cell.trim());
      columns.push(null);
      continue;
    }
    const id = 'path' in col.target ? col.target.path.join('.') : col.target.split;
    if (seen.has(id)) throw new SitegateError('import_duplicate_column', `columns "${seen.get(id)}" and "${cell.trim()}" both give ${id}`);
    seen.set(id, cell.trim());
    columns.push({ target: col.target, label: cell.trim() });
  }
  if (!seen.has('identity.idNumber') || !seen.has('identity.name')) {
    throw new SitegateError('import_no_columns', `the header row has no 姓名 (name) and 身份证号 (idNumber) columns; found: ${header.cells.map((c) => c.trim()).join(', ')}`);
  }
  const labels = new Map<string, string>();
  for (const c of columns) if (c) labels.set('path' in c.target ? c.target.path.join('.') : 'identity.idValidTo', c.label);
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  for (const rec of data) {
    const obj: Record<string, unknown> = {};
    const rowErrors: RowError[] = [];
    columns.forEach((c, i) => {
      const v = rec.cells[i]?.trim() ?? '';
      if (!c || v === '') return;
      if ('split' in c.target) {
        const period = splitValidityPeriod(v);
        if (!period) rowErrors.push({ row: rec.row, field: `${c.label} (identity.idValidTo)`, message: 'must be a period like 2016.01.01-2036.01.01 or 2020.05.01-长期' });
        else {
          setPath(obj, ['identity', 'idValidFrom'], period.from);
          setPath(obj, ['identity', 'idValidTo'], period.to);
        }
        return;
      }
      setPath(obj, c.target.path, v);
    });
    if (rec.cells.length > columns.length && rec.cells.slice(columns.length).some((c) => c.trim())) {
      rowErrors.push({ row: rec.row, field: '(row)', message: `has ${rec.cells.length} cells, the header has ${columns.length} (a comma inside an unquoted cell?)` });
    }
    const name = (obj.identity as { name?: string } | undefined)?.name;
    if (rowErrors.length) {
      errors.push(...rowErrors.map((e) => ({ ...e, name })));
      continue;
    }
    validate(obj, rec.row, (path) => csvLabel(labels, path), rows, errors, name);
  }
  return { rows, errors, ignoredColumns };
}

function csvLabel(labels: Map<string, string>, path: PropertyKey[]): string {
  const key = path.map(String).join('.');
  const header = labels.get(key);
  return header ? `${header} (${key})` : key || '(row)';
}

function parseJsonRows(text: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SitegateError('import_json', `the file is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { workers?: unknown })?.workers;
  if (!Array.isArray(list)) throw new SitegateError('import_json', 'expected a JSON list of workers, or {"workers": [...]}');
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  list.forEach((item, i) => {
    const obj = item && typeof item === 'object' && !Array.isArray(item) && !('identity' in item) ? flatToNested(item as Record<string, unknown>) : item;
    const name = (obj as { identity?: { name?: unknown } } | null)?.identity?.name;
    validate(obj, i + 1, jsonLabel, rows, errors, typeof name === 'string' ? name : undefined);
  });
  return { rows, errors, ignoredColumns: [] };
}

/** A JSON row written with the CSV's flat keys ({"name": …, "idNumber": …}). */
function flatToNested(flat: Record<string, unknown>): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    const col = BY_HEADER.get(headerKey(k));
    if (!col) {
      obj[k] = v;
      continue;
    }
    if ('split' in col.target) {
      const period = typeof v === 'string' ? splitValidityPeriod(v) : null;
      setPath(obj, ['identity', 'idValidFrom'], period?.from ?? v);
      setPath(obj, ['identity', 'idValidTo'], period?.to ?? v);
    } else setPath(obj, col.target.path, v);
  }
  return obj;
}

function jsonLabel(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') || '(row)';
}

function validate(obj: unknown, row: number, label: (path: PropertyKey[]) => string, rows: ImportRow[], errors: RowError[], name?: string): void {
  const r = workerInputSchema.safeParse(obj);
  if (r.success) {
    rows.push({ row, input: r.data });
    return;
  }
  for (const issue of r.error.issues) errors.push({ row, field: label(issue.path), message: issueMessage(issue), name });
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return 'required';
  return issue.message;
}

function setPath(obj: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    if (cur[k] === undefined) cur[k] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[k] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

/** The same person twice in one file: the first row stands, later ones are reported. */
function dropDuplicates(p: Parsed): void {
  const byId = new Map<string, number>();
  const byWorkerId = new Map<string, number>();
  p.rows = p.rows.filter(({ row, input }) => {
    const key = `${input.identity.idType}:${input.identity.idNumber}`;
    const first = byId.get(key);
    if (first !== undefined) {
      p.errors.push({ row, field: 'identity.idNumber', message: `same ID number as row ${first}`, name: input.identity.name });
      return false;
    }
    if (input.workerId !== undefined) {
      const firstW = byWorkerId.get(input.workerId);
      if (firstW !== undefined) {
        p.errors.push({ row, field: 'workerId', message: `same workerId as row ${firstW}`, name: input.identity.name });
        return false;
      }
      byWorkerId.set(input.workerId, row);
    }
    byId.set(key, row);
    return true;
  });
  p.errors.sort((a, b) => a.row - b.row);
}
