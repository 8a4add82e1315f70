import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv, readCsv, readCsvHeader, type CsvRecord, type RowIssue } from '../src/data/csv.js';

/** Feeds `text` in chunks of `size` characters, so every state of the parser meets a chunk boundary. */
async function* chunks(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function parse(text: string, size = text.length || 1): Promise<{ records: CsvRecord[]; issues: string[] }> {
  const records: CsvRecord[] = [];
  const issues: string[] = [];
  for await (const record of parseCsv(chunks(text, size), (line, reason) => issues.push(`${line}: ${reason}`))) records.push(record);
  return { records, issues };
}

const dir = mkdtempSync(join(tmpdir(), 'face-llava-csv-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('parseCsv', () => {
  const tricky = '\uFEFFfile,label,note\r\na.jpg,happy,"say ""hi"", then go"\r\n"b,1.jpg",sad,"two\r\nlines"\r\n\r\nc.jpg,,\r\nd.jpg,angry,last';

  it.each([1, 2, 3, 7, 1000])('splits quoted, escaped, multi-line and empty fields the same in chunks of %i', async (size) => {
    const { records, issues } = await parse(tricky, size);
    expect(issues).toEqual([]);
    expect(records).toEqual([
      { fields: ['file', 'label', 'note'], line: 1 },
      { fields: ['a.jpg', 'happy', 'say "hi", then go'], line: 2 },
      { fields: ['b,1.jpg', 'sad', 'two\r\nlines'], line: 3 },
      // line 5 is blank and skipped
      { fields: ['c.jpg', '', ''], line: 6 },
      { fields: ['d.jpg', 'angry', 'last'], line: 7 },
    ]);
  });

  it('reads LF files and a final newline the same as CRLF ones', async () => {
    const { records } = await parse('a,b\n1,2\n');
    expect(records.map((r) => r.fields)).toEqual([['a', 'b'], ['1', '2']]);
  });

  it('reports a stray quote or text after a closing quote, skips that record, and goes on', async () => {
    const { records, issues } = await parse('a,b\nx"y,1\n"q"z,2\nok,3\n"open,4\n', 2);
    expect(issues).toEqual([
      '2: quote inside an unquoted field',
      '3: unexpected "z" after a closing quote',
      '5: quoted field not closed before the end of the file',
    ]);
    expect(records).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['ok', '3'], line: 4 },
    ]);
  });

  it('counts lines inside quoted fields, so later records keep their true line numbers', async () => {
    const { records } = await parse('h\n"1\n2\n3"\nnext\n');
    expect(records.at(-1)).toEqual({ fields: ['next'], line: 5 });
  });
});

describe('readCsv', () => {
  it('yields rows keyed by the header and reports rows with the wrong field count', async () => {
    const path = file('rows.csv', 'file, label\na.jpg,happy\nb.jpg\nc.jpg,sad,extra\nd.jpg,fear\n');
    const issues: RowIssue[] = [];
    const rows = [];
    for await (const row of readCsv(path, (issue) => issues.push(issue))) rows.push(row);
    expect(rows).toEqual([
      { line: 2, values: { file: 'a.jpg', label: 'happy' } },
      { line: 5, values: { file: 'd.jpg', label: 'fear' } },
    ]);
    expect(issues).toEqual([
      { file: path, line: 3, reason: 'expected 2 fields, found 1' },
      { file: path, line: 4, reason: 'expected 2 fields, found 3' },
    ]);
  });

  it('rejects an empty file, an empty column name and a repeated one', async () => {
    await expect(readCsvHeader(file('empty.csv', ''))).rejects.toThrow(/empty CSV file/);
    await expect(readCsvHeader(file('blank.csv', 'file,,label\n'))).rejects.toThrow(/empty column name/);
    await expect(readCsvHeader(file('twice.csv', 'file,label,label\n'))).rejects.toThrow(/label appears twice/);
  });

  it('reads a 50 000-row file row by row', async () => {
    const lines = ['file,age'];
    for (let i = 0; i < 50_000; i++) lines.push(`${i}.jpg,${i % 100}`);
    const path = file('big.csv', lines.join('\n'));
    let count = 0;
    let sum = 0;
    for await (const row of readCsv(path)) {
      count++;
      sum += Number(row.values.age);
    }
    expect(count).toBe(50_000);
    expect(sum).toBe(500 * 99 * 50);
  });
});
