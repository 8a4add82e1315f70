// Video frames through ffmpeg: count the frames, pick k of them uniformly (linspace(0, n−1, k), rounded, as
// Video-LLaVA samples 8), and decode exactly those to RGB. ffmpeg and ffprobe run as child processes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FaceExpertError } from './errors.js';
import type { RgbImage } from './rgb.js';

export interface FfmpegPaths {
  ffmpeg: string;
  ffprobe: string;
}

export interface VideoInfo {
  /** Size of the coded frames (before any rotation the container asks for). */
  width: number;
  height: number;
  /** Frames in the video stream: packets counted by demuxing, or frames counted by decoding. */
  frameCount: number;
  /** Average frame rate, when the container states one. */
  fps: number | null;
}

/** Frames are decoded at most this big along their longer side (Full HD); a face crop needs far less. */
export const VIDEO_MAX_SIDE = 1920;

/** `count` frame indices spread uniformly over `frameCount` frames: linspace(0, n−1, count), rounded. */
export function sampleFrameIndices(frameCount: number, count: number): number[] {
  if (count === 1) return [0]; // linspace's single point is its start
  return Array.from({ length: count }, (_, i) => Math.round((i * (frameCount - 1)) / (count - 1)));
}

interface Completed {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function runTool(executable: string, args: string[]): Promise<Completed> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new FaceExpertError('FFMPEG_UNAVAILABLE', `${executable} is not installed or not on PATH; videos need ffmpeg`)
          : e,
      );
    });
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim() }),
    );
  });
}

const lastLine = (text: string): string => text.split('\n').pop() ?? '';

/**
 * Reads the first video stream's size, frame rate and frame count. `decode` counts frames by decoding them all
 * (exact but slow); otherwise packets are counted by demuxing only, which for video is one packet per frame.
 */
export async function probeVideo(file: string, tools: FfmpegPaths, decode = false): Promise<VideoInfo> {
  const count = decode ? ['-count_frames'] : ['-count_packets'];
  const field = decode ? 'nb_read_frames' : 'nb_read_packets';
  const { code, stdout, stderr } = await runTool(tools.ffprobe, [
    '-v', 'error', '-select_streams', 'v:0', ...count,
    '-show_entries', `stream=width,height,avg_frame_rate,${field}`, '-of', 'json', file,
  ]);
  if (code !== 0) throw new FaceExpertError('CORRUPT_MEDIA', `the video cannot be opened: ${lastLine(stderr) || `ffprobe exit ${code}`}`);
  const stream = (JSON.parse(stdout.toString('utf8')) as { streams?: Record<string, unknown>[] }).streams?.[0];
  if (!stream) throw new FaceExpertError('NO_VIDEO_FRAMES', 'the file has no video stream');
  const frameCount = Number(stream[field] ?? 0);
  if (!(frameCount > 0)) throw new FaceExpertError('NO_VIDEO_FRAMES', 'the video stream has no decodable frames');
  const [num, den] = String(stream.avg_frame_rate ?? '0/0').split('/').map(Number);
  return { width: Number(stream.width), height: Number(stream.height), frameCount, fps: den > 0 && num > 0 ? num / den : null };
}

/** Splits ffmpeg's image2pipe PPM output ("P6 <w> <h> 255", then RGB bytes) into frames. */
function parsePpmStream(bytes: Buffer): RgbImage[] {
  const frames: RgbImage[] = [];
  let at = 0;
  while (at < bytes.length) {
    const fields: string[] = [];
    while (fields.length < 4) {
      while (at < bytes.length && /\s/.test(String.fromCharCode(bytes[at]))) at++;
      const start = at;
      while (at < bytes.length && !/\s/.test(String.fromCharCode(bytes[at]))) at++;
      fields.push(bytes.toString('latin1', start, at));
    }
    at++; // the single whitespace byte that ends the header
    const [magic, w, h, maxval] = fields;
    const width = Number(w);
    const height = Number(h);
    if (magic !== 'P6' || maxval !== '255' || !(width > 0 && height > 0)) throw new Error('unexpected frame format from ffmpeg');
    const size = width * height * 3;
    if (at + size > bytes.length) break; // a frame cut short by a decoder failure is not a frame
    frames.push({ width, height, rgb: new Uint8Array(bytes.buffer, bytes.byteOffset + at, size) });
    at += size;
  }
  return frames;
}

/**
 * Decodes the frames at the given indices (sorted, distinct), with the container's rotation applied and scaled
 * to fit VIDEO_MAX_SIDE. Returns fewer frames than asked when the stream ends early.
 */
export async function decodeVideoFrames(file: string, indices: readonly number[], tools: FfmpegPaths): Promise<RgbImage[]> {
  const select = indices.map((i) => `eq(n\\,${i})`).join('+');
  const fit = `scale=w='min(iw,${VIDEO_MAX_SIDE})':h='min(ih,${VIDEO_MAX_SIDE})':force_original_aspect_ratio=decrease`;
  const { code, stdout, stderr } = await runTool(tools.ffmpeg, [
    '-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0',
    '-vf', `select='${select}',${fit}`, '-vsync', '0', '-frames:v', String(indices.length),
    '-f', 'image2pipe', '-c:v', 'ppm', 'pipe:1',
  ]);
  const frames = parsePpmStream(stdout);
  if (code !== 0 && frames.length === 0) {
    throw new FaceExpertError('NO_VIDEO_FRAMES', `no frame of the video decodes: ${lastLine(stderr) || `ffmpeg exit ${code}`}`);
  }
  return frames;
}

export interface SampledVideo {
  info: VideoInfo;
  /** The sampled frame indices, in order; short videos repeat indices (linspace over fewer than `count` frames). */
  indices: number[];
  /** The decoded frame of each distinct index. */
  frames: Map<number, RgbImage>;
}

/** Samples `count` frames uniformly and decodes them, refusing videos whose frames exceed `maxPixels`. */
export async function sampleVideo(file: string, count: number, tools: FfmpegPaths, maxPixels: number): Promise<SampledVideo> {
  let info = await probeVideo(file, tools);
  if (info.width * info.height > maxPixels) {
    throw new FaceExpertError('PIXEL_LIMIT', `video frames of ${info.width}×${info.height} exceed the limit of ${maxPixels} pixels`);
  }
  for (const exact of [false, true]) {
    if (exact) info = await probeVideo(file, tools, true);
    const indices = sampleFrameIndices(info.frameCount, count);
    const distinct = [...new Set(indices)];
    const frames = await decodeVideoFrames(file, distinct, tools);
    // Fewer frames than asked: the packet count overstated the decodable frames (a damaged or cut-off stream).
    // Count them by decoding, once, and sample again.
    if (frames.length === distinct.length) return { info, indices, frames: new Map(distinct.map((i, k) => [i, frames[k]])) };
  }
  throw new FaceExpertError('CORRUPT_MEDIA', 'the video decodes inconsistently: sampled frames are missing');
}

/** Runs `fn` on a file path holding the video: the path itself, or a temporary copy of the bytes. */
export async function withVideoFile<T>(source: string | Buffer, fn: (file: string) => Promise<T>): Promise<T> {
  if (typeof source === 'string') return fn(source);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'face-llava-video-'));
  try {
    const file = path.join(dir, 'input');
    await writeFile(file, source);
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
