// Where samples come from: the project's packs (../shared/data), a user's CSV of labels beside a folder or zip
// of images or videos, and a folder per class (of images or videos, optionally under train/val/test folders).
// Each source streams events in a fixed order — a labelled item, or a malformed row with the reason — and
// maps its labels onto the task's vocabulary (src/data/labels), so that CK+ "anger" and FER2013 "angry" are one
// class. A malformed row is an event, not an error: the build records it in rejected.jsonl and goes on.
import { opendir, readFile, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, sep } from 'node:path';
import type { RowIssue } from '../csv.js';
import { openLabelCsv, openPack, PACK_NAMES, type LabelRow, type PackName, type PackRows } from '../packs.js';
import { ZipImages } from '../zip.js';
import { parseAuList } from '../labels/action-units.js';
import { CELEBA_ATTRIBUTES, toAttribute, type CelebaAttribute } from '../labels/attributes.js';
import { toAuthenticity } from '../labels/deepfake.js';
import { toExpression } from '../labels/expression.js';
import { parseAgeLabel } from '../labels/age.js';
import type { Task, TaskLabel } from './types.js';

export interface SourceItem {
  /** `<source>/<file>`: unique within a build. */
  readonly id: string;
  readonly source: string;
  readonly file: string;
  readonly label: TaskLabel;
  /** The split the source gives, if any. */
  readonly split?: string;
  readonly subject?: string;
  read(): Promise<Buffer>;
}

export interface SourceIssue {
  readonly id: string;
  readonly source: string;
  readonly reason: string;
}

export type SourceEvent = { readonly item: SourceItem } | { readonly issue: SourceIssue };

export interface Source {
  readonly name: string;
  events(): AsyncIterable<SourceEvent>;
  close(): Promise<void>;
}

/** The tasks each pack has labels for. */
export const PACK_TASKS: Readonly<Record<PackName, readonly Task[]>> = {
  fer2013: ['expression'],
  ckplus: ['expression', 'au'],
  celeba: ['attributes'],
  utkface: ['age'],
  realorfake: ['deepfake'],
};

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.gif', '.tif', '.tiff', '.avif']);
const VIDEO_EXT = new Set(['.mp4', '.mov', '.m4v', '.avi', '.mkv', '.webm']);

/** Files looked up by name: a zip (src/data/zip.ts, its directory indexed once) or a folder. */
interface MediaFiles {
  has(name: string): boolean | Promise<boolean>;
  read(name: string): Promise<Buffer>;
  close(): void;
}

/**
 * A folder of images and videos, files named by their path relative to it with `/` separators. Nothing is indexed
 * (a CSV of a million rows needs no million-name index): a name is checked when its row comes, and a name that
 * would leave the folder is refused.
 */
class MediaFolder implements MediaFiles {
  constructor(readonly root: string) {}

  private path(name: string): string | undefined {
    const path = join(this.root, ...name.split('/'));
    return relative(this.root, path).split(sep)[0] === '..' || isAbsolute(name) ? undefined : path;
  }

  async has(name: string): Promise<boolean> {
    const path = this.path(name);
    return path !== undefined && (await stat(path).then((info) => info.isFile(), () => false));
  }

  async read(name: string): Promise<Buffer> {
    const path = this.path(name);
    if (!path) throw new Error(`${name} is outside ${this.root}`);
    return readFile(path);
  }

  close(): void {}
}

/** The images and videos under a folder, sorted, hidden entries skipped. */
async function listMedia(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of await opendir(dir)) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const ext = extname(entry.name).toLowerCase();
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && (IMAGE_EXT.has(ext) || VIDEO_EXT.has(ext))) found.push(relative(root, path).split(sep).join('/'));
    }
  };
  await walk(root);
  return found.sort();
}

// ---- labels of a user's rows ----

const LABEL_COLUMNS: Readonly<Record<Task, readonly string[]>> = {
  expression: ['expression', 'emotion', 'label', 'class'],
  au: ['aus', 'au', 'action_units'],
  attributes: ['attributes'],
  age: ['age', 'label'],
  deepfake: ['label', 'authenticity', 'deepfake', 'class'],
};
const SUBJECT_COLUMNS = ['subject', 'subject_id', 'identity', 'person'];
const TRUE = new Set(['1', 'true', 'yes', 'y']);
const FALSE = new Set(['0', '-1', 'false', 'no', 'n', '']);

