// The on-disk cache of the face expert's work: per source file, its 256×256 face crop(s) and 68 landmarks, keyed by
// the SHA-256 of the file's bytes and the face expert's identity (model and options). A rerun, a resumed run or
// another build over the same files finds them here instead of detecting again. A file without a usable face is
// cached too, with the reason, so it is not tried again either.
//
// Layout: `<dir>/<first two hex digits>/<key>.json` (the entry) beside `<key>.jpg` (an image's crop) or
// `<key>-<i>.jpg` and `<key>.mp4` (a video's sampled frames, and the same frames as a clip). Every file is
// written under a temporary name and renamed into place, the entry last: a present entry means complete media,
// and concurrent writers of one key (same bytes, same content) cannot corrupt it.
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { join } from 'node:path';
import { sharpFromRgb, type RgbImage } from '../face/rgb.js';
import type { Landmarks } from './cues.js';
import type { MediaKind } from './build/types.js';

/** What the face expert found in one file: one crop and landmark set per image, or per sampled video frame. */
export interface FaceCrops {
  readonly media: MediaKind;
  readonly crops: readonly RgbImage[];
  readonly landmarks: readonly Landmarks[];
}

/** A cached face: absolute paths of the crop JPEGs (and the clip of a video), and the landmarks per frame. */
export interface FaceEntry {
  readonly key: string;
  readonly media: MediaKind;
  readonly frames: readonly string[];
  /** The frames as an MP4 clip, for a video: the released format's `video` is one file. */
  readonly clip?: string;
  readonly landmarks: readonly Landmarks[];
}

/** A file in which no usable face was found; `reason` is the face expert's error code. */
export interface NoFace {
  readonly key: string;
  readonly reason: string;
  readonly message: string;
}

interface StoredEntry {
  v: 1;
  media?: MediaKind;
  frames?: number;
  landmarks?: Landmarks[];
  reason?: string;
  message?: string;
}

const JPEG_QUALITY = 92;
/** Five decimals: 1/400 of a pixel of a 256-pixel crop, finer than any detector, and half the JSON of full floats. */
const round = (v: number): number => Math.round(v * 1e5) / 1e5;

/** Encodes JPEG frames into an H.264 MP4 (one frame per JPEG, 8 fps) with ffmpeg. */
async function encodeClip(frames: readonly Buffer[], path: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp.mp4`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'image2pipe', '-framerate', '8', '-c:v', 'mjpeg', '-i', '-'];
  args.push('-c:v', 'libx264', '-crf', '18', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', tmp);
  await new Promise<void>((resolve, reject) => {
    const ffmpeg = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    ffmpeg.on('error', (err) => reject(new Error(`cannot run ffmpeg to write ${path}: ${err.message}`)));
    ffmpeg.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed writing ${path}: ${stderr.trim()}`))));
    ffmpeg.stdin.on('error', () => {}); // a failing ffmpeg closes its input; the exit code reports why
    for (const frame of frames) ffmpeg.stdin.write(frame);
    ffmpeg.stdin.end();
  });
  await rename(tmp, path);
}

export class FaceCache {
  /**
   * @param dir the cache folder
   * @param expertId what the results depend on besides the bytes (the face expert's model and options): part of
   *   every key, so changing the expert never serves stale crops
   */
  constructor(
    readonly dir: string,
    private readonly expertId: string,
  ) {}

  keyOf(bytes: Uint8Array): string {
    return createHash('sha256').update(this.expertId).update('\0').update(bytes).digest('hex');
  }

  private base(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  private entryFrom(key: string, stored: StoredEntry): FaceEntry | NoFace {
    if (stored.reason !== undefined) return { key, reason: stored.reason, message: stored.message ?? stored.reason };
    const base = this.base(key);
    const count = stored.frames ?? 1;
    return stored.media === 'image'
      ? { key, media: 'image', frames: [`${base}.jpg`], landmarks: stored.landmarks ?? [] }
      : {
          key,
          media: 'video',
          frames: Array.from({ length: count }, (_, i) => `${base}-${i}.jpg`),
          clip: `${base}.mp4`,
          landmarks: stored.landmarks ?? [],
        };
  }

  /** The cached result for a key, or undefined when the file was never analysed. */
  async lookup(key: string): Promise<FaceEntry | NoFace | undefined> {
    let text: string;
    try {
      text = await readFile(`${this.base(key)}.json`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return this.entryFrom(key, JSON.parse(text) as StoredEntry);
  }

  /** Stores what the face expert found (crops and landmarks), and returns the entry with the files' paths. */
  async store(key: string, found: FaceCrops): Promise<FaceEntry> {
    const media = found.media;
    if (found.crops.length === 0 || found.crops.length !== found.landmarks.length) {
      throw new Error(`face expert returned ${found.crops.length} crops and ${found.landmarks.length} landmark sets`);
    }
    if (media === 'image' && found.crops.length !== 1) throw new Error(`an image gives one crop, got ${found.crops.length}`);
    const base = this.base(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const jpegs = await Promise.all(found.crops.map((crop) => sharpFromRgb(crop).jpeg({ quality: JPEG_QUALITY }).toBuffer()));
    if (media === 'image') await writeFileAtomic(`${base}.jpg`, jpegs[0]);
    else {
      await Promise.all(jpegs.map((jpeg, i) => writeFileAtomic(`${base}-${i}.jpg`, jpeg)));
      await encodeClip(jpegs, `${base}.mp4`);
    }
    const stored: StoredEntry = {
      v: 1,
      media,
      frames: jpegs.length,
      landmarks: found.landmarks.map((frame) => frame.map(([x, y]) => [round(x), round(y)] as const)),
    };
    await writeFileAtomic(`${base}.json`, JSON.stringify(stored));
    return this.entryFrom(key, stored) as FaceEntry;
  }

  /** Records that a file holds no usable face. */
  async storeNoFace(key: string, reason: string, message: string): Promise<NoFace> {
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    await writeFileAtomic(`${this.base(key)}.json`, JSON.stringify({ v: 1, reason, message } satisfies StoredEntry));
    return { key, reason, message };
  }
}

export function isFaceEntry(result: FaceEntry | NoFace): result is FaceEntry {
  return 'frames' in result;
}
