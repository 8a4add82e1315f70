// Streaming CSV (RFC 4180): comma-separated, fields optionally in double quotes, `""` for a quote inside a quoted
// field, quoted fields may span lines; LF or CRLF line ends; a leading UTF-8 BOM is dropped. Memory stays flat:
// one record is held at a time. A malformed record is reported to the caller's handler and skipped, never fatal.
import { createReadStream } from 'node:fs';

/**
 * A malformed row: the file, the line it starts on (1-based; the header is line 1; absent when the rows do not come
 * from a text file, as with a folder per class) and why it was skipped.
 */
export interface RowIssue {
  file: string;
  line?: number;
  reason: string;
}

export type IssueHandler = (issue: RowIssue) => void;

/** The default handler: one line per skipped row on stderr, in the `file:line: reason` form editors link. */
export const warnIssue: IssueHandler = (issue) =>
  console.warn(`${issue.file}${issue.line === undefined ? '' : `:${issue.line}`}: ${issue.reason}`);

/** One record: its fields and the line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** One data row of a table, keyed by the header's column names. */
export interface CsvRow {
  line: number;
  values: Record<string, string>;
}

type State = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteInQuoted' | 'skipLine';

/**
 * Splits a character stream into records. Blank lines are skipped. A record with a stray quote (inside an unquoted
 * field, or text after a closing quote) is reported with `issue(line, reason)` and skipped to the end of its line;
 * an unterminated quoted field at the end of the input is reported too.
 */
export async function* parseCsv(
  chunks: AsyncIterable<string>,
  issue: (line: number, reason: string) => void,
): AsyncGenerator<CsvRecord> {
  let state: State = 'fieldStart';
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let first = true;

  const endRecord = (): CsvRecord | null => {
    fields.push(field);
    const record = fields.length === 1 && fields[0] === '' ? null : { fields, line: recordLine };
    fields = [];
    field = '';
    return record;
  };

  for await (let chunk of chunks) {
    if (first) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (state === 'skipLine') {
        if (c === '\n') {
          line++;
          recordLine = line;
          fields = [];
          field = '';
          state = 'fieldStart';
        }
        continue;
      }
      if (state === 'quoted') {
        if (c === '"') state = 'quoteInQuoted';
        else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (state === 'quoteInQuoted' && c === '"') {
        field += '"'; // an escaped quote
        state = 'quoted';
        continue;
      }
      // fieldStart, unquoted, or just after a closing quote.
      if (c === ',') {
        fields.push(field);
        field = '';
        state = 'fieldStart';
      } else if (c === '\n') {
        // The CR of a CRLF sits at the end of an unquoted field; after a closing quote it was skipped below.
        if (state === 'unquoted' && field.endsWith('\r')) field = field.slice(0, -1);
        const record = endRecord();
        if (record) yield record;
        line++;
        recordLine = line;
        state = 'fieldStart';
      } else if (state === 'quoteInQuoted') {
        if (c !== '\r') {
          issue(recordLine, `unexpected ${JSON.stringify(c)} after a closing quote`);
          state = 'skipLine';
        }
      } else if (c === '"') {
        if (state === 'fieldStart') state = 'quoted';
        else {
          issue(recordLine, 'quote inside an unquoted field');
          state = 'skipLine';
        }
      } else {
        field += c;
        state = 'unquoted';
      }
    }
  }
  if (state === 'quoted') issue(recordLine, 'quoted field not closed before the end of the file');
  else if (state !== 'skipLine') {
    if (state === 'unquoted' && field.endsWith('\r')) field = field.slice(0, -1);
    const record = endRecord();
    if (record) yield record;
  }
}

function fileChunks(path: string): AsyncIterable<string> {
  return createReadStream(path, { encoding: 'utf8' });
}

/** The header row of a CSV file (names trimmed); throws when the file is empty or the header is unusable. */
export async function readCsvHeader(path: string): Promise<string[]> {
  const records = parseCsv(fileChunks(path), (line, reason) => {
    throw new Error(`${path}:${line}: ${reason}`);
  });
  const first = await records.next();
  await records.return(undefined); // closes the file stream
  if (first.done) throw new Error(`${path}: empty CSV file, no header row`);
  const header = first.value.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw new Error(`${path}: empty column name in the header`);
    if (seen.has(name)) throw new Error(`${path}: column ${name} appears twice in the header`);
    seen.add(name);
  }
  return header;
}

/**
 * The data rows of a CSV file with a header row, as objects keyed by column name. Rows whose field count differs
 * from the header's are reported to `onIssue` and skipped, as are rows the parser rejects.
 */
export async function* readCsv(path: string, onIssue: IssueHandler = warnIssue): AsyncGenerator<CsvRow> {
  const header = await readCsvHeader(path);
  const report = (line: number, reason: string): void => onIssue({ file: path, line, reason });
  let sawHeader = false;
  for await (const record of parseCsv(fileChunks(path), report)) {
    if (!sawHeader) {
      sawHeader = true;
      continue;
    }
    if (record.fields.length !== header.length) {
      report(record.line, `expected ${header.length} fields, found ${record.fields.length}`);
      continue;
    }
    yield { line: record.line, values: Object.fromEntries(header.map((name, i) => [name, record.fields[i]])) };
  }
}
