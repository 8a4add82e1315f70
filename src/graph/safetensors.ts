// The safetensors checkpoint format: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian bytes. Reading is lazy (only the header is parsed up
// front, each tensor is read on demand), writing streams tensor by tensor; Hugging Face sharded checkpoints
// (`model.safetensors.index.json`) are read and written too. Byte order: every platform Node runs on is
// little-endian, so the file's bytes are copied into typed arrays as they are.
import {
  closeSync,
  existsSync,
  fsyncSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { allocate, BYTES_PER_ELEMENT, type DType } from './dtype.js';
import { numel, type HostTensor } from './host.js';

// ---------------------------------------------------------------------------------------------------------
// dtypes

const FILE_DTYPES = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
} as const satisfies Record<string, DType>;

type FileDType = keyof typeof FILE_DTYPES;

const FILE_DTYPE_OF = Object.fromEntries(Object.entries(FILE_DTYPES).map(([k, v]) => [v, k])) as Record<
  DType,
  FileDType
>;

// ---------------------------------------------------------------------------------------------------------
// float16 / bfloat16 <-> float32

/** float32 bit pattern of each of the 65536 half-precision words (exact: every half is a float32). */
let halfTable: Uint32Array | undefined;

function halfWordToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalize, since the same value is a normal float32.
  let e = 113;
  let m = mant;
  while (!(m & 0x400)) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

function f32BitsToHalfWord(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, quiet NaN
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal result: value / 2^-24 = (1.mant as a 24-bit integer) >> (14 - e); below 2^-25 it rounds to zero.
    if (e < -10) return sign;
    return sign | roundShiftRightEven(mant | 0x800000, 14 - e);
  }
  // A carry out of the mantissa correctly bumps the exponent (and 65520 and up become infinity).
  return sign | ((e << 10) + roundShiftRightEven(mant, 13));
}

/** `value >> shift`, rounded to nearest, ties to even. */
function roundShiftRightEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && kept & 1) ? kept + 1 : kept;
}

function f32BitsToBf16Word(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40; // NaN: keep it a (quiet) NaN
  return roundShiftRightEven(x >>> 0, 16); // rounding past the largest finite gives infinity
}

/** float16 words to float32 values (exact). */
export function decodeFloat16(words: Uint16Array): Float32Array {
  halfTable ??= Uint32Array.from({ length: 0x10000 }, (_, h) => halfWordToF32Bits(h));
  const out = new Float32Array(words.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < words.length; i++) bits[i] = halfTable[words[i]];
  return out;
}

/** bfloat16 words to float32 values (exact: bfloat16 is the top half of a float32). */
export function decodeBfloat16(words: Uint16Array): Float32Array {
  const out = new Float32Array(words.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < words.length; i++) bits[i] = words[i] << 16;
  return out;
}

/** float32 values to float16 words, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
export function encodeFloat16(values: Float32Array): Uint16Array {
  return encodeWords(values, f32BitsToHalfWord);
}

/** float32 values to bfloat16 words, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
export function encodeBfloat16(values: Float32Array): Uint16Array {
  return encodeWords(values, f32BitsToBf16Word);
}

function encodeWords(values: Float32Array, encode: (bits: number) => number): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = encode(bits[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// reading

export interface TensorInfo {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The file that holds the tensor's bytes (a shard, for sharded checkpoints). */
  readonly file: string;
  /** Absolute byte offset of the data in that file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface LoadOptions {
  /** Convert float16 and bfloat16 tensors to float32 while loading. */
  readonly toFloat32?: boolean;
}

/** A lazy view of a checkpoint: the tensor list is known, the data is read when asked for. */
export interface Checkpoint {
  /** The file or index that was opened. */
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor, in header (or index) order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  load(name: string, options?: LoadOptions): HostTensor;
  loadAll(options?: LoadOptions): Map<string, HostTensor>;
}

/** The reference implementation's cap, which also keeps a corrupt length from allocating gigabytes. */
const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_NAMES = Object.keys(FILE_DTYPES) as [FileDType, ...FileDType[]];

const TensorEntrySchema = z
  .object({
    dtype: z.enum(DTYPE_NAMES, { error: (issue) => `unknown dtype ${JSON.stringify(issue.input)}` }),
    shape: z.array(z.number().int().nonnegative()),
    data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
  })
  .refine((e) => e.data_offsets[0] <= e.data_offsets[1], { message: 'data_offsets end before they begin' });

