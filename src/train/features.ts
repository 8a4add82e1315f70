// The frozen encoder's features, computed once per crop. The vision encoder trains in no stage (SPEC §3), so its
// tokens for a crop never change: they are stored on disk, keyed by the SHA-256 of the crop's bytes within a
// folder per encoder, and every epoch, stage and resumed run reads them instead of running the encoder.
//
// Layout: `<cache>/features/<encoder key>/encoder.json` (which encoder) and `<hh>/<crop hash>.f16` — the N×C
// tokens as little-endian float16 (half the disk of float32; the rounding, 2⁻¹¹ relative, is below what the
// model can resolve, and LLaVA itself trains in 16-bit). Files are written under a temporary name and renamed,
// so a killed run leaves only complete entries. `hashes.json` remembers the hash of each crop file by path, size
// and modification time, so a restart does not read every crop again. Label heads read each crop's tokens averaged
// over the grid, kept once computed under `pooled/` (`readPooled`).
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { join } from 'node:path';
import sharp from 'sharp';
import { hostTensor, type HostTensor } from '../graph/host.js';
import { decodeFloat16, encodeFloat16 } from '../graph/safetensors.js';
import { rgbFromSharp, type RgbImage } from '../face/rgb.js';
import { decodeVideoFrames } from '../face/video.js';
import type { FrameRef } from './data.js';

/** The frozen part of the model: face crops in, encoder tokens out. */
export interface FeatureExtractor {
  /** Names the encoder, its weights and its preprocessing: the cache never mixes features of two extractors. */
  readonly id: string;
  /** N tokens per frame, each of width C. */
  readonly tokens: number;
  readonly width: number;
  /** Encoder tokens [F, N, C] of F crops. */
  encode(crops: readonly RgbImage[]): Promise<HostTensor>;
}

/** Rows of tokens [F, N, C] averaged over their N tokens, [F, C]: summed in float32, then divided by N. */
export function poolTokens(tokens: Float32Array, frames: number, n: number, c: number): Float32Array {
  const out = new Float32Array(frames * c);
  for (let f = 0; f < frames; f++) {
    const row = out.subarray(f * c, (f + 1) * c);
    for (let j = 0; j < n; j++) {
      const base = (f * n + j) * c;
      for (let q = 0; q < c; q++) row[q] += tokens[base + q];
    }
    for (let q = 0; q < c; q++) row[q] /= n;
  }
  return out;
}

/** Frames encoded per encoder run. */
const ENCODE_CHUNK = 16;

/** A frame's name: its file, or its clip and index. */
export const frameName = (f: FrameRef): string => ('file' in f ? f.file : `${f.clip}#${f.index}`);
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

interface FileHash {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export class FeatureStore {
  /** Content key of each frame seen, by frame name. */
  private readonly keys = new Map<string, string>();

  private constructor(
    readonly dir: string,
    readonly extractor: FeatureExtractor,
    private readonly fileHashes: Record<string, FileHash>,
  ) {}

  static async open(cacheDir: string, extractor: FeatureExtractor): Promise<FeatureStore> {
    const identity = { id: extractor.id, tokens: extractor.tokens, width: extractor.width, dtype: 'float16' };
    const dir = join(cacheDir, 'features', sha256(JSON.stringify(identity)).slice(0, 16));
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'encoder.json'), JSON.stringify(identity, null, 2) + '\n');
    let hashes: Record<string, FileHash> = {};
    try {
      hashes = JSON.parse(await readFile(join(dir, 'hashes.json'), 'utf8')) as Record<string, FileHash>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new FeatureStore(dir, extractor, hashes);
  }

