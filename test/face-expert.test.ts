import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CROP_SIZE,
  createFaceExpert,
  FACE_REGIONS,
  LANDMARK_COUNT,
  MESH_TO_IBUG68,
  renderOverlay,
  type FaceExpert,
  type Point,
} from '../src/face/index.js';
import { IBUG68_MIRROR } from '../src/face/regions.js';
import { codeOf } from './helpers/face-errors.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';

const centre = (points: readonly Point[], start: number, end: number): Point => {
  const part = points.slice(start, end);
  return [part.reduce((s, p) => s + p[0], 0) / part.length, part.reduce((s, p) => s + p[1], 0) / part.length];
};

/** Mean point distance as a fraction of the outer-eye-corner distance of `a`. */
function nme(a: readonly Point[], b: readonly Point[]): number {
  const iod = Math.hypot(a[36][0] - a[45][0], a[36][1] - a[45][1]);
  return a.reduce((s, p, i) => s + Math.hypot(p[0] - b[i][0], p[1] - b[i][1]), 0) / a.length / iod;
}

/** The checks any upright face's 68 points pass: inside the crop, eyes apart and above the nose, mouth, chin. */
function expectFaceShape(points: readonly Point[]): void {
  expect(points).toHaveLength(LANDMARK_COUNT);
  for (const [x, y] of points) {
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x).toBeLessThanOrEqual(1);
    expect(y).toBeGreaterThanOrEqual(0);
    expect(y).toBeLessThanOrEqual(1);
  }
  const eyeR = centre(points, 36, 42); // the subject's right eye, on the picture's left
  const eyeL = centre(points, 42, 48);
  const nose = points[30];
  const mouth = centre(points, 48, 60);
  const chin = points[8];
  expect(eyeR[0]).toBeLessThan(nose[0]);
  expect(nose[0]).toBeLessThan(eyeL[0]);
  const eyeDistance = eyeL[0] - eyeR[0];
  expect(eyeDistance).toBeGreaterThan(0.15);
  expect(eyeDistance).toBeLessThan(0.6);
  expect(Math.max(eyeR[1], eyeL[1])).toBeLessThan(nose[1]);
  expect(nose[1]).toBeLessThan(mouth[1]);
  expect(mouth[1]).toBeLessThan(chin[1]);
  expect(points[0][0]).toBeLessThan(eyeR[0]); // the contour starts beside the right eye …
  expect(points[16][0]).toBeGreaterThan(eyeL[0]); // … and ends beside the left one
}

const mirror = (rgb: Uint8Array, width: number): Uint8Array => {
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < rgb.length / 3; p++) {
    const x = p % width;
    const q = p - x + (width - 1 - x);
    out.set(rgb.subarray(3 * p, 3 * p + 3), 3 * q);
  }
  return out;
};

describe('face expert: the 68-point layout', () => {
  it('maps 68 distinct FaceMesh vertices, and mirrors the iBUG layout as a symmetric involution', () => {
    expect(new Set(MESH_TO_IBUG68).size).toBe(68);
    expect(MESH_TO_IBUG68.every((v) => v >= 0 && v < 468)).toBe(true);
    expect(IBUG68_MIRROR.map((j) => IBUG68_MIRROR[j])).toEqual([...Array(68).keys()]);
    // Mirroring keeps each point in its region or sends it to the region's twin (brows, eyes).
    const regionOf = (i: number) => FACE_REGIONS.findIndex((r) => i >= r.start && i < r.end);
    const twin: Record<string, string> = { brow_right: 'brow_left', brow_left: 'brow_right', eye_right: 'eye_left', eye_left: 'eye_right' };
    IBUG68_MIRROR.forEach((j, i) => {
      const name = FACE_REGIONS[regionOf(i)].name;
      expect(FACE_REGIONS[regionOf(j)].name).toBe(twin[name] ?? name);
    });
    expect(FACE_REGIONS.map((r) => [r.start, r.end])).toEqual([
      [0, 17], [17, 22], [22, 27], [27, 31], [31, 36], [36, 42], [42, 48], [48, 60], [60, 68],
    ]);
  });
});

