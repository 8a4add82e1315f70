// The one pixel format inside the face expert: 8-bit RGB, row-major, no alpha. Decoded images, video frames and
// face crops all take this form, so every later step (detection, cropping, landmarks, overlays) reads one layout.
import sharp, { type Sharp } from 'sharp';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width × height × 3 bytes. */
  readonly rgb: Uint8Array;
}

/** A sharp pipeline reading an RgbImage (for resizing, padding and encoding it). */
export function sharpFromRgb(image: RgbImage): Sharp {
  return sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/** Runs a sharp pipeline to raw RGB bytes. The pipeline must yield 3 channels of 8 bits. */
export async function rgbFromSharp(pipeline: Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels from sharp, got ${info.channels}`);
  return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