  /**
   * Makes sure every frame has its features on disk, running the encoder on those that have none. Reports the
   * frames encoded so far and how many needed encoding. Stopped by `signal`, it returns false after the chunk in
   * flight: what was encoded stays cached, and the next call encodes the rest.
   */
  async ensure(frames: Iterable<FrameRef>, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<boolean> {
    const missing: FrameRef[] = [];
    const seen = new Set<string>();
    for (const frame of frames) {
      const name = frameName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      const key = await this.hashFrame(frame);
      this.keys.set(name, key);
      if (!(await exists(this.path(key)))) missing.push(frame);
    }
    await writeFileAtomic(join(this.dir, 'hashes.json'), JSON.stringify(this.fileHashes));
    const rowSize = this.extractor.tokens * this.extractor.width;
    for (let start = 0; start < missing.length; start += ENCODE_CHUNK) {
      if (signal?.aborted) return false;
      onProgress?.(start, missing.length);
      const chunk = missing.slice(start, start + ENCODE_CHUNK);
      const tokens = await this.extractor.encode(await readCrops(chunk));
      const expected = [chunk.length, this.extractor.tokens, this.extractor.width].join(',');
      if (tokens.dtype !== 'float32' || tokens.shape.join(',') !== expected) {
        throw new Error(`encoder ${this.extractor.id} returned ${tokens.dtype}[${tokens.shape.join(', ')}], want float32[${expected}]`);
      }
      const data = tokens.data as Float32Array;
      for (const [i, frame] of chunk.entries()) {
        const path = this.path(this.keys.get(frameName(frame))!);
        await mkdir(join(path, '..'), { recursive: true });
        await writeFileAtomic(path, new Uint8Array(encodeFloat16(data.subarray(i * rowSize, (i + 1) * rowSize)).buffer));
      }
    }
    if (missing.length) onProgress?.(missing.length, missing.length);
    return true;
  }

  /** Encoder tokens [F, N, C] of frames that `ensure` has seen. */
  async read(frames: readonly FrameRef[]): Promise<HostTensor> {
    const { tokens, width } = this.extractor;
    const out = hostTensor('float32', [frames.length, tokens, width]);
    const data = out.data as Float32Array;
    for (const [i, frame] of frames.entries()) {
      const key = this.keys.get(frameName(frame));
      if (!key) throw new Error(`FeatureStore.read: ${frameName(frame)} was not prepared with ensure()`);
      const bytes = await readFile(this.path(key));
      if (bytes.length !== tokens * width * 2) throw new Error(`${this.path(key)}: ${bytes.length} bytes, want ${tokens * width * 2}`);
      const words = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      data.set(decodeFloat16(words), i * tokens * width);
    }
    return out;
  }

  /**
   * Each frame's tokens averaged over the grid, [F, C] (`poolTokens`), for frames that `ensure` has seen. The
   * means are kept beside the tokens (`pooled/<hh>/<key>.f32`, float32 so that they are the very numbers pooling
   * gives): a label head's fit reads C floats a crop instead of N·C float16s, which for 49 tokens of 2,048 is the
   * difference between seconds and minutes.
   */
  async readPooled(frames: readonly FrameRef[]): Promise<Float32Array> {
    const { tokens, width } = this.extractor;
    const out = new Float32Array(frames.length * width);
    const missing: number[] = [];
    for (const [i, frame] of frames.entries()) {
      const key = this.keys.get(frameName(frame));
      if (!key) throw new Error(`FeatureStore.readPooled: ${frameName(frame)} was not prepared with ensure()`);
      let bytes: Buffer;
      try {
        bytes = await readFile(this.pooledPath(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        missing.push(i);
        continue;
      }
      if (bytes.length !== width * 4) throw new Error(`${this.pooledPath(key)}: ${bytes.length} bytes, want ${width * 4}`);
      out.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), i * width);
    }
    if (missing.length) {
      const pooled = poolTokens((await this.read(missing.map((i) => frames[i]))).data as Float32Array, missing.length, tokens, width);
      for (const [q, i] of missing.entries()) {
        const row = pooled.subarray(q * width, (q + 1) * width);
        out.set(row, i * width);
        const path = this.pooledPath(this.keys.get(frameName(frames[i]))!);
        await mkdir(join(path, '..'), { recursive: true });
        await writeFileAtomic(path, new Uint8Array(row.slice().buffer));
      }
    }
    return out;
  }

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.f16`);
  }

  private pooledPath(key: string): string {
    return join(this.dir, 'pooled', key.slice(0, 2), `${key}.f32`);
  }

  /** The content hash of a frame: of its image file, or of its clip's bytes and its index in the clip. */
  private async hashFrame(frame: FrameRef): Promise<string> {
    if ('file' in frame) return this.hashFile(frame.file);
    return sha256(`${await this.hashFile(frame.clip)}#${frame.index}`);
  }

  private async hashFile(file: string): Promise<string> {
    const info = await stat(file);
    const known = this.fileHashes[file];
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) return known.sha256;
    const hash = sha256(await readFile(file));
    this.fileHashes[file] = { size: info.size, mtimeMs: info.mtimeMs, sha256: hash };
    return hash;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Decodes crops to RGB: image files with sharp, clip frames with ffmpeg (all frames of a clip at once). */
async function readCrops(frames: readonly FrameRef[]): Promise<RgbImage[]> {
  const clips = new Map<string, Promise<Map<number, RgbImage>>>();
  return Promise.all(
    frames.map(async (frame) => {
      if ('file' in frame) return rgbFromSharp(sharp(frame.file).removeAlpha().toColourspace('srgb'));
      let decoded = clips.get(frame.clip);
      if (!decoded) {
        const wanted = frames.flatMap((f) => ('clip' in f && f.clip === frame.clip ? [f.index] : []));
        const indices = [...new Set(wanted)].sort((a, b) => a - b);
        const tools = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };
        decoded = decodeVideoFrames(frame.clip, indices, tools).then((images) => new Map(images.map((image, k) => [indices[k], image])));
        clips.set(frame.clip, decoded);
      }
      const image = (await decoded).get(frame.index);
      if (!image) throw new Error(`${frame.clip}: frame ${frame.index} does not decode`);
      return image;
    }),
  );
}