const MetadataSchema = z.record(z.string(), z.string());

type TensorEntry = z.infer<typeof TensorEntrySchema>;

function zodMessage(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Open one .safetensors file: reads and validates the header only. */
export function openSafetensors(path: string): Checkpoint {
  const { header, dataStart, fileSize } = readHeader(path);
  const metadata = parseMetadata(path, header.__metadata__);
  const entries: [string, TensorEntry][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const parsed = TensorEntrySchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${path}: tensor "${name}": ${zodMessage(parsed.error)}`);
    entries.push([name, parsed.data]);
  }
  checkLayout(path, entries, fileSize - dataStart);
  const tensors = new Map<string, TensorInfo>();
  for (const [name, e] of entries) {
    tensors.set(name, {
      dtype: FILE_DTYPES[e.dtype],
      shape: e.shape,
      file: path,
      offset: dataStart + e.data_offsets[0],
      byteLength: e.data_offsets[1] - e.data_offsets[0],
    });
  }
  return checkpoint(path, metadata, tensors);
}

function readHeader(path: string): { header: Record<string, unknown>; dataStart: number; fileSize: number } {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new Error(`${path}: truncated: ${fileSize} bytes, too short for the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    readExactly(fd, lengthBytes, 0, path);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(fileSize - 8)) {
      throw new Error(`${path}: header length ${headerLength} is larger than the file (${fileSize} bytes)`);
    }
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw new Error(`${path}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    const headerBytes = Buffer.alloc(Number(headerLength));
    readExactly(fd, headerBytes, 8, path);
    return { header: parseHeaderJson(path, headerBytes), dataStart: 8 + headerBytes.length, fileSize };
  } finally {
    closeSync(fd);
  }
}

function parseHeaderJson(path: string, bytes: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${path}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const parsed = z.record(z.string(), z.unknown()).safeParse(json);
  if (!parsed.success) throw new Error(`${path}: header is not a JSON object`);
  return parsed.data;
}

function parseMetadata(path: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  const parsed = MetadataSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: __metadata__: ${zodMessage(parsed.error)}`);
  return parsed.data;
}

/** Each tensor's byte range must match its shape, lie inside the data section and not overlap another's. */
function checkLayout(path: string, entries: [string, TensorEntry][], dataBytes: number): void {
  for (const [name, e] of entries) {
    const [begin, end] = e.data_offsets;
    const expected = numel(e.shape) * BYTES_PER_ELEMENT[FILE_DTYPES[e.dtype]];
    if (end - begin !== expected) {
      throw new Error(
        `${path}: tensor "${name}": ${e.dtype}[${e.shape.join(',')}] needs ${expected} bytes, ` +
          `data_offsets [${begin},${end}] hold ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw new Error(
        `${path}: tensor "${name}": data_offsets [${begin},${end}] are out of range ` +
          `(the data section has ${dataBytes} bytes; truncated file?)`,
      );
    }
  }
  // Empty tensors occupy no bytes, so they cannot overlap anything.
  const byStart = entries.filter(([, e]) => e.data_offsets[1] > e.data_offsets[0]);
  byStart.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (let i = 1; i < byStart.length; i++) {
    const [prevName, prev] = byStart[i - 1];
    const [name, e] = byStart[i];
    if (e.data_offsets[0] < prev.data_offsets[1]) {
      throw new Error(
        `${path}: tensor "${name}": data_offsets [${e.data_offsets.join(',')}] ` +
          `overlap tensor "${prevName}" [${prev.data_offsets.join(',')}]`,
      );
    }
  }
}

// readSync moves at most 2 GiB per call; tensors can be bigger.
const IO_CHUNK = 1 << 30;

/** Fill `target` from `fd` starting at `position`, failing if the file ends first. */
function readExactly(fd: number, target: Uint8Array, position: number, path: string, what = 'header'): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(IO_CHUNK, target.length - done), position + done);
    if (n === 0) {
      const expected = position + target.length;
      throw new Error(`${path}: truncated: ${what} ends at byte ${position + done}, expected ${expected}`);
    }
    done += n;
  }
}

/** Read one tensor into a fresh typed array: reading into its own buffer keeps the data aligned for its type. */
function readTensor(name: string, info: TensorInfo): HostTensor {
  const data = allocate(info.dtype, numel(info.shape));
  const fd = openSync(info.file, 'r');
  try {
    readExactly(fd, new Uint8Array(data.buffer, 0, info.byteLength), info.offset, info.file, `tensor "${name}"`);
  } finally {
    closeSync(fd);
  }
  return { dtype: info.dtype, shape: [...info.shape], data };
}

function upcastHalf(t: HostTensor): HostTensor {
  if (t.dtype === 'float16') return { dtype: 'float32', shape: t.shape, data: decodeFloat16(t.data as Uint16Array) };
  if (t.dtype === 'bfloat16') return { dtype: 'float32', shape: t.shape, data: decodeBfloat16(t.data as Uint16Array) };
  return t;
}

function checkpoint(path: string, metadata: Record<string, string>, tensors: Map<string, TensorInfo>): Checkpoint {
  const load = (name: string, options: LoadOptions = {}): HostTensor => {
    const info = tensors.get(name);
    if (!info) throw new Error(`${path}: no tensor "${name}"`);
    const t = readTensor(name, info);
    return options.toFloat32 ? upcastHalf(t) : t;
  };
  return {
    path,
    metadata,
    tensors,
    load,
    loadAll: (options) => new Map([...tensors.keys()].map((name) => [name, load(name, options)])),
  };
}

// ---------------------------------------------------------------------------------------------------------
// sharded checkpoints

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

/**
 * Open a Hugging Face sharded checkpoint through its index. `metadata` is the index's (`total_size` and
 * anything else, non-strings as JSON).
 */
export function openShardedSafetensors(indexPath: string): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new Error(`${indexPath}: cannot read the index (${(e as Error).message})`);
  }
  const parsed = IndexSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${indexPath}: not a safetensors index: ${zodMessage(parsed.error)}`);
  const { weight_map: weightMap, metadata = {} } = parsed.data;

  const shards = new Map<string, Checkpoint>();
  const tensors = new Map<string, TensorInfo>();
  for (const [name, shardName] of Object.entries(weightMap)) {
    if (basename(shardName) !== shardName) {
      throw new Error(`${indexPath}: tensor "${name}": shard "${shardName}" is not a file name in this directory`);
    }
    const shardPath = join(dirname(indexPath), shardName);
    let shard = shards.get(shardPath);
    if (!shard) {
      shard = openSafetensors(shardPath);
      shards.set(shardPath, shard);
    }
    const info = shard.tensors.get(name);
    if (!info) throw new Error(`${indexPath}: tensor "${name}" is mapped to ${shardName}, which does not contain it`);
    tensors.set(name, info);
  }
  const stringMetadata = Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
  return checkpoint(indexPath, stringMetadata, tensors);
}

/**
 * Open a checkpoint given a .safetensors file, an index .json file, or a directory holding `model.safetensors`
 * or `model.safetensors.index.json` (the single file wins when both exist, as in transformers).
 */
export function openCheckpoint(pathOrDir: string): Checkpoint {
  if (!statSync(pathOrDir).isDirectory()) {
    return pathOrDir.endsWith('.json') ? openShardedSafetensors(pathOrDir) : openSafetensors(pathOrDir);
  }
  const single = join(pathOrDir, SINGLE_FILE_NAME);
  if (existsSync(single)) return openSafetensors(single);
  const index = join(pathOrDir, INDEX_FILE_NAME);
  if (existsSync(index)) return openShardedSafetensors(index);
  throw new Error(`${pathOrDir}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME} in this directory`);
}

// ---------------------------------------------------------------------------------------------------------
// writing

export type TensorSet = Readonly<Record<string, HostTensor>> | ReadonlyMap<string, HostTensor>;

/** Name-sorted entries, each checked to hold as many bytes as its dtype and shape need. */
function sortedEntries(tensors: TensorSet): [string, HostTensor][] {
  const entries: [string, HostTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" cannot name a tensor');
    const bytes = numel(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new Error(
        `safetensors: tensor "${name}": ${t.dtype}[${t.shape.join(',')}] needs ${bytes} bytes, ` +
          `its data has ${t.data.byteLength}`,
      );
    }
  }
  return entries;
}

/**
 * The header as the reference writer lays it out: tensors in name order with consecutive offsets, then
 * `__metadata__`, compact JSON padded with spaces so the data starts 8-byte aligned.
 */
function encodeHeader(entries: [string, HostTensor][], metadata: Record<string, string> | undefined): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: FILE_DTYPE_OF[t.dtype], shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padding = (8 - (json.length % 8)) % 8;
  const out = Buffer.alloc(8 + json.length + padding, ' ');
  out.writeBigUInt64LE(BigInt(json.length + padding), 0);
  json.copy(out, 8);
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

/** Write through a temporary file in the same directory, then rename: readers never see a partial file. */
function writeAtomically(path: string, write: (fd: number) => void): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, 'w');
  let complete = false;
  try {
    write(fd);
    fsyncSync(fd);
    complete = true;
  } finally {
    closeSync(fd);
    if (!complete) unlinkSync(temp);
  }
  renameSync(temp, path);
}

/** Write one .safetensors file, streaming tensor by tensor. Metadata values must be strings (format rule). */
export function writeSafetensors(path: string, tensors: TensorSet, metadata?: Record<string, string>): void {
  const entries = sortedEntries(tensors);
  const header = encodeHeader(entries, metadata);
  writeAtomically(path, (fd) => {
    writeAll(fd, header);
    for (const [, t] of entries) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}

export interface ShardedWriteOptions {
  /** Largest data size of one shard in bytes; a tensor bigger than this gets a shard of its own. */
  readonly maxShardBytes: number;
  /** Stored in every shard's `__metadata__` and in the index's `metadata`. */
  readonly metadata?: Record<string, string>;
}

/**
 * Write a checkpoint into `dir` as Hugging Face does: tensors in name order fill `model-0000i-of-0000n.safetensors`
 * shards up to `maxShardBytes`, plus `model.safetensors.index.json` (written last, so it never names a missing
 * shard). When everything fits in one shard, that is a plain `model.safetensors` with no index. Checkpoint files
 * of an earlier save in `dir` that the new one does not use are then removed, so `openCheckpoint(dir)` cannot pick
 * a stale one. Returns the paths written.
 */
export function writeShardedSafetensors(dir: string, tensors: TensorSet, options: ShardedWriteOptions): string[] {
  const groups = splitIntoShards(sortedEntries(tensors), options.maxShardBytes);
  const written = groups.length <= 1 ? writeSingle(dir, groups[0] ?? [], options) : writeShards(dir, groups, options);
  removeStaleCheckpointFiles(dir, new Set(written.map((p) => basename(p))));
  return written;
}

function writeSingle(dir: string, entries: [string, HostTensor][], options: ShardedWriteOptions): string[] {
  const path = join(dir, SINGLE_FILE_NAME);
  writeSafetensors(path, new Map(entries), options.metadata);
  return [path];
}

function writeShards(dir: string, groups: [string, HostTensor][][], options: ShardedWriteOptions): string[] {
  const width = (n: number) => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  let totalSize = 0;
  groups.forEach((group, i) => {
    const shardName = `model-${width(i + 1)}-of-${width(groups.length)}.safetensors`;
    writeSafetensors(join(dir, shardName), new Map(group), options.metadata);
    written.push(join(dir, shardName));
    for (const [name, t] of group) {
      weightMap[name] = shardName;
      totalSize += t.data.byteLength;
    }
  });
  const index = { metadata: { ...options.metadata, total_size: totalSize }, weight_map: weightMap };
  const indexPath = join(dir, INDEX_FILE_NAME);
  writeAtomically(indexPath, (fd) => writeAll(fd, Buffer.from(JSON.stringify(index, null, 2) + '\n', 'utf8')));
  written.push(indexPath);
  return written;
}

const CHECKPOINT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/;

function removeStaleCheckpointFiles(dir: string, keep: ReadonlySet<string>): void {
  for (const name of readdirSync(dir)) {
    if (CHECKPOINT_FILE.test(name) && !keep.has(name)) unlinkSync(join(dir, name));
  }
}

/** Greedy split in order: start a new shard when the next tensor would push the current one past the limit. */
function splitIntoShards(entries: [string, HostTensor][], maxShardBytes: number): [string, HostTensor][][] {
  const groups: [string, HostTensor][][] = [];
  let current: [string, HostTensor][] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = entry[1].data.byteLength;
    if (current.length > 0 && size + bytes > maxShardBytes) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