describe.skipIf(!['utkface', 'celeba', 'realorfake', 'fer2013'].every((p) => packAvailable(p as 'fer2013')))(
  'face expert on real pictures',
  () => {
    let expert: FaceExpert;
    let faces: Buffer[]; // validation pictures of utkface, celeba and realorfake, 4 each
    let large: Buffer[]; // realorfake pictures (256 × 256, background around the face)
    let dir: string;
    beforeAll(async () => {
      expert = await createFaceExpert();
      const packs = await Promise.all([
        samplePack('utkface', 'val', 4),
        samplePack('celeba', 'val', 4),
        samplePack('realorfake', 'val', 4),
      ]);
      faces = packs.flatMap((p) => [...p.values()]);
      large = [...packs[2].values()];
      dir = await mkdtemp(path.join(os.tmpdir(), 'face-expert-'));
    });
    afterAll(async () => {
      expert?.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('finds the face, crops it to 256×256 and places 68 landmarks on it', async () => {
      for (const bytes of faces) {
        const result = await expert.analyzeImage(bytes);
        expect(result.kind).toBe('image');
        expect(result.faces).toHaveLength(1);
        const [face] = result.faces;
        expect(face.score).toBeGreaterThan(0.5);
        expect(face.crop.width).toBe(CROP_SIZE);
        expect(face.crop.height).toBe(CROP_SIZE);
        expect(face.crop.rgb.length).toBe(CROP_SIZE * CROP_SIZE * 3);
        // The box lies mostly inside the picture, and the crop region is the square around it.
        expect(face.box.x + face.box.width / 2).toBeGreaterThan(0);
        expect(face.box.x + face.box.width / 2).toBeLessThan(result.width);
        expect(face.cropRegion.width).toBeCloseTo(face.cropRegion.height, 6);
        expect(face.cropRegion.width).toBeGreaterThan(face.box.width);
        expectFaceShape(face.landmarks68);
      }
    });

    it('gives mirrored landmarks for a mirrored face (the point mapping keeps left and right)', async () => {
      for (const bytes of large) {
        const { faces: [face] } = await expert.analyzeImage(bytes);
        const mirrored = await expert.analyzeImage(
          await sharp(Buffer.from(mirror(face.crop.rgb, CROP_SIZE)), { raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 } }).png().toBuffer(),
          { skipDetection: true },
        );
        const back = IBUG68_MIRROR.map((j): Point => [1 - mirrored.faces[0].landmarks68[j][0], mirrored.faces[0].landmarks68[j][1]]);
        expect(nme(face.landmarks68, back)).toBeLessThan(0.05);
      }
    });

    it('reads paths and bytes alike, and turns EXIF-rotated photos upright', async () => {
      const bytes = faces[4];
      const file = path.join(dir, 'face.jpg');
      await writeFile(file, bytes);
      const fromPath = await expert.analyzeImage(file);
      const fromBytes = await expert.analyzeImage(bytes);
      expect(fromPath.faces[0].landmarks68).toEqual(fromBytes.faces[0].landmarks68);
      const rotated = await sharp(bytes).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 98 }).toBuffer();
      const upright = await expert.analyzeImage(rotated);
      expect([upright.width, upright.height]).toEqual([fromBytes.width, fromBytes.height]);
      expect(nme(fromBytes.faces[0].landmarks68, upright.faces[0].landmarks68)).toBeLessThan(0.03);
    });

    it('takes pictures that are face crops already without detection', async () => {
      const fer = await samplePack('fer2013', 'val', 4);
      for (const bytes of fer.values()) {
        const result = await expert.analyzeImage(bytes, { skipDetection: true });
        expect(result).toMatchObject({ width: 48, height: 48 });
        const [face] = result.faces;
        expect(face.score).toBeNull();
        expect(face.box).toEqual({ x: 0, y: 0, width: 48, height: 48 });
        expect(face.cropRegion).toEqual({ x: 0, y: 0, width: 48, height: 48 });
        expect(face.crop.rgb.length).toBe(CROP_SIZE * CROP_SIZE * 3);
        expectFaceShape(face.landmarks68);
      }
    });

    describe('several faces', () => {
      // Three realorfake faces on one grey canvas: a big one at the left edge, two smaller ones.
      let group: Buffer;
      beforeAll(async () => {
        const [a, b, c] = large;
        group = await sharp({ create: { width: 900, height: 360, channels: 3, background: '#7f7f7f' } })
          .composite([
            { input: await sharp(a).resize(300).toBuffer(), left: 0, top: 30 },
            { input: await sharp(b).resize(200).toBuffer(), left: 380, top: 80 },
            { input: await sharp(c).resize(200).toBuffer(), left: 680, top: 80 },
          ])
          .jpeg()
          .toBuffer();
      });

      it('returns the primary face (largest, then most central), or all of them', async () => {
        const primary = await expert.analyzeImage(group);
        expect(primary.faces).toHaveLength(1);
        expect(primary.faces[0].box.x).toBeLessThan(300);
        const all = await expert.analyzeImage(group, { faces: 'all' });
        expect(all.faces).toHaveLength(3);
        expect(all.faces[0]).toEqual(primary.faces[0]);
        for (const face of all.faces) expectFaceShape(face.landmarks68);
        // Two copies of one face tie on size: the one nearer the centre wins, wherever it is listed.
        const twin = await sharp(large[1]).resize(200).toBuffer();
        for (const [central, side] of [[300, 600], [300, 0]]) {
          const pair = await sharp({ create: { width: 800, height: 300, channels: 3, background: '#7f7f7f' } })
            .composite([{ input: twin, left: side, top: 50 }, { input: twin, left: central, top: 50 }])
            .jpeg()
            .toBuffer();
          const { faces: [face] } = await expert.analyzeImage(pair);
          expect(Math.abs(face.box.x + face.box.width / 2 - 400)).toBeLessThan(50);
        }
      });

      it('refuses more faces than allowed with TOO_MANY_FACES', async () => {
        expect(await codeOf(expert.analyzeImage(group, { maxFaces: 2 }))).toBe('TOO_MANY_FACES');
        expect((await expert.analyzeImage(group, { maxFaces: 3, faces: 'all' })).faces).toHaveLength(3);
      });
    });

    it('reports NO_FACE for a picture without one', async () => {
      const wall = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#c8b496' } })
        .composite([{ input: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect x="40" y="30" width="90" height="160" fill="#503c28"/><circle cx="240" cy="120" r="50" fill="#2864a0"/></svg>') }])
        .png()
        .toBuffer();
      expect(await codeOf(expert.analyzeImage(wall))).toBe('NO_FACE');
    });

    it('gives a second expert the same results (the compiled models are shared by the process)', async () => {
      const first = await expert.analyzeImage(faces[0]);
      const second = await createFaceExpert();
      try {
        expect(await second.analyzeImage(faces[0])).toEqual(first);
      } finally {
        second.dispose();
      }
    });

    it('draws an overlay: each crop at twice its size with its regions', async () => {
      const all = await expert.analyzeImage(faces[8], { faces: 'all' });
      const png = await renderOverlay([...all.faces, ...all.faces]);
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 2 * 2 * CROP_SIZE, 2 * CROP_SIZE]);
    });
  },
);

describe('face expert: lifecycle', () => {
  it('refuses work after dispose', async () => {
    const expert = await createFaceExpert();
    expert.dispose();
    await expect(expert.analyzeImage(Buffer.from([0xff, 0xd8, 0xff]))).rejects.toThrow(/disposed/);
  });
});
