import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceExpertError } from '../src/face/errors.js';
import { decodeImage, openMedia, sniffMedia, WORKING_MAX_SIDE } from '../src/face/media.js';
import { codeOf } from './helpers/face-errors.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const head = (...parts: (number[] | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : p)).concat(new Array(32).fill(0)));
const u32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

// A PNG that declares 30 000 × 30 000 pixels in under 100 bytes: a decompression bomb, as far as its header goes.
function pngBomb(): Buffer {
  const crc32 = (bytes: Buffer): number => {
    let c = ~0;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    return Buffer.concat([Buffer.from(u32(data.length)), body, Buffer.from(u32(crc32(body)))]);
  };
  const ihdr = Buffer.from([...u32(30000), ...u32(30000), 8, 2, 0, 0, 0]);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

describe('face media: recognising inputs by their bytes', () => {
  it('knows the image formats and video containers', () => {
    expect(sniffMedia(head([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ kind: 'image', format: 'jpeg' });
    expect(sniffMedia(head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toEqual({ kind: 'image', format: 'png' });
    expect(sniffMedia(head('GIF89a'))).toEqual({ kind: 'image', format: 'gif' });
    expect(sniffMedia(head('RIFF', [0, 0, 0, 0], 'WEBPVP8 '))).toEqual({ kind: 'image', format: 'webp' });
    expect(sniffMedia(head([0x49, 0x49, 0x2a, 0]))).toEqual({ kind: 'image', format: 'tiff' });
    expect(sniffMedia(head([0x4d, 0x4d, 0, 0x2a]))).toEqual({ kind: 'image', format: 'tiff' });
    expect(sniffMedia(head(u32(28), 'ftypavif', u32(0), 'avifmif1miaf'))).toEqual({ kind: 'image', format: 'avif' });
    // AVIF files may carry `avif` among the compatible brands only.
    expect(sniffMedia(head(u32(24), 'ftypmif1', u32(0), 'avif'))).toEqual({ kind: 'image', format: 'avif' });
    expect(sniffMedia(head(u32(24), 'ftypisom', u32(512), 'isom'))).toEqual({ kind: 'video', container: 'mp4' });
    expect(sniffMedia(head(u32(20), 'ftypqt  ', u32(0)))).toEqual({ kind: 'video', container: 'mp4' });
    expect(sniffMedia(head(u32(8), 'wide'))).toEqual({ kind: 'video', container: 'mp4' });
    expect(sniffMedia(head([0x1a, 0x45, 0xdf, 0xa3]))).toEqual({ kind: 'video', container: 'matroska' });
    expect(sniffMedia(head('RIFF', [0, 0, 0, 0], 'AVI LIST'))).toEqual({ kind: 'video', container: 'avi' });
  });

  it('refuses what is neither, with UNSUPPORTED_MEDIA', () => {
    expect(() => sniffMedia(head('{"name": "face-llava"}'))).toThrow(/not an image \(JPEG.*or a video/);
    expect(() => sniffMedia(head('<svg xmlns="http://www.w3.org/2000/svg">'))).toThrow(FaceExpertError);
    expect(() => sniffMedia(head('BM'))).toThrow(FaceExpertError);
    expect(() => sniffMedia(head(u32(24), 'ftypheic', u32(0), 'mif1heic'))).toThrow(/HEIC/);
  });
});

describe('face media: opening inputs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'face-media-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tells missing, empty and unreadable inputs apart', async () => {
    expect(await codeOf(openMedia(path.join(dir, 'missing.jpg')))).toBe('INPUT_NOT_FOUND');
    expect(await codeOf(openMedia(dir))).toBe('INPUT_NOT_FOUND');
    await writeFile(path.join(dir, 'empty.jpg'), '');
    expect(await codeOf(openMedia(path.join(dir, 'empty.jpg')))).toBe('EMPTY_INPUT');
    expect(await codeOf(openMedia(Buffer.alloc(0)))).toBe('EMPTY_INPUT');
    await writeFile(path.join(dir, 'notes.jpg'), 'these are not the pixels you are looking for');
    expect(await codeOf(openMedia(path.join(dir, 'notes.jpg')))).toBe('UNSUPPORTED_MEDIA');
  });

  it('keeps a path as a path and bytes as bytes', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    await writeFile(path.join(dir, 'grey.bin'), jpeg);
    expect(await openMedia(path.join(dir, 'grey.bin'))).toEqual({ kind: 'image', format: 'jpeg', source: path.join(dir, 'grey.bin') });
    expect(await openMedia(new Uint8Array(jpeg))).toMatchObject({ kind: 'image', format: 'jpeg' });
  });
});

describe.skipIf(!packAvailable('celeba'))('face media: decoding images', () => {
  let face: Buffer; // an 89 × 109 CelebA validation JPEG
  let upright: { width: number; height: number; rgb: Uint8Array };
  beforeAll(async () => {
    face = [...(await samplePack('celeba', 'val', 1)).values()][0];
    upright = (await decodeImage(face, 1e8)).image;
  });

  const meanAbsDiff = (a: Uint8Array, b: Uint8Array): number => {
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
    return sum / a.length;
  };

  it('decodes every supported format to the same RGB picture', async () => {
    expect(upright).toMatchObject({ width: 89, height: 109 });
    expect(upright.rgb.length).toBe(89 * 109 * 3);
    const encodings = {
      png: sharp(face).png(),
      webp: sharp(face).webp({ lossless: true }),
      tiff: sharp(face).tiff({ compression: 'lzw' }),
      gif: sharp(face).gif(),
      avif: sharp(face).avif({ quality: 90 }),
    };
    for (const [format, pipeline] of Object.entries(encodings)) {
      const bytes = await pipeline.toBuffer();
      expect((await openMedia(bytes)).kind).toBe('image');
      const { image, width, height } = await decodeImage(bytes, 1e8);
      expect({ format, width, height, w: image.width, h: image.height }).toEqual({ format, width: 89, height: 109, w: 89, h: 109 });
      // Lossless formats match exactly; GIF's palette and AVIF's compression stay close.
      expect(meanAbsDiff(image.rgb, upright.rgb)).toBeLessThan(format === 'gif' || format === 'avif' ? 12 : 0.5);
    }
  });

  it('turns the picture upright by its EXIF orientation', async () => {
    // Store the pixels turned 90° clockwise, tagged "rotate 90° counter-clockwise to display" (orientation 8).
    const rotated = await sharp(face).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 100 }).toBuffer();
    const { image, width, height } = await decodeImage(rotated, 1e8);
    expect([width, height, image.width, image.height]).toEqual([89, 109, 89, 109]);
    expect(meanAbsDiff(image.rgb, upright.rgb)).toBeLessThan(4);
  });

  it('makes three channels of grayscale, flattens transparency onto white, reduces 16-bit', async () => {
    const grey = (await decodeImage(await sharp(face).grayscale().png().toBuffer(), 1e8)).image;
    expect(grey.rgb.length).toBe(89 * 109 * 3);
    for (let i = 0; i < grey.rgb.length; i += 3) expect(grey.rgb[i]).toBe(grey.rgb[i + 2]);
    const transparent = await sharp(face).ensureAlpha(0).png().toBuffer();
    expect((await decodeImage(transparent, 1e8)).image.rgb.every((v) => v === 255)).toBe(true);
    const deep = await sharp(face).toColourspace('rgb16').png().toBuffer();
    expect(meanAbsDiff((await decodeImage(deep, 1e8)).image.rgb, upright.rgb)).toBeLessThan(0.5);
  });

  it('takes the first frame of an animation', async () => {
    const frame = (background: string) => sharp({ create: { width: 40, height: 30, channels: 3, background } }).png().toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#00ff00')], { join: { animated: true } }).gif().toBuffer();
    const { image, width, height } = await decodeImage(gif, 1e8);
    expect([width, height, image.width, image.height]).toEqual([40, 30, 40, 30]);
    expect([...image.rgb.subarray(0, 3)]).toEqual([255, 0, 0]);
  });

  it('refuses truncated files and pixel bombs with distinct codes', async () => {
    expect(await codeOf(decodeImage(face.subarray(0, face.length >> 1), 1e8))).toBe('CORRUPT_MEDIA');
    const png = await sharp(face).png().toBuffer();
    expect(await codeOf(decodeImage(png.subarray(0, png.length >> 1), 1e8))).toBe('CORRUPT_MEDIA');
    const bomb = pngBomb();
    expect(bomb.length).toBeLessThan(100);
    expect(await codeOf(decodeImage(bomb, 1e8))).toBe('PIXEL_LIMIT');
    expect(await codeOf(decodeImage(face, 89 * 109 - 1))).toBe('PIXEL_LIMIT');
  });

  it('works on very large pictures downscaled, reporting their true size', async () => {
    const wide = await sharp({ create: { width: 6000, height: 300, channels: 3, background: '#336699' } }).png().toBuffer();
    const { image, width, height } = await decodeImage(wide, 1e8);
    expect([width, height]).toEqual([6000, 300]);
    expect([image.width, image.height]).toEqual([WORKING_MAX_SIDE, Math.round((300 * WORKING_MAX_SIDE) / 6000)]);
  });
});
