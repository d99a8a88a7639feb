import { describe, expect, it } from 'vitest';
import { NATIONS, nationName } from '../../src/gate/hw/idcard-nations.js';
import { decodeIdText, splitIdText, TEXT_BYTES } from '../../src/gate/hw/idcard-text.js';
import { encodeIdText, sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';

const ID = '11010519491231002X';

describe('resident ID card text block', () => {
  it('encodes 256 bytes of UCS-2LE with each field space-padded to its width', () => {
    const block = encodeIdText(sampleCard());
    expect(block.length).toBe(TEXT_BYTES);
    expect(block.subarray(0, 6)).toEqual(Buffer.from('张三 ', 'utf16le'));
    expect(block.subarray(28, 30)).toEqual(Buffer.from(' ', 'utf16le')); // end of the 30-byte name
    expect(block.subarray(30, 32)).toEqual(Buffer.from('1', 'utf16le'));
    expect(block.subarray(122, 158).toString('utf16le')).toBe(ID);
    expect(block.subarray(204, 220).toString('utf16le')).toBe('长期      ');
  });

  it('decodes every field of a card valid for the long term (长期 → null)', () => {
    expect(decodeIdText(encodeIdText(sampleCard()))).toEqual({
      ok: true,
      card: {
        name: '张三',
        sex: 'male',
        nationCode: '01',
        nation: '汉',
        birthDate: '1949-12-31',
        address: '北京市东城区景山前街4号',
        idNumber: ID,
        authority: '北京市公安局东城分局',
        validFrom: '2016-01-01',
        validTo: null,
      },
    });
  });

  it('decodes a dated validity end, a full-width name and address, and other sexes and nations', () => {
    const card = sampleCard({
      name: '欧阳娜娜娜娜娜娜娜娜娜娜娜娜娜',
      sex: '2',
      nation: '05',
      address: '上海市浦东新区世纪大道1号'.padEnd(35, '一'),
      validFrom: '20200229',
      validTo: '20400229',
    });
    const r = decodeIdText(encodeIdText(card));
    expect(r.ok && r.card).toMatchObject({
      name: card.name,
      sex: 'female',
      nation: '维吾尔',
      address: card.address,
      validFrom: '2020-02-29',
      validTo: '2040-02-29',
    });
    for (const [code, sex] of [['0', 'unknown'], ['9', 'unspecified']] as const) {
      const d = decodeIdText(encodeIdText(sampleCard({ sex: code })));
      expect(d.ok && d.card.sex).toBe(sex);
    }
  });

  it('trims NUL padding as well as spaces', () => {
    const block = encodeIdText(sampleCard());
    block.fill(0, 4, 30);
    expect(splitIdText(block).name).toBe('张三');
  });

  it('maps all 58 GB 3304 codes, and nothing else', () => {
    expect(Object.keys(NATIONS)).toHaveLength(58);
    expect(nationName('01')).toBe('汉');
    expect(nationName('56')).toBe('基诺');
    expect(nationName('98')).toBe('外国血统中国籍人士');
    expect(nationName('57')).toBeNull();
    expect(nationName('toString')).toBeNull();
  });

  const bad: [string, Parameters<typeof sampleCard>[0] | Buffer, string, RegExp][] = [
    ['a block of the wrong size', Buffer.alloc(200), 'bad_size', /200 bytes/],
    ['an empty name', { name: '' }, 'bad_name', /empty/],
    ['a sex code outside GB/T 2261.1', { sex: '3' }, 'bad_sex', /"3"/],
    ['a nation code outside GB 3304', { nation: '57' }, 'bad_nation', /"57"/],
    ['a birth date that is no date', { birth: '19491331' }, 'bad_date', /birth/],
    ['an ID number with a wrong check character', { idNumber: '110105194912310021' }, 'bad_id_number', /check character/],
    ['an ID number of the wrong shape', { idNumber: '1101051949123100' }, 'bad_id_number', /17 digits/],
    ['a birth date other than the ID number says', { birth: '19500101' }, 'birth_mismatch', /differs/],
    ['a valid-from that is no date', { validFrom: '2016' }, 'bad_date', /valid-from/],
    ['a valid-to that is neither a date nor 长期', { validTo: '短期' }, 'bad_date', /valid-to/],
  ];
  for (const [what, input, code, message] of bad) {
    it(`rejects ${what} without putting the ID number in the message`, () => {
      const block = Buffer.isBuffer(input) ? input : encodeIdText(sampleCard(input));
      const r = decodeIdText(block);
      expect(r).toMatchObject({ ok: false, code });
      expect(!r.ok && r.message).toMatch(message);
      expect(!r.ok && r.message).not.toContain('1101051949');
    });
  }

  it('refuses to encode a field longer than its width', () => {
    expect(() => encodeIdText(sampleCard({ name: '名'.repeat(16) }))).toThrow(/name/);
  });
});
