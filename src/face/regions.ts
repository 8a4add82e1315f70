// The 68-point iBUG 300-W layout and its nine face regions, as the Face-Region Landmark Projector (FRLP, SPEC §2)
// groups them: each region's points become one token.

export type Point = [x: number, y: number];

export const LANDMARK_COUNT = 68;

export interface FaceRegion {
  readonly name: string;
  /** First landmark index. */
  readonly start: number;
  /** One past the last landmark index. */
  readonly end: number;
  /** Whether the region's outline closes on itself (eyes, lips), for drawing. */
  readonly closed: boolean;
}

export const FACE_REGIONS: readonly FaceRegion[] = [
  { name: 'contour', start: 0, end: 17, closed: false },
  { name: 'brow_right', start: 17, end: 22, closed: false },
  { name: 'brow_left', start: 22, end: 27, closed: false },
  { name: 'nose_bridge', start: 27, end: 31, closed: false },
  { name: 'nostrils', start: 31, end: 36, closed: false },
  { name: 'eye_right', start: 36, end: 42, closed: true },
  { name: 'eye_left', start: 42, end: 48, closed: true },
  { name: 'lips_outer', start: 48, end: 60, closed: true },
  { name: 'lips_inner', start: 60, end: 68, closed: true },
];

/**
 * The iBUG index each landmark takes when the face is mirrored left–right (contour i ↔ 16 − i, brows, eyes,
 * nostrils and lips swap sides; the nose line and the lips' middle stay): with `p` the points of a face,
 * its mirror image has points `IBUG68_MIRROR.map((j) => [1 − p[j][0], p[j][1]])`.
 */
export const IBUG68_MIRROR: readonly number[] = [
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, // contour
  26, 25, 24, 23, 22, 21, 20, 19, 18, 17, // brows
  27, 28, 29, 30, 35, 34, 33, 32, 31, // nose
  45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, // eyes
  54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, // outer lips
  64, 63, 62, 61, 60, 67, 66, 65, // inner lips
];
