// Labelled face data: the project's packs (a folder with `images.zip` + `labels.csv`, see ../shared/data/README.md),
// a user's CSV of labels beside a folder or zip of images, and a folder-per-class layout. Rows stream (async
// iterables, one row in memory at a time); images are read on demand by file name. Rows that do not parse are
// reported to an issue handler (file, line, reason) and skipped.
import { opendir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { readCsv, readCsvHeader, warnIssue, type IssueHandler } from './csv.js';
import { ZipImages } from './zip.js';
import { parseAuList } from './labels/action-units.js';
import { CELEBA_ATTRIBUTES, type CelebaAttribute } from './labels/attributes.js';
import { AUTHENTICITY, type Authenticity } from './labels/deepfake.js';
import { toExpression, type Expression } from './labels/expression.js';
import { parseAgeLabel } from './labels/age.js';

export const SPLITS = ['train', 'val'] as const;
export type Split = (typeof SPLITS)[number];

/** Images looked up by file name: a pack's zip, or a folder on disk. */
export interface ImageSource {
  /** Number of images. */
  readonly size: number;
  has(name: string): boolean;
  read(name: string): Promise<Buffer>;
  names(): Iterable<string>;
  close(): void;
}

interface PackRowBase {
  /** The image's name in the pack's zip. */
  file: string;
  split: Split;
  /** The line of labels.csv the row comes from. */
  line: number;
}

export interface Fer2013Row extends PackRowBase {
  /** The dataset's word (angry, disgust, fear, happy, neutral, sad, surprise). */
  label: string;
  expression: Expression;
}

export interface CkplusRow extends PackRowBase {
  /** The dataset's word (anger, contempt, disgust, fear, happy, sadness, surprise). */
  label: string;
  expression: Expression;
  /** FACS AUs present at the peak, ascending. */
  aus: number[];
  /** Split by subject, never by image: a sequence's three frames are near-duplicates. */
  subject: string;
  sequence: string;
}

export interface CelebaRow extends PackRowBase {
  attributes: Record<CelebaAttribute, boolean>;
}

export interface UtkfaceRow extends PackRowBase {
  age: number;
  gender: 'male' | 'female';
  race: 'white' | 'black' | 'asian' | 'indian' | 'other';
}

export interface RealorfakeRow extends PackRowBase {
  label: Authenticity;
}

export interface PackRows {
  fer2013: Fer2013Row;
  ckplus: CkplusRow;
  celeba: CelebaRow;
  utkface: UtkfaceRow;
  realorfake: RealorfakeRow;
}
export type PackName = keyof PackRows;
export const PACK_NAMES: readonly PackName[] = ['fer2013', 'ckplus', 'celeba', 'utkface', 'realorfake'];

/** A row of a user's labels: its image, its split when the data has one, and every other column as text. */
export interface LabelRow {
  file: string;
  split?: string;
  labels: Record<string, string>;
  /** The CSV line, for rows from a CSV. */
  line?: number;
}

export interface RowOptions {
  /** Only rows of this split. */
  split?: string;
  /** Where malformed rows are reported; by default one line each on stderr. */
  onIssue?: IssueHandler;
  /** Also report and skip rows whose image is missing (this indexes the images first). */
  checkImages?: boolean;
}

/** A labelled image set: rows to stream, images to read by name. */
export class Pack<R extends { file: string; split?: string; line?: number }> {
  private imageSource: Promise<ImageSource> | undefined;

  constructor(
    readonly name: string,
    /** Where rows come from, for issue reports. */
    readonly labelsPath: string,
    private readonly openImages: () => Promise<ImageSource>,
    private readonly readRows: (onIssue: IssueHandler) => AsyncIterable<R>,
  ) {}

  /** The image index, built on first use (a zip's central directory is read once). */
  images(): Promise<ImageSource> {
    this.imageSource ??= this.openImages();
    return this.imageSource;
  }

  async readImage(file: string): Promise<Buffer> {
    return (await this.images()).read(file);
  }

  async *rows(options: RowOptions = {}): AsyncGenerator<R> {
    const onIssue = options.onIssue ?? warnIssue;
    const images = options.checkImages ? await this.images() : undefined;
    for await (const row of this.readRows(onIssue)) {
      if (options.split !== undefined && row.split !== options.split) continue;
      if (images && !images.has(row.file)) {
        onIssue({ file: this.labelsPath, line: row.line, reason: `image ${row.file} not found` });
        continue;
      }
      yield row;
    }
  }

  async close(): Promise<void> {
    if (this.imageSource) (await this.imageSource).close();
  }
}

// ---- the project's packs ----

const base = { file: z.string().min(1), split: z.enum(SPLITS) };

function expressionWord(words: readonly string[]) {
  return z.enum(words as [string, ...string[]]).transform((label) => ({ label, expression: toExpression(label)! }));
}

const attributeFlag = z.enum(['1', '0', '-1']).transform((flag) => flag === '1'); // -1/1 in the original CelebA files

const PACK_SCHEMAS = {
  fer2013: z.object({ ...base, label: expressionWord(['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']) })
    .transform(({ label, ...rest }) => ({ ...rest, ...label })),
  ckplus: z
    .object({
      ...base,
      subject: z.string().min(1),
      sequence: z.string().min(1),
      label: expressionWord(['anger', 'contempt', 'disgust', 'fear', 'happy', 'sadness', 'surprise']),
      aus: z.string().transform((cell, ctx) => {
        const aus = parseAuList(cell);
        if (aus === null) ctx.addIssue({ code: 'custom', message: `not a list of FACS AU numbers: ${JSON.stringify(cell)}` });
        return aus ?? [];
      }),
    })
    .transform(({ label, ...rest }) => ({ ...rest, ...label })),
  celeba: z
    .object({ ...base, ...(Object.fromEntries(CELEBA_ATTRIBUTES.map((name) => [name, attributeFlag])) as Record<CelebaAttribute, typeof attributeFlag>) })
    .transform((values) => ({
      file: values.file,
      split: values.split,
      attributes: Object.fromEntries(CELEBA_ATTRIBUTES.map((name) => [name, values[name]])) as Record<CelebaAttribute, boolean>,
    })),
  utkface: z.object({
    ...base,
    age: z.string().transform((cell, ctx) => {
      const age = parseAgeLabel(cell);
      if (age === null) ctx.addIssue({ code: 'custom', message: `not an age in years: ${JSON.stringify(cell)}` });
      return age ?? 0;
    }),
    gender: z.enum(['male', 'female']),
    race: z.enum(['white', 'black', 'asian', 'indian', 'other']),
  }),
  realorfake: z.object({ ...base, label: z.enum(AUTHENTICITY) }),
} satisfies { [N in PackName]: z.ZodType<Omit<PackRows[N], 'line'>> };

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'row'}: ${issue.message}`).join('; ');
}

/** Rows of a CSV parsed with a schema; a row the schema rejects goes to `onIssue`. */
async function* parsedRows<T>(path: string, schema: z.ZodType<T>, onIssue: IssueHandler): AsyncGenerator<T & { line: number }> {
  for await (const { line, values } of readCsv(path, onIssue)) {
    const parsed = schema.safeParse(values);
    if (parsed.success) yield { ...parsed.data, line };
    else onIssue({ file: path, line, reason: describe(parsed.error) });
  }
}

async function requireColumns(path: string, columns: readonly string[]): Promise<string[]> {
  const header = await readCsvHeader(path);
  const missing = columns.filter((column) => !header.includes(column));
  if (missing.length > 0) throw new Error(`${path}: missing column(s) ${missing.join(', ')}`);
  return header;
}

function schemaColumns(name: PackName): string[] {
  switch (name) {
    case 'celeba':
      return ['file', 'split', ...CELEBA_ATTRIBUTES];
    case 'ckplus':
      return ['file', 'split', 'subject', 'sequence', 'label', 'aus'];
    case 'utkface':
      return ['file', 'split', 'age', 'gender', 'race'];
    case 'fer2013':
    case 'realorfake':
      return ['file', 'split', 'label'];
  }
}

/**
 * Opens one of the project's packs: `dir` holds `labels.csv` and `images.zip`. The header is checked now (a
 * missing column throws); rows are parsed as they stream; the zip is indexed on the first image read.
 */
export async function openPack<N extends PackName>(name: N, dir: string): Promise<Pack<PackRows[N]>> {
  const labelsPath = join(dir, 'labels.csv');
  await requireColumns(labelsPath, schemaColumns(name));
  const schema = PACK_SCHEMAS[name] as unknown as z.ZodType<Omit<PackRows[N], 'line'>>;
  return new Pack<PackRows[N]>(
    name,
    labelsPath,
    () => ZipImages.open(join(dir, 'images.zip')),
    (onIssue) => parsedRows(labelsPath, schema, onIssue) as AsyncIterable<PackRows[N]>,
  );
}

// ---- a user's data ----

const IMAGE_EXTENSIONS = /\.(?:jpe?g|png|bmp|webp|gif|tiff?)$/i;

/** The image files under a folder, by path relative to it with `/` separators; hidden files and folders skipped. */
async function listImages(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of await opendir(dir)) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && IMAGE_EXTENSIONS.test(entry.name)) found.push(relative(root, path).split(sep).join('/'));
    }
  };
  await walk(root);
  return found.sort();
}

/** A folder of images as an ImageSource. Only indexed names are readable, so a name cannot escape the folder. */
export class FolderImages implements ImageSource {
  private constructor(
    readonly root: string,
    private readonly index: ReadonlySet<string>,
  ) {}

  static async open(root: string): Promise<FolderImages> {
    return new FolderImages(root, new Set(await listImages(root)));
  }

  get size(): number {
    return this.index.size;
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  async read(name: string): Promise<Buffer> {
    if (!this.index.has(name)) throw new Error(`${this.root}: no image named ${name}`);
    return readFile(join(this.root, ...name.split('/')));
  }

  names(): Iterable<string> {
    return this.index;
  }

  close(): void {}
}

/** A zip file or a folder of images, whichever `path` is. */
export async function openImages(path: string): Promise<ImageSource> {
  return (await stat(path)).isDirectory() ? FolderImages.open(path) : ZipImages.open(path);
}

export interface LabelCsvOptions {
  /** The CSV of labels, with a header row. */
  csv: string;
  /** The images: a folder, or a zip. */
  images: string;
  /** The column naming each row's image (default `file`). */
  fileColumn?: string;
  /** The column naming each row's split (default `split`); optional in the CSV. */
  splitColumn?: string;
}

/**
 * A user's CSV of labels: one row per image, the image's name in `fileColumn`, an optional split column, and any
 * number of label columns, read as text (map them with the vocabularies in ./labels).
 */
export async function openLabelCsv(options: LabelCsvOptions): Promise<Pack<LabelRow>> {
  const fileColumn = options.fileColumn ?? 'file';
  const splitColumn = options.splitColumn ?? 'split';
  const header = await requireColumns(options.csv, [fileColumn]);
  const hasSplit = header.includes(splitColumn);
  const labelColumns = header.filter((column) => column !== fileColumn && !(hasSplit && column === splitColumn));

  async function* rows(onIssue: IssueHandler): AsyncGenerator<LabelRow> {
    for await (const { line, values } of readCsv(options.csv, onIssue)) {
      const file = values[fileColumn].trim();
      if (file === '') {
        onIssue({ file: options.csv, line, reason: `empty ${fileColumn}` });
        continue;
      }
      const labels = Object.fromEntries(labelColumns.map((column) => [column, values[column].trim()]));
      yield hasSplit ? { file, split: values[splitColumn].trim(), labels, line } : { file, labels, line };
    }
  }
  return new Pack<LabelRow>('labels', options.csv, () => openImages(options.images), rows);
}

const SPLIT_FOLDERS = new Set(['train', 'val', 'test']);

/**
 * A folder-per-class layout: `root/<class>/<image>`, or `root/<split>/<class>/<image>` when every subfolder of root
 * is a split name (train, val, test). Each image is a row labelled `{ label: <class> }`; files are named by their
 * path relative to root (`happy/001.jpg`).
 */
export async function openClassFolders(root: string): Promise<Pack<LabelRow>> {
  const files = await listImages(root);
  const tops = new Set(files.map((file) => file.split('/')[0]));
  const bySplit = tops.size > 0 && [...tops].every((top) => SPLIT_FOLDERS.has(top));

  async function* rows(onIssue: IssueHandler): AsyncGenerator<LabelRow> {
    for (const file of files) {
      const parts = file.split('/');
      const depth = bySplit ? 3 : 2;
      if (parts.length !== depth) {
        onIssue({ file: join(root, file), reason: 'not in a class folder' });
        continue;
      }
      const label = { label: parts[depth - 2] };
      yield bySplit ? { file, split: parts[0], labels: label } : { file, labels: label };
    }
  }
  return new Pack<LabelRow>('folders', root, () => FolderImages.open(root), rows);
}
