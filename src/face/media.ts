// Media input: a file path or bytes, recognised by its leading bytes (never by its name), and images decoded
// to RGB through sharp. Videos are only recognised here; video.ts decodes them.
import { open } from 'node:fs/promises';
import sharp, { type SharpOptions } from 'sharp';
import { FaceExpertError } from './errors.js';
import { rgbFromSharp, type RgbImage } from './rgb.js';

/** A file path, or the file's bytes. */
export type MediaInput = string | Uint8Array;

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';
export type VideoContainer = 'mp4' | 'matroska' | 'avi';

export type MediaKind = { kind: 'image'; format: ImageFormat } | { kind: 'video'; container: VideoContainer };

/** An input whose kind is known; `source` is what sharp or ffmpeg read (the path, or the bytes). */
export type OpenedMedia = MediaKind & { source: string | Buffer };

/** Default pixel limit of a decoded image or video frame: 100 megapixels (phone cameras reach 50–200). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Images are worked on at most this many pixels along their longer side: a face a sixteenth of the picture wide
 * still fills its 256-pixel crop at full resolution, and memory stays bounded (48 MB of RGB).
 */
export const WORKING_MAX_SIDE = 4096;

const SUPPORTED = 'an image (JPEG, PNG, WebP, GIF, AVIF, TIFF) or a video (MP4, MOV, WebM, MKV, AVI)';

// ISO-BMFF brands of HEIF stills coded with HEVC, which the prebuilt libvips inside sharp cannot decode.
const HEVC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
// QuickTime files written without an `ftyp` box start with one of these atoms.
const QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

const ascii = (b: Uint8Array, start: number, end: number): string => String.fromCharCode(...b.subarray(start, end));

/**
 * What the leading bytes say the media is (at least 32 bytes should be given), or an UNSUPPORTED_MEDIA error.
 * Exported for tests.
 */
export function sniffMedia(head: Uint8Array): MediaKind {
  const startsWith = (...bytes: number[]): boolean => bytes.every((v, i) => head[i] === v);
  if (startsWith(0xff, 0xd8, 0xff)) return { kind: 'image', format: 'jpeg' };
  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return { kind: 'image', format: 'png' };
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') return { kind: 'image', format: 'gif' };
  if (startsWith(0x49, 0x49, 0x2a, 0x00) || startsWith(0x4d, 0x4d, 0x00, 0x2a)) return { kind: 'image', format: 'tiff' };
  if (ascii(head, 0, 4) === 'RIFF') {
    const form = ascii(head, 8, 12);
    if (form === 'WEBP') return { kind: 'image', format: 'webp' };
    if (form === 'AVI ') return { kind: 'video', container: 'avi' };
  }
  if (startsWith(0x1a, 0x45, 0xdf, 0xa3)) return { kind: 'video', container: 'matroska' }; // EBML: WebM, MKV
  const box = ascii(head, 4, 8);
  if (box === 'ftyp') {
    // ftyp box: size, 'ftyp', major brand, minor version, compatible brands up to the box's end.
    const size = Math.min(((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0, head.length);
    const brands = [ascii(head, 8, 12)];
    for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(head, at, at + 4));
    if (brands.includes('avif') || brands.includes('avis')) return { kind: 'image', format: 'avif' };
    if (brands.some((b) => HEVC_BRANDS.has(b))) {
      throw new FaceExpertError('UNSUPPORTED_MEDIA', 'HEIC (HEVC-coded HEIF) images cannot be decoded here; convert to JPEG or AVIF');
    }
    return { kind: 'video', container: 'mp4' };
  }
  if (QUICKTIME_ATOMS.has(box)) return { kind: 'video', container: 'mp4' };
  throw new FaceExpertError('UNSUPPORTED_MEDIA', `not ${SUPPORTED}`);
}

const HEAD_BYTES = 64;

/** Checks that the input exists and is not empty, and finds its kind from its leading bytes. */
export async function openMedia(input: MediaInput): Promise<OpenedMedia> {
  if (typeof input !== 'string') {
    if (input.byteLength === 0) throw new FaceExpertError('EMPTY_INPUT', 'the input is empty (0 bytes)');
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return { ...sniffMedia(bytes.subarray(0, HEAD_BYTES)), source: bytes };
  }
  let handle;
  try {
    handle = await open(input, 'r');
  } catch (err) {
    throw new FaceExpertError('INPUT_NOT_FOUND', `cannot open ${input}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      cause: err,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FaceExpertError('INPUT_NOT_FOUND', `${input} is not a file`);
    if (stat.size === 0) throw new FaceExpertError('EMPTY_INPUT', `${input} is empty (0 bytes)`);
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return { ...sniffMedia(head.subarray(0, bytesRead)), source: input };
  } finally {
    await handle.close();
  }
}

function sharpError(err: unknown): FaceExpertError {
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds pixel limit/i.test(message)) return new FaceExpertError('PIXEL_LIMIT', `image too large: ${message}`);
  if (/unsupported image format/i.test(message)) {
    return new FaceExpertError('UNSUPPORTED_MEDIA', `not ${SUPPORTED}: ${message}`, { cause: err });
  }
  return new FaceExpertError('CORRUPT_MEDIA', `the image is truncated or damaged: ${message}`, { cause: err });
}

export interface DecodedImage {
  /** The picture as analysed: upright RGB, downscaled to WORKING_MAX_SIDE. */
  image: RgbImage;
  /** The source's upright size in pixels. */
  width: number;
  height: number;
}

/**
 * Decodes an image to RGB: EXIF orientation applied, grayscale and CMYK converted, transparency flattened onto
 * white, 16-bit reduced to 8, only the first frame of an animation, downscaled to WORKING_MAX_SIDE.
 * Images of more than `maxPixels` pixels are refused from their header alone, before any decoding.
 */
export async function decodeImage(source: string | Buffer, maxPixels: number): Promise<DecodedImage> {
  try {
    // failOn 'truncated': real photos often carry harmless warnings, but a cut-off file must not pass as grey.
    const options: SharpOptions = { failOn: 'truncated', limitInputPixels: maxPixels, autoOrient: true };
    const { autoOrient } = await sharp(source, { ...options, limitInputPixels: false }).metadata();
    const { width, height } = autoOrient;
    if (width * height > maxPixels) {
      throw new FaceExpertError(
        'PIXEL_LIMIT',
        `image of ${width}×${height} = ${((width * height) / 1e6).toFixed(1)} megapixels exceeds the limit of ${(maxPixels / 1e6).toFixed(1)}`,
      );
    }
    const pipeline = sharp(source, options)
      .resize({ width: WORKING_MAX_SIDE, height: WORKING_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
    return { image: await rgbFromSharp(pipeline), width, height };
  } catch (err) {
    throw err instanceof FaceExpertError ? err : sharpError(err);
  }
}
