// Overlay pictures for checking landmarks by eye: each face crop, enlarged, with its 68 points and the outlines of
// the nine FRLP regions, one colour per region. Drawn as SVG over the crop and rendered to PNG by sharp.
import sharp from 'sharp';
import { CROP_SIZE } from './crop.js';
import { FACE_REGIONS, type Point } from './regions.js';
import { sharpFromRgb, type RgbImage } from './rgb.js';

/** One colour per region, in FACE_REGIONS order (Sasha Trubetskoy's distinct colours). */
export const REGION_COLOURS = [
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45',
] as const;

const TILE = 2 * CROP_SIZE;
const PER_ROW = 4;

export interface OverlayFace {
  crop: RgbImage;
  landmarks68: readonly Point[];
}

function regionsSvg(landmarks: readonly Point[]): string {
  const px = ([x, y]: Point): string => `${(x * TILE).toFixed(1)},${(y * TILE).toFixed(1)}`;
  const shapes = FACE_REGIONS.map((region, r) => {
    const points = landmarks.slice(region.start, region.end);
    const colour = REGION_COLOURS[r];
    const outline = `<${region.closed ? 'polygon' : 'polyline'} points="${points.map(px).join(' ')}" fill="none" stroke="${colour}" stroke-width="1.5"/>`;
    const dots = points.map((p) => {
      const [cx, cy] = px(p).split(',');
      return `<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}" stroke="#000" stroke-width="0.5"/>`;
    });
    return outline + dots.join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${TILE}" height="${TILE}">${shapes.join('')}</svg>`;
}

/** A PNG with one tile per face (at most four per row): the crop at twice its size, its points and regions. */
export async function renderOverlay(faces: readonly OverlayFace[]): Promise<Buffer> {
  if (faces.length === 0) throw new Error('an overlay needs at least one face');
  const tiles = await Promise.all(
    faces.map((face) =>
      sharpFromRgb(face.crop)
        .resize(TILE, TILE, { kernel: 'nearest' })
        .composite([{ input: Buffer.from(regionsSvg(face.landmarks68)) }])
        .png()
        .toBuffer(),
    ),
  );
  const columns = Math.min(PER_ROW, tiles.length);
  const rows = Math.ceil(tiles.length / PER_ROW);
  return sharp({ create: { width: columns * TILE, height: rows * TILE, channels: 3, background: '#000000' } })
    .composite(tiles.map((input: Buffer, i: number) => ({ input, left: (i % PER_ROW) * TILE, top: Math.floor(i / PER_ROW) * TILE })))
    .png()
    .toBuffer();
}
