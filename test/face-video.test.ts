// Videos assembled at test time with ffmpeg from a real face picture, slid sideways 4 pixels per frame so that
// the face's position tells which frame was decoded.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceExpert, sampleFrameIndices, type FaceExpert } from '../src/face/index.js';
import { codeOf } from './helpers/face-errors.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const run = promisify(execFile);

const WIDTH = 224;
const HEIGHT = 144;
const FACE = 128;
const STEP = 4;
const FRAMES = 24;

/** Zeroes the data of an AVI's video chunks (`00dc`) from the `from`-th on; returns how many were wiped. */
function wipeAviFrames(avi: Buffer, from: number): number {
  // Frames are the '00dc' chunks of the 'movi' list; the headers before and the index after name '00dc' too.
  const index = avi.lastIndexOf('idx1');
  let seen = 0;
  for (let at = avi.indexOf('00dc', avi.indexOf('movi')); at >= 0 && at < index; at = avi.indexOf('00dc', at + 8)) {
    const size = avi.readUInt32LE(at + 4);
    if (seen++ >= from) avi.fill(0, at + 8, at + 8 + size);
  }
  return Math.max(0, seen - from);
}

describe('uniform frame sampling', () => {
  it('is linspace(0, n − 1, k), rounded', () => {
    expect(sampleFrameIndices(24, 8)).toEqual([0, 3, 7, 10, 13, 16, 20, 23]);
    expect(sampleFrameIndices(100, 8)).toEqual([0, 14, 28, 42, 57, 71, 85, 99]);
    expect(sampleFrameIndices(24, 3)).toEqual([0, 12, 23]);
    expect(sampleFrameIndices(5, 8)).toEqual([0, 1, 1, 2, 2, 3, 3, 4]);
    expect(sampleFrameIndices(1, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(sampleFrameIndices(50, 1)).toEqual([0]);
  });
});

describe.skipIf(!hasFfmpeg || !packAvailable('realorfake'))('face expert on videos', () => {
  let expert: FaceExpert;
  let dir: string;
  let face: Buffer; // a realorfake face resized to FACE pixels
  const frameAt = (i: number): Promise<Buffer> =>
    sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#7f7f7f' } })
      .composite([{ input: face, left: STEP * i, top: (HEIGHT - FACE) / 2 }])
      .png()
      .toBuffer();
  const blank = (): Promise<Buffer> =>
    sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#7f7f7f' } }).png().toBuffer();

  /** Encodes the frames (PNG) into `name` with the given ffmpeg output arguments. */
  async function encode(frames: Buffer[], name: string, codec: string[]): Promise<string> {
    const frameDir = await mkdtemp(path.join(dir, 'frames-'));
    await Promise.all(frames.map((f, i) => writeFile(path.join(frameDir, `${String(i).padStart(3, '0')}.png`), f)));
    const out = path.join(dir, name);
    await run('ffmpeg', ['-v', 'error', '-y', '-framerate', '8', '-i', path.join(frameDir, '%03d.png'), ...codec, out]);
    return out;
  }
  const MPEG4 = ['-c:v', 'mpeg4', '-q:v', '2', '-pix_fmt', 'yuv420p'];
  let sliding: string; // FRAMES frames, the face at x = STEP · index
  /** Where the face is found in the source frame i, for comparison with the decoded frames. */
  const boxX = new Map<number, number>();

  beforeAll(async () => {
    expert = await createFaceExpert();
    dir = await mkdtemp(path.join(os.tmpdir(), 'face-video-'));
    face = await sharp([...(await samplePack('realorfake', 'val', 1)).values()][0]).resize(FACE).png().toBuffer();
    const frames = await Promise.all(Array.from({ length: FRAMES }, (_, i) => frameAt(i)));
    sliding = await encode(frames, 'sliding.mp4', MPEG4);
    for (const i of sampleFrameIndices(FRAMES, 8)) boxX.set(i, (await expert.analyzeImage(frames[i])).faces[0].box.x);
  });
  afterAll(async () => {
    expert?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('analyses the 8 frames at linspace(0, n − 1, 8), exactly those', async () => {
    const result = await expert.analyzeVideo(sliding);
    expect(result).toMatchObject({ kind: 'video', container: 'mp4', width: WIDTH, height: HEIGHT, frameCount: FRAMES, fps: 8 });
    expect(result.sampledIndices).toEqual([0, 3, 7, 10, 13, 16, 20, 23]);
    expect(result.droppedIndices).toEqual([]);
    expect(result.frames.map((f) => f.index)).toEqual(result.sampledIndices);
    for (const frame of result.frames) {
      expect(frame.faces).toHaveLength(1);
      expect(frame.faces[0].crop.rgb.length).toBe(256 * 256 * 3);
      // Neighbouring frames put the face STEP pixels apart: the box tells the decoded frame.
      expect(Math.abs(frame.faces[0].box.x - boxX.get(frame.index)!)).toBeLessThan(STEP / 2);
    }
  });

  it('opens MP4, MOV, WebM, MKV and AVI, from paths and from bytes', async () => {
    const frames = await Promise.all(Array.from({ length: FRAMES }, (_, i) => frameAt(i)));
    const videos = {
      'clip.mov': { codec: ['-c:v', 'mjpeg', '-q:v', '2'], container: 'mp4' },
      'clip.webm': { codec: ['-c:v', 'libvpx', '-b:v', '2M', '-pix_fmt', 'yuv420p'], container: 'matroska' },
      'clip.mkv': { codec: ['-c:v', 'ffv1'], container: 'matroska' },
      'clip.avi': { codec: ['-c:v', 'mjpeg', '-q:v', '2'], container: 'avi' },
    };
    for (const [name, { codec, container }] of Object.entries(videos)) {
      const file = await encode(frames, name, codec);
      const result = await expert.analyze(file);
      expect(result.kind).toBe('video');
      if (result.kind !== 'video') continue;
      expect({ name, container: result.container, frameCount: result.frameCount }).toEqual({ name, container, frameCount: FRAMES });
      expect(result.frames.map((f) => f.index)).toEqual([0, 3, 7, 10, 13, 16, 20, 23]);
    }
    const fromBytes = await expert.analyzeVideo(await readFile(sliding), { frames: 3 });
    expect(fromBytes.sampledIndices).toEqual([0, 12, 23]);
    expect(fromBytes.frames).toHaveLength(3);
  });

  it('repeats frames of videos shorter than the sample, as linspace does', async () => {
    const short = await encode(await Promise.all([0, 1, 2, 3, 4].map(frameAt)), 'short.mp4', MPEG4);
    const result = await expert.analyzeVideo(short);
    expect(result.frameCount).toBe(5);
    expect(result.frames.map((f) => f.index)).toEqual([0, 1, 1, 2, 2, 3, 3, 4]);
  });

  it('drops frames without a face, and fails beyond 30 % of them', async () => {
    const frames = await Promise.all(Array.from({ length: FRAMES }, (_, i) => frameAt(i)));
    const withBlanks = async (name: string, blanks: number[]): Promise<string> => {
      const copy = [...frames];
      for (const i of blanks) copy[i] = await blank();
      return encode(copy, name, MPEG4);
    };
    const two = await expert.analyzeVideo(await withBlanks('two-blank.mp4', [3, 13]));
    expect(two.droppedIndices).toEqual([3, 13]);
    expect(two.frames.map((f) => f.index)).toEqual([0, 7, 10, 16, 20, 23]);
    const three = await withBlanks('three-blank.mp4', [3, 13, 20]);
    expect(await codeOf(expert.analyzeVideo(three))).toBe('TOO_FEW_FACE_FRAMES');
    await expect(expert.analyzeVideo(three)).rejects.toThrow(/3 of 8 sampled frames show no face/);
  });

  it('tells damaged videos, videos without frames and a missing ffmpeg apart', async () => {
    const mp4 = await readFile(sliding); // mpeg4 in MP4: the index (moov) comes last, so half a file has none
    expect(await codeOf(expert.analyzeVideo(mp4.subarray(0, mp4.length >> 1)))).toBe('CORRUPT_MEDIA');
    // An AVI whose frames were all wiped: the container and its index are fine, no frame decodes.
    const avi = await readFile(await encode(await Promise.all([0, 1, 2, 3].map(frameAt)), 'wiped.avi', ['-c:v', 'mjpeg']));
    expect(wipeAviFrames(avi, 0)).toBe(4);
    expect(await codeOf(expert.analyzeVideo(avi))).toBe('NO_VIDEO_FRAMES');
    // An MP4 holding only sound.
    const audio = path.join(dir, 'audio.mp4');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', audio]);
    expect(await codeOf(expert.analyzeVideo(audio))).toBe('NO_VIDEO_FRAMES');
    expect(await codeOf(expert.analyzeImage(sliding))).toBe('UNSUPPORTED_MEDIA');
    const small = await createFaceExpert({ maxPixels: 1000 });
    const noFfmpeg = await createFaceExpert({ ffmpeg: { ffprobe: path.join(dir, 'no-such-ffprobe') } });
    try {
      expect(await codeOf(small.analyzeVideo(sliding))).toBe('PIXEL_LIMIT');
      expect(await codeOf(noFfmpeg.analyzeVideo(sliding))).toBe('FFMPEG_UNAVAILABLE');
    } finally {
      small.dispose();
      noFfmpeg.dispose();
    }
  });

  it('samples among the frames that decode when the last ones are damaged', async () => {
    const frames = await Promise.all(Array.from({ length: FRAMES }, (_, i) => frameAt(i)));
    const avi = await readFile(await encode(frames, 'tail.avi', ['-c:v', 'mjpeg', '-q:v', '2']));
    expect(wipeAviFrames(avi, 20)).toBe(4);
    // 24 packets, 20 decodable frames: the sample is linspace(0, 19, 8).
    const result = await expert.analyzeVideo(avi);
    expect(result.frameCount).toBe(20);
    expect(result.sampledIndices).toEqual([0, 3, 5, 8, 11, 14, 16, 19]);
    expect(result.frames).toHaveLength(8);
  });

  it('takes videos of face crops without detection', async () => {
    const crops = await encode(
      await Promise.all(Array.from({ length: 10 }, () => sharp(face).png().toBuffer())),
      'crops.mp4',
      MPEG4,
    );
    const result = await expert.analyzeVideo(crops, { skipDetection: true });
    expect(result.frames).toHaveLength(8);
    for (const frame of result.frames) expect(frame.faces[0]).toMatchObject({ score: null, box: { x: 0, y: 0, width: FACE, height: FACE } });
  });
});
