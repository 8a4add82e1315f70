// The face expert as the builder uses it: bytes in, 256×256 crops and 68 landmarks out, through the disk cache.
import { FaceExpertError } from '../../face/errors.js';
import { FaceCache, type FaceCrops, type FaceEntry, type NoFace } from '../cache.js';

/** What the builder needs of a face expert. `analyze` throws a FaceExpertError when the file has no usable face. */
export interface FaceExpert {
  /** The model and options the results depend on: part of every cache key. */
  readonly id: string;
  /** An image or a video, told apart by its bytes. */
  analyze(bytes: Buffer): Promise<FaceCrops>;
  close(): Promise<void>;
}

/**
 * The face of one file: from the cache when this file (these bytes, this expert) was analysed before, else from
 * the expert, then cached. A file without a usable face is cached as such. Failures that do not depend on the
 * file (ffmpeg missing) are not cached: they throw, and stop the build.
 */
export async function resolveFace(cache: FaceCache, expert: FaceExpert, bytes: Buffer): Promise<FaceEntry | NoFace> {
  const key = cache.keyOf(bytes);
  const cached = await cache.lookup(key);
  if (cached) return cached;
  let found: FaceCrops;
  try {
    found = await expert.analyze(bytes);
  } catch (err) {
    if (err instanceof FaceExpertError && err.code !== 'FFMPEG_UNAVAILABLE') return cache.storeNoFace(key, err.code, err.message);
    throw err;
  }
  return cache.store(key, found);
}