type Parsed = { label: TaskLabel } | { reason: string };

function parseAttributes(labels: Record<string, string>): Parsed {
  const present = new Set<CelebaAttribute>();
  if ('attributes' in labels) {
    for (const phrase of labels.attributes.split(/[;|]/).map((p) => p.trim()).filter(Boolean)) {
      const name = toAttribute(phrase);
      if (!name) return { reason: `"${phrase}" is not a CelebA attribute` };
      present.add(name);
    }
  } else {
    let columns = 0;
    for (const [column, cell] of Object.entries(labels)) {
      const name = toAttribute(column);
      if (!name) continue;
      columns++;
      const value = cell.trim().toLowerCase();
      if (TRUE.has(value)) present.add(name);
      else if (!FALSE.has(value)) return { reason: `${column}: "${cell}" is not 1/0` };
    }
    if (columns === 0) return { reason: 'no attributes column and no CelebA attribute columns' };
  }
  return { label: { task: 'attributes', value: CELEBA_ATTRIBUTES.filter((name) => present.has(name)) } };
}

/** A user's row read as a label of `task`, from the first label column the row has for it. */
export function parseUserLabel(task: Task, labels: Record<string, string>): Parsed {
  if (task === 'attributes') return parseAttributes(labels);
  const column = LABEL_COLUMNS[task].find((name) => name in labels);
  if (!column) return { reason: `no ${LABEL_COLUMNS[task].join('/')} column` };
  const cell = labels[column];
  const bad = { reason: `${column}: "${cell}" is not a ${task} label` };
  switch (task) {
    case 'expression': {
      const value = toExpression(cell);
      return value ? { label: { task, value } } : bad;
    }
    case 'au': {
      const value = parseAuList(cell);
      return value ? { label: { task, value } } : bad;
    }
    case 'age': {
      const value = parseAgeLabel(cell);
      return value !== null ? { label: { task, value } } : bad;
    }
    case 'deepfake': {
      const value = toAuthenticity(cell);
      return value ? { label: { task, value } } : bad;
    }
  }
}

function packLabel<N extends PackName>(name: N, task: Task, row: PackRows[N]): TaskLabel {
  const r = row as PackRows[PackName];
  if (task === 'expression' && 'expression' in r) return { task, value: r.expression };
  if (task === 'au' && 'aus' in r) return { task, value: r.aus };
  if (task === 'attributes' && 'attributes' in r) return { task, value: CELEBA_ATTRIBUTES.filter((a) => r.attributes[a]) };
  if (task === 'age' && 'age' in r) return { task, value: r.age };
  if (task === 'deepfake' && name === 'realorfake' && 'label' in r) return { task, value: r.label as 'real' | 'fake' };
  throw new Error(`${name} has no ${task} labels`);
}

// ---- streaming rows with their issues, in order ----

/**
 * Rows of a reader that reports malformed rows through a callback, as one ordered stream: the issues a reader
 * reports while producing a row come out just before it. The readers report synchronously while parsing, so the
 * order is the file's order, the same on every run.
 */
async function* rowsWithIssues<R>(
  rows: (onIssue: (issue: RowIssue) => void) => AsyncIterable<R>,
): AsyncGenerator<{ row: R } | { issue: RowIssue }> {
  const pending: RowIssue[] = [];
  for await (const row of rows((issue) => pending.push(issue))) {
    while (pending.length > 0) yield { issue: pending.shift()! };
    yield { row };
  }
  while (pending.length > 0) yield { issue: pending.shift()! };
}

function issueEvent(source: string, issue: RowIssue): SourceEvent {
  const where = issue.line !== undefined ? `${basename(issue.file)}:${issue.line}` : issue.file;
  return { issue: { id: `${source}/${where}`, source, reason: issue.reason } };
}

async function packSource<N extends PackName>(name: N, dir: string, task: Task): Promise<Source> {
  if (!PACK_TASKS[name].includes(task)) throw new Error(`pack ${name} has no ${task} labels (it has ${PACK_TASKS[name].join(', ')})`);
  const pack = await openPack(name, dir);
  return {
    name,
    async *events() {
      for await (const event of rowsWithIssues((onIssue) => pack.rows({ onIssue }))) {
        if ('issue' in event) {
          yield issueEvent(name, event.issue);
          continue;
        }
        const row = event.row;
        yield {
          item: {
            id: `${name}/${row.file}`,
            source: name,
            file: row.file,
            label: packLabel(name, task, row),
            split: row.split,
            subject: 'subject' in row ? (row.subject as string) : undefined,
            read: () => pack.readImage(row.file),
          },
        };
      }
    },
    close: () => pack.close(),
  };
}

