import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32, hostTensor, type HostTensor } from '../src/graph/host.js';
import {
  decodeBfloat16,
  decodeFloat16,
  encodeBfloat16,
  encodeFloat16,
  INDEX_FILE_NAME,
  openCheckpoint,
  openSafetensors,
  openShardedSafetensors,
  SINGLE_FILE_NAME,
  writeSafetensors,
  writeShardedSafetensors,
} from '../src/graph/safetensors.js';
import { GOLDEN_DIR, goldenCaseNames, inputsOf, loadGolden, outputsOf, weightsOf } from './helpers/golden.js';

const root = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function tempDir(): string {
  const dir = join(root, `d${counter++}`);
  mkdirSync(dir);
  return dir;
}

function bytesOf(t: HostTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Same dtype, shape and bytes (so NaN payloads and -0 count). */
function expectSameTensor(actual: HostTensor, expected: HostTensor): void {
  expect(actual.dtype).toBe(expected.dtype);
  expect(actual.shape).toEqual(expected.shape);
  expect(bytesOf(actual).equals(bytesOf(expected))).toBe(true);
}

/** A safetensors file with a hand-written header, for malformed cases. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): string {
  const path = join(tempDir(), 'raw.safetensors');
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

const f16 = (v: number) => encodeFloat16(Float32Array.of(v))[0];
const bf16 = (v: number) => encodeBfloat16(Float32Array.of(v))[0];
const fromF16 = (w: number) => decodeFloat16(Uint16Array.of(w))[0];
const fromBf16 = (w: number) => decodeBfloat16(Uint16Array.of(w))[0];
const isHalfNaN = (w: number) => (w & 0x7c00) === 0x7c00 && (w & 0x3ff) !== 0;
const isBf16NaN = (w: number) => (w & 0x7f80) === 0x7f80 && (w & 0x7f) !== 0;

const SAMPLES: Record<string, HostTensor> = {
  f32: f32([2, 3], [0, -0, 1.5, -3.25e-38, Infinity, NaN]),
  f64: hostTensor('float64', [4], Float64Array.of(Math.PI, -1e308, 5e-324, -Infinity)),
  f16: hostTensor('float16', [3], Uint16Array.of(0x3c00, 0x8001, 0x7bff)),
  bf16: hostTensor('bfloat16', [1, 3], Uint16Array.of(0x3f80, 0xff80, 0x0001)),
  i64: hostTensor('int64', [3], BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 42n)),
  i32: hostTensor('int32', [2], Int32Array.of(-2147483648, 2147483647)),
  i8: hostTensor('int8', [3], Int8Array.of(-128, 127, 0)),
  u8: hostTensor('uint8', [3], Uint8Array.of(0, 255, 7)),
  bool: hostTensor('bool', [2, 2], Uint8Array.of(1, 0, 1, 1)),
  scalar: f32([], [7]),
  empty: f32([0, 4]),
};

describe('round trip', () => {
  it('writes and reads back every dtype bit for bit, with metadata', () => {
    const path = join(tempDir(), 'all.safetensors');
    writeSafetensors(path, SAMPLES, { format: 'pt', note: 'ünïcode ✓' });
    const ckpt = openSafetensors(path);
    expect(ckpt.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...ckpt.tensors.keys()]).toEqual(Object.keys(SAMPLES).sort());
    const loaded = ckpt.loadAll();
    for (const [name, t] of Object.entries(SAMPLES)) expectSameTensor(loaded.get(name)!, t);
  });

  it('lays the file out like the reference writer: sorted keys, metadata last, 8-byte aligned data', () => {
    const path = join(tempDir(), 'layout.safetensors');
    writeSafetensors(path, new Map([['b', f32([1], [2])], ['a', f32([2], [0, 1])]]), { format: 'pt' });
    const file = readFileSync(path);
    const headerLength = Number(file.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const header = file.subarray(8, 8 + headerLength).toString();
    expect(header.trimEnd()).toBe(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt"}}',
    );
    expect(header.length - header.trimEnd().length).toBeLessThan(8);
    expect(file.length).toBe(8 + headerLength + 12);
  });

  it('accepts a Map and writes no __metadata__ when there is none', () => {
    const path = join(tempDir(), 'plain.safetensors');
    writeSafetensors(path, new Map([['x', SAMPLES.i32]]));
    expect(readFileSync(path).toString()).not.toContain('__metadata__');
    expect(openSafetensors(path).metadata).toEqual({});
  });

  it('rewrites every golden file byte for byte', () => {
    for (const name of goldenCaseNames()) {
      const original = join(GOLDEN_DIR, `${name}.safetensors`);
      const ckpt = openSafetensors(original);
      const copy = join(tempDir(), `${name}.safetensors`);
      writeSafetensors(copy, ckpt.loadAll(), { ...ckpt.metadata });
      expect(readFileSync(copy).equals(readFileSync(original)), name).toBe(true);
    }
  });

  it('replaces the target atomically and leaves no temporary file', () => {
    const dir = tempDir();
    const path = join(dir, 'x.safetensors');
    writeSafetensors(path, { a: f32([1], [1]) });
    writeSafetensors(path, { a: f32([1], [2]) });
    expect(readdirSync(dir)).toEqual(['x.safetensors']);
    expect(openSafetensors(path).load('a').data[0]).toBe(2);
  });
});

describe('float16', () => {
  it('decodes every word exactly', () => {
    for (let w = 0; w < 0x10000; w++) {
      const sign = w & 0x8000 ? -1 : 1;
      const exp = (w >> 10) & 0x1f;
      const mant = w & 0x3ff;
      const expected =
        exp === 0x1f
          ? mant
            ? NaN
            : sign * Infinity
          : sign * (exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15));
      expect(Object.is(fromF16(w), expected), `word ${w.toString(16)}`).toBe(true);
    }
  });

  it('re-encodes every decoded word to itself (NaNs come back quiet)', () => {
    const words = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const again = encodeFloat16(decodeFloat16(words));
    for (let w = 0; w < 0x10000; w++) expect(again[w]).toBe(isHalfNaN(w) ? w | 0x200 : w);
  });

  it('rounds to nearest even and handles the edges', () => {
    expect(f16(1 + 2 ** -11)).toBe(0x3c00); // tie: down to even
    expect(f16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: up to even
    expect(f16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(f16(65504)).toBe(0x7bff);
    expect(f16(65519)).toBe(0x7bff);
    expect(f16(65520)).toBe(0x7c00); // rounds past the largest finite
    expect(f16(-1e6)).toBe(0xfc00);
    expect(f16(2 ** -24)).toBe(0x0001);
    expect(f16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f16(1.5 * 2 ** -24)).toBe(0x0002); // tie between 1 and 2 subnormal units
    expect(f16(2 ** -14 - 2 ** -25)).toBe(0x0400); // carry into the smallest normal
    expect(f16(1e-10)).toBe(0x0000);
    expect(f16(-0)).toBe(0x8000);
    expect(f16(Infinity)).toBe(0x7c00);
    expect(isHalfNaN(f16(NaN))).toBe(true);
  });

  it('picks the nearest half for random values in range', () => {
    const values = Float32Array.from({ length: 20000 }, () => (Math.random() - 0.5) * 2 ** (Math.random() * 42 - 26));
    const words = encodeFloat16(values);
    for (let i = 0; i < values.length; i++) expectNearest(values[i], words[i], fromF16);
  });
});

describe('bfloat16', () => {
  it('decodes by widening the word into the top of a float32', () => {
    expect(fromBf16(0x3f80)).toBe(1);
    expect(fromBf16(0xc000)).toBe(-2);
    expect(fromBf16(0x0001)).toBe(2 ** -133);
    expect(fromBf16(0xff80)).toBe(-Infinity);
    expect(Object.is(fromBf16(0x8000), -0)).toBe(true);
    expect(fromBf16(0x7fc0)).toBeNaN();
  });

  it('re-encodes every decoded word to itself (NaNs come back quiet)', () => {
    const words = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const again = encodeBfloat16(decodeBfloat16(words));
    for (let w = 0; w < 0x10000; w++) expect(again[w]).toBe(isBf16NaN(w) ? w | 0x40 : w);
  });

  it('rounds to nearest even and handles the edges', () => {
    expect(bf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(bf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(bf16(3.4028234663852886e38)).toBe(0x7f80); // float32 max rounds to infinity
    expect(bf16(-Infinity)).toBe(0xff80);
    expect(bf16(-0)).toBe(0x8000);
    expect(isBf16NaN(bf16(NaN))).toBe(true);
    // A NaN whose payload sits in the low 16 bits must not truncate to infinity.
    const nan = new Float32Array(new Uint32Array([0x7f800001]).buffer);
    expect(isBf16NaN(encodeBfloat16(nan)[0])).toBe(true);
  });

  it('picks the nearest bfloat16 for random values', () => {
    const values = Float32Array.from({ length: 20000 }, () => (Math.random() - 0.5) * 2 ** (Math.random() * 200 - 100));
    const words = encodeBfloat16(values);
    for (let i = 0; i < values.length; i++) expectNearest(values[i], words[i], fromBf16);
  });

  it('loads float16 and bfloat16 tensors as float32 on request', () => {
    const values = Float32Array.of(0.1, -2.5, 1000.7, 3e-3);
    const path = join(tempDir(), 'half.safetensors');
    writeSafetensors(path, {
      h: hostTensor('float16', [2, 2], encodeFloat16(values)),
      b: hostTensor('bfloat16', [4], encodeBfloat16(values)),
      i: SAMPLES.i32,
    });
    const ckpt = openSafetensors(path);
    const h = ckpt.load('h', { toFloat32: true });
    const b = ckpt.load('b', { toFloat32: true });
    expect(h.dtype).toBe('float32');
    expect(h.shape).toEqual([2, 2]);
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs((h.data[i] as number) - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11);
      expect(Math.abs((b.data[i] as number) - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -8);
    }
    expect(ckpt.load('h').dtype).toBe('float16');
    expectSameTensor(ckpt.load('i', { toFloat32: true }), SAMPLES.i32);
  });
});

/** `word` decodes to a value no farther from `x` than its neighbours', and to the even one on a tie. */
function expectNearest(x: number, word: number, decode: (w: number) => number): void {
  const err = Math.abs(decode(word) - x);
  for (const neighbour of [word - 1, word + 1]) {
    if ((neighbour & 0x7fff) === 0x7fff || neighbour < 0) continue;
    const other = Math.abs(decode(neighbour) - x);
    expect(err <= other && (err < other || (word & 1) === 0), `${x} -> ${word.toString(16)}`).toBe(true);
  }
}

describe('lazy reading', () => {
  it('lists tensors from the header and reads each from its own byte range', () => {
    const path = join(tempDir(), 'lazy.safetensors');
    writeSafetensors(path, SAMPLES);
    const ckpt = openSafetensors(path);
    const file = readFileSync(path);
    for (const [name, t] of Object.entries(SAMPLES)) {
      const info = ckpt.tensors.get(name)!;
      expect(info.dtype).toBe(t.dtype);
      expect(info.shape).toEqual(t.shape);
      expect(info.file).toBe(path);
      expect(info.byteLength).toBe(t.data.byteLength);
      expect(file.subarray(info.offset, info.offset + info.byteLength).equals(bytesOf(t))).toBe(true);
      expectSameTensor(ckpt.load(name), t);
    }
  });

  it('loads float tensors stored at offsets that are not aligned for their type', () => {
    const path = join(tempDir(), 'unaligned.safetensors');
    const b = f32([5], [1, 2, 3, 4, 5]);
    const c = hostTensor('float64', [2], Float64Array.of(-1, 0.5));
    writeSafetensors(path, { a: hostTensor('uint8', [3], Uint8Array.of(1, 2, 3)), b, c });
    const ckpt = openSafetensors(path);
    expect(ckpt.tensors.get('b')!.offset % 4).not.toBe(0);
    expectSameTensor(ckpt.load('b'), b);
    expectSameTensor(ckpt.load('c'), c);
  });

  it('reads neither the whole file when opening nor the other tensors when loading one', () => {
    // A sparse file with a 256 MiB tensor before a small one.
    const bigBytes = 2 ** 28;
    const header = {
      big: { dtype: 'F32', shape: [bigBytes / 4], data_offsets: [0, bigBytes] },
      small: { dtype: 'F32', shape: [2], data_offsets: [bigBytes, bigBytes + 8] },
    };
    const path = rawFile(header);
    const fd = openSync(path, 'r+');
    const dataStart = readFileSync(path).length;
    ftruncateSync(fd, dataStart + bigBytes + 8);
    writeSync(fd, new Uint8Array(Float32Array.of(3, -4).buffer), 0, 8, dataStart + bigBytes);
    closeSync(fd);

    const before = process.memoryUsage().arrayBuffers;
    const ckpt = openSafetensors(path);
    expect(ckpt.tensors.get('big')!.shape).toEqual([bigBytes / 4]);
    expect([...ckpt.load('small').data]).toEqual([3, -4]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 24);
  });

  it('names the missing tensor', () => {
    const path = join(tempDir(), 'one.safetensors');
    writeSafetensors(path, { a: f32([1], [1]) });
    expect(() => openSafetensors(path).load('nope')).toThrow(/one\.safetensors: no tensor "nope"/);
  });
});

describe('sharded checkpoints', () => {
  // Sorted by name: a (400 B), b (400 B), c (4000 B, alone), d (400 B), e (400 B), f (400 B).
  const tensors = new Map<string, HostTensor>(
    ['a', 'b', 'c', 'd', 'e', 'f'].map((name, i) => [
      name,
      f32([name === 'c' ? 1000 : 100], Array.from({ length: name === 'c' ? 1000 : 100 }, (_, j) => i * 1000 + j)),
    ]),
  );

  it('splits by size, names shards like Hugging Face and writes the index', () => {
    const dir = tempDir();
    const written = writeShardedSafetensors(dir, tensors, { maxShardBytes: 1200, metadata: { format: 'pt' } });
    const shards = [1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`);
    expect(written).toEqual([...shards, INDEX_FILE_NAME].map((f) => join(dir, f)));
    expect(readdirSync(dir).sort()).toEqual([...shards, INDEX_FILE_NAME].sort());

    const index = JSON.parse(readFileSync(join(dir, INDEX_FILE_NAME), 'utf8'));
    expect(index.metadata).toEqual({ format: 'pt', total_size: 6000 });
    const [s1, s2, s3] = shards;
    expect(index.weight_map).toEqual({ a: s1, b: s1, c: s2, d: s3, e: s3, f: s3 });
    expect(openSafetensors(join(dir, shards[2])).metadata).toEqual({ format: 'pt' });
  });

  it('reads all shards back through one lazy view', () => {
    const dir = tempDir();
    writeShardedSafetensors(dir, tensors, { maxShardBytes: 1200 });
    const ckpt = openCheckpoint(dir);
    expect(ckpt.path).toBe(join(dir, INDEX_FILE_NAME));
    expect(ckpt.metadata).toEqual({ total_size: '6000' });
    expect(ckpt.tensors.get('d')!.file).toBe(join(dir, 'model-00003-of-00003.safetensors'));
    const loaded = ckpt.loadAll();
    expect([...loaded.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) expectSameTensor(loaded.get(name)!, t);
  });

  it('writes a single model.safetensors when everything fits, removing a stale sharded save', () => {
    const dir = tempDir();
    writeShardedSafetensors(dir, tensors, { maxShardBytes: 1200 });
    const written = writeShardedSafetensors(dir, tensors, { maxShardBytes: 1e9 });
    expect(written).toEqual([join(dir, SINGLE_FILE_NAME)]);
    expect(readdirSync(dir)).toEqual([SINGLE_FILE_NAME]);
    expect(openCheckpoint(dir).tensors.size).toBe(6);
  });

  it('removes a stale model.safetensors when writing shards', () => {
    const dir = tempDir();
    writeShardedSafetensors(dir, { old: f32([1]) }, { maxShardBytes: 1e9 });
    writeShardedSafetensors(dir, tensors, { maxShardBytes: 1200 });
    expect(existsSync(join(dir, SINGLE_FILE_NAME))).toBe(false);
    expect(openCheckpoint(dir).tensors.has('old')).toBe(false);
  });

  it('opens a file, an index file or a directory, and says what is missing', () => {
    const dir = tempDir();
    writeShardedSafetensors(dir, tensors, { maxShardBytes: 1200 });
    expect(openCheckpoint(join(dir, INDEX_FILE_NAME)).tensors.size).toBe(6);
    expect([...openCheckpoint(join(dir, 'model-00002-of-00003.safetensors')).tensors.keys()]).toEqual(['c']);
    const empty = tempDir();
    expect(() => openCheckpoint(empty)).toThrow(new RegExp(`${empty}: no model.safetensors or ${INDEX_FILE_NAME}`));
  });

  it('rejects an index naming a tensor its shard lacks, or a shard outside its directory', () => {
    const dir = tempDir();
    writeSafetensors(join(dir, 'shard.safetensors'), { a: f32([1]) });
    const indexPath = join(dir, INDEX_FILE_NAME);
    writeFileSync(indexPath, JSON.stringify({ weight_map: { a: 'shard.safetensors', b: 'shard.safetensors' } }));
    expect(() => openShardedSafetensors(indexPath)).toThrow(
      /tensor "b" is mapped to shard\.safetensors, which does not contain it/,
    );
    writeFileSync(indexPath, JSON.stringify({ weight_map: { a: '../shard.safetensors' } }));
    expect(() => openShardedSafetensors(indexPath)).toThrow(/tensor "a": shard "\.\.\/shard\.safetensors" is not a file/);
    writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    expect(() => openShardedSafetensors(indexPath)).toThrow(/not a safetensors index: weight_map/);
  });
});

describe('errors', () => {
  const entry = (shape: number[], offsets: [number, number], dtype = 'F32') => ({
    dtype,
    shape,
    data_offsets: offsets,
  });

  it('reports a file too short for the header length', () => {
    const path = join(tempDir(), 'short.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expect(() => openSafetensors(path)).toThrow(`${path}: truncated: 3 bytes`);
  });

  it('reports a header length larger than the file', () => {
    const path = rawFile({}, undefined, 1000n);
    expect(() => openSafetensors(path)).toThrow(`${path}: header length 1000 is larger than the file (10 bytes)`);
  });

  it('reports a header that is not JSON', () => {
    const path = rawFile('{"a": ');
    expect(() => openSafetensors(path)).toThrow(new RegExp(`${path}: header is not valid UTF-8 JSON`));
  });

  it('reports offsets out of range, naming the tensor', () => {
    const path = rawFile({ w: entry([4], [0, 16]) }, new Uint8Array(8));
    expect(() => openSafetensors(path)).toThrow(`${path}: tensor "w": data_offsets [0,16] are out of range`);
  });

  it('reports overlapping tensors', () => {
    const path = rawFile({ a: entry([4], [0, 16]), b: entry([4], [8, 24]) }, new Uint8Array(24));
    expect(() => openSafetensors(path)).toThrow(`${path}: tensor "b": data_offsets [8,24] overlap tensor "a" [0,16]`);
  });

  it('reports an unknown dtype', () => {
    const path = rawFile({ q: entry([4], [0, 4], 'F8_E4M3') }, new Uint8Array(4));
    expect(() => openSafetensors(path)).toThrow(`${path}: tensor "q": dtype: unknown dtype "F8_E4M3"`);
  });

  it('reports a shape that does not match the byte range', () => {
    const path = rawFile({ w: entry([3], [0, 8]) }, new Uint8Array(8));
    expect(() => openSafetensors(path)).toThrow(
      `${path}: tensor "w": F32[3] needs 12 bytes, data_offsets [0,8] hold 8`,
    );
  });

  it('reports malformed entries and metadata', () => {
    const shapeless = rawFile({ w: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(() => openSafetensors(shapeless)).toThrow(new RegExp(`tensor "w": shape: `));
    const backwards = rawFile({ w: entry([0], [4, 0]) }, new Uint8Array(4));
    expect(() => openSafetensors(backwards)).toThrow(`tensor "w": data_offsets end before they begin`);
    const badMetadata = rawFile({ __metadata__: { epochs: 3 } });
    expect(() => openSafetensors(badMetadata)).toThrow(new RegExp(`${badMetadata}: __metadata__: epochs: `));
  });

  it('reports a file truncated after it was opened, naming the tensor', () => {
    const path = join(tempDir(), 'cut.safetensors');
    writeSafetensors(path, { a: f32([4]), b: f32([4]) });
    const ckpt = openSafetensors(path);
    truncateSync(path, readFileSync(path).length - 8);
    expect(() => ckpt.load('b')).toThrow(new RegExp(`${path}: truncated: tensor "b" ends at byte`));
  });

  it('refuses to write a tensor whose data does not match its shape', () => {
    const bad: HostTensor = { dtype: 'float32', shape: [3], data: new Float32Array(2) };
    const path = join(tempDir(), 'bad.safetensors');
    expect(() => writeSafetensors(path, { bad })).toThrow(/tensor "bad": float32\[3\] needs 12 bytes, its data has 8/);
    expect(existsSync(path)).toBe(false);
  });
});

describe('golden files', () => {
  const names = goldenCaseNames();

  it('has the expected cases', () => {
    expect(names).toEqual(['frgca', 'frlp', 'llama', 'pipeline', 'simple_xattn', 'vit']);
  });

  it.each(names)('%s loads, describes real tensors and splits into weights, inputs and outputs', (name) => {
    const g = loadGolden(name);
    expect(g.config).toBeTypeOf('object');
    for (const described of Object.keys(g.description)) expect(g.tensors.has(described), described).toBe(true);
    const parts = [weightsOf(g), inputsOf(g), outputsOf(g)];
    expect(parts.reduce((n, p) => n + p.size, 0)).toBe(g.tensors.size);
    expect(outputsOf(g).size).toBeGreaterThan(0);
    for (const t of g.tensors.values()) {
      expect(['float32', 'int64']).toContain(t.dtype);
      expect(t.shape.length).toBeGreaterThan(0);
    }
  });

  it('holds the shapes the configs imply', () => {
    const llama = loadGolden('llama');
    expect(weightsOf(llama).get('lm_head.weight')!.shape).toEqual([96, 64]);
    expect(weightsOf(llama).get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([32, 64]); // 2 KV heads
    expect(inputsOf(llama).get('input_ids')!.dtype).toBe('int64');
    expect(outputsOf(llama).get('logits')!.shape).toEqual([2, 7, 96]);

    const vit = loadGolden('vit');
    expect(vit.tensors.get('vision_model.embeddings.patch_embedding.weight')!.shape).toEqual([48, 3, 8, 8]);
    expect(outputsOf(vit).get('select_layer_minus2')!.shape).toEqual([2, 17, 48]);

    const pipeline = loadGolden('pipeline');
    expect(outputsOf(pipeline).get('greedy_ids')!.shape).toEqual([8]);
    expect(outputsOf(pipeline).get('logits')!.shape).toEqual([1, 23, 96]);
    expect(weightsOf(pipeline).get('model.mm_projector.0.weight')!.shape).toEqual([64, 48]);

    const simple = loadGolden('simple_xattn');
    expect(simple.tensors.get('model.landmarks_cross_attn.cross_attn.attn.in_proj_weight')!.shape).toEqual([96, 32]);
    const frlp = loadGolden('frlp');
    expect(frlp.tensors.get('model.landmarks_projector.region_layers.face.weight')!.shape).toEqual([32, 34]);
    expect(outputsOf(loadGolden('frgca')).get('rpp_mask')!.shape).toEqual([2, 2, 16, 9]);
  });
});
