import { idNumberFrom } from '../../src/core/id-number.js';

let gbkTable: Map<string, number[]> | null = null;

/** GBK bytes of a text, by inverting Node's GBK decoder (no encoder ships with Node). */
export function encodeGbk(text: string): Buffer {
  if (!gbkTable) {
    gbkTable = new Map();
    const dec = new TextDecoder('gbk');
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        const ch = dec.decode(Uint8Array.of(lead, trail));
        if (ch.length === 1 && ch !== '\ufffd' && !gbkTable.has(ch)) gbkTable.set(ch, [lead, trail]);
      }
    }
  }
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else {
      const b = gbkTable.get(ch);
      if (!b) throw new Error(`no GBK code for ${ch}`);
      out.push(...b);
    }
  }
  return Buffer.from(out);
}

export const ID_A = idNumberFrom('31010119900307123'); // 男 (7 is odd), born 1990-03-07
export const ID_B = idNumberFrom('31011519851120242'); // 女 (4 is even), born 1985-11-20
export const ID_C = idNumberFrom('11010519491231002'); // 11010519491231002X
export const ID_D = idNumberFrom('32058319980615351');

/** The same ID with a wrong check character. */
export function withBadCheck(id: string): string {
  const wrong = id[17] === '0' ? '1' : '0';
  return id.slice(0, 17) + wrong;
}

export const CSV_HEADER = '姓名,性别,民族,身份证号,签发机关,有效期限,住址,所属单位,班组,班组编号,项目编码,工种,人员类型,手机号,证书名称,证书工种,证书编号,证书有效期至';

export function csvRow(cells: Record<string, string>): string {
  const d: Record<string, string> = {
    姓名: '张三', 性别: '男', 民族: '汉', 身份证号: ID_A, 签发机关: '上海市公安局黄浦分局', 有效期限: '2016.01.01-2036.01.01',
    住址: '上海市黄浦区中山东一路1号', 所属单位: '上海建工一建集团有限公司', 班组: '钢筋一班', 班组编号: '1001', 项目编码: 'P-310101-0001',
    工种: '钢筋工', 人员类型: '建筑工人', 手机号: '13800138000', 证书名称: '', 证书工种: '', 证书编号: '', 证书有效期至: '',
    ...cells,
  };
  return CSV_HEADER.split(',').map((h) => (/[",\n]/.test(d[h]) ? `"${d[h].replace(/"/g, '""')}"` : d[h])).join(',');
}
