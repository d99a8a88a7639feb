import { SitegateError } from '../../core/errors.js';

export interface CsvRecord {
  /** 1-based row as a spreadsheet numbers it (blank rows counted, a cell's line breaks not) */
  row: number;
  /** 1-based line of the record's first line in the file */
  line: number;
  cells: string[];
}

const MAX_CELL = 64 * 1024;

/**
 * RFC 4180 CSV: quoted cells with "" escapes and line breaks, CRLF or LF. The delimiter is the
 * one (comma, tab, semicolon) that appears most in the header line. Blank rows are skipped (but counted).
 */
export function parseCsv(text: string, delimiter = detectDelimiter(text)): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let row = 0;
  let i = 0;
  const endRecord = () => {
    cells.push(cell);
    row++;
    if (!(cells.length === 1 && cells[0].trim() === '')) records.push({ row, line: recordLine, cells });
    cells = [];
    cell = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      i++;
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
      i++;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      cell += ch;
      i++;
    }
    if (cell.length > MAX_CELL) throw new SitegateError('csv_cell_too_long', `line ${line}: a cell is longer than ${MAX_CELL} characters (an unclosed quote?)`);
  }
  if (quoted) throw new SitegateError('csv_unclosed_quote', `line ${recordLine}: a quoted cell is never closed`);
  if (cell !== '' || cells.length) endRecord();
  return records;
}

function detectDelimiter(text: string): string {
  const first = text.slice(0, Math.max(0, text.search(/\r|\n/)) || text.length);
  let best = ',';
  let bestCount = 0;
  for (const d of [',', '\t', ';']) {
    const n = first.split(d).length - 1;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}