async function userItem(source: string, task: Task, row: LabelRow, media: MediaFiles): Promise<SourceEvent> {
  const parsed = parseUserLabel(task, row.labels);
  const where = row.line !== undefined ? `:${row.line}` : '';
  if ('reason' in parsed) return { issue: { id: `${source}/${row.file}${where}`, source, reason: parsed.reason } };
  if (!(await media.has(row.file))) return { issue: { id: `${source}/${row.file}${where}`, source, reason: `no file named ${row.file}` } };
  const subjectColumn = SUBJECT_COLUMNS.find((column) => row.labels[column]);
  return {
    item: {
      id: `${source}/${row.file}`,
      source,
      file: row.file,
      label: parsed.label,
      split: row.split,
      subject: subjectColumn ? row.labels[subjectColumn] : undefined,
      read: () => media.read(row.file),
    },
  };
}

async function csvSource(name: string, csv: string, mediaPath: string, task: Task): Promise<Source> {
  const pack = await openLabelCsv({ csv, images: mediaPath });
  const media: MediaFiles = (await stat(mediaPath)).isDirectory() ? new MediaFolder(mediaPath) : await ZipImages.open(mediaPath);
  return {
    name,
    async *events() {
      for await (const event of rowsWithIssues((onIssue) => pack.rows({ onIssue }))) {
        yield 'issue' in event ? issueEvent(name, event.issue) : await userItem(name, task, event.row, media);
      }
    },
    close: async () => media.close(),
  };
}

const SPLIT_FOLDERS = new Set(['train', 'val', 'test']);

/** `root/<class>/<file>` or `root/<split>/<class>/<file>` (when every top folder is train, val or test). */
async function classFolderSource(name: string, root: string, task: Task): Promise<Source> {
  const media = new MediaFolder(root);
  // Sorted, so the order (and so every output) is the same on every file system. The list is the one thing here
  // that grows with the data: about 100 bytes per file.
  const files = await listMedia(root);
  const bySplit = files.length > 0 && files.every((file) => SPLIT_FOLDERS.has(file.split('/')[0]));
  return {
    name,
    async *events() {
      for (const file of files) {
        const parts = file.split('/');
        const depth = bySplit ? 3 : 2;
        if (parts.length !== depth) {
          yield { issue: { id: `${name}/${file}`, source: name, reason: 'not inside a class folder' } };
          continue;
        }
        const row: LabelRow = { file, labels: { label: parts[depth - 2] }, ...(bySplit && { split: parts[0] }) };
        yield await userItem(name, task, row, media);
      }
    },
    close: async () => media.close(),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Opens a source for `task`. `spec` is one of:
 * - a pack name (fer2013, ckplus, celeba, utkface, realorfake), found under `dataRoot`;
 * - a folder holding `labels.csv` and `images.zip` (a pack; a folder named like a pack reads with its schema),
 *   or `labels.csv` and an `images/` or `videos/` folder (a user's CSV; a `file` column names each file);
 * - a CSV file of labels, its files named relative to the CSV's folder;
 * - a folder per class: `<class>/<file>`, or `<split>/<class>/<file>`.
 */
export async function openSource(spec: string, task: Task, dataRoot: string): Promise<Source> {
  const isPack = (PACK_NAMES as readonly string[]).includes(spec);
  const path = isPack && !(await exists(spec)) ? join(dataRoot, spec) : spec;
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`source ${spec}: ${path} does not exist`);
  const name = basename(path).replace(/\.csv$/i, '');
  if (info.isFile()) return csvSource(name, path, join(path, '..'), task);

  const csv = join(path, 'labels.csv');
  if (await exists(csv)) {
    if ((PACK_NAMES as readonly string[]).includes(name) && (await exists(join(path, 'images.zip')))) {
      return packSource(name as PackName, path, task);
    }
    for (const media of ['images.zip', 'images', 'videos']) {
      if (await exists(join(path, media))) return csvSource(name, csv, join(path, media), task);
    }
    return csvSource(name, csv, path, task);
  }
  return classFolderSource(name, path, task);
}
