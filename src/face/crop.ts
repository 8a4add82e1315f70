// The face crop: a square region of the source around the face, resized to 256×256. It is what the vision
// encoder sees and what the landmarks are measured in (SPEC §2: crop pixels / 256).
import type { Box } from './detector.js';
import { rgbFromSharp, sharpFromRgb, type RgbImage } from './rgb.js';

export const CROP_SIZE = 256;

/**
 * How much wider than the detector's box the crop is: 1.4, the framing FaceMesh was trained on (it is
 * @vladmandic/human's default), which shows the whole face, forehead and chin, with a little background.
 */
export const CROP_SCALE = 1.4;

/** The square crop region around a detected face, centred on the detector's box. */
export function faceCropRegion(face: Box): Box {
  const side = Math.max(face.width, face.height) * CROP_SCALE;
  return { x: face.x + face.width / 2 - side / 2, y: face.y + face.height / 2 - side / 2, width: side, height: side };
}

/** The square region that holds a whole image (for inputs that are already face crops). */
export function wholeImageRegion(image: { width: number; height: number }): Box {
  const side = Math.max(image.width, image.height);
  return { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
}

/**
 * Cuts a square region out of the image and resizes it to CROP_SIZE² (Lanczos). Parts of the region outside the
 * image are black: the face stays centred rather than shifted, whatever the framing of the source.
 */
export async function cropRegion(image: RgbImage, region: Box): Promise<RgbImage> {
  const scale = CROP_SIZE / region.width;
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(image.width, Math.ceil(region.x + region.width));
  const y1 = Math.min(image.height, Math.ceil(region.y + region.height));
  if (x1 <= x0 || y1 <= y0) throw new Error('crop region lies outside the image');
  // The part inside the image, where it lands in the crop, and how big it becomes there.
  const left = Math.min(CROP_SIZE - 1, Math.max(0, Math.round((x0 - region.x) * scale)));
  const top = Math.min(CROP_SIZE - 1, Math.max(0, Math.round((y0 - region.y) * scale)));
  const width = Math.max(1, Math.min(CROP_SIZE - left, Math.round((x1 - x0) * scale)));
  const height = Math.max(1, Math.min(CROP_SIZE - top, Math.round((y1 - y0) * scale)));
  return rgbFromSharp(
    sharpFromRgb(image)
      .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
      .resize(width, height, { fit: 'fill' })
      .extend({ left, top, right: CROP_SIZE - width - left, bottom: CROP_SIZE - height - top, background: '#000000' }),
  );
}
