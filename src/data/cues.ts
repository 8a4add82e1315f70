// Facial cues measured from the 68 iBUG landmarks of a face crop: the geometric facts an annotation may state
// about a face (mouth opening, lip-corner height, brow raise and furrow, eye opening, head pose). Every distance
// is divided by the inter-ocular distance (IOD, between the two eye centres), so values do not depend on the
// crop's scale. Each cue gets a qualitative level; one level per cue is its neutral range, the others are
// reached only when the value clearly leaves that range.
//
// Vertical measures are taken with the head's roll undone (the eye line made level), so that a tilted head does
// not read as a lopsided mouth. Thresholds were calibrated on the face expert's landmarks (see CALIBRATION).

/** One landmark: [x, y], normalized to the crop (0..1), y pointing down. */
export type Point = readonly [number, number];
/** The 68 landmarks of one face (one frame), iBUG 300-W order. */
export type Landmarks = readonly Point[];

export const CUE_NAMES = [
  'mouthOpen',
  'mouthWidth',
  'lipCorners',
  'lipAsymmetry',
  'browRaise',
  'browFurrow',
  'eyeOpen',
  'headYaw',
  'headRoll',
  'headPitch',
] as const;
export type CueName = (typeof CUE_NAMES)[number];

/**
 * A cue's levels, lowest value first, with the cut points between them: `levels[i]` holds for values in
 * [cuts[i-1], cuts[i]). `neutral` names the level that is no departure from a resting, frontal face.
 */
export interface CueScale {
  readonly levels: readonly string[];
  readonly cuts: readonly number[];
  readonly neutral: string;
  /** What the value is, for humans (and for `face-llava data stats`). */
  readonly measures: string;
}

/**
 * CALIBRATION (tmp probes, 2,464 faces: up to 150 per class of FER2013 and CK+, 150 each of CelebA, UTKFace and
 * realorfake, landmarks from src/face). Expression cues: the cuts sit near the 5th and 95th percentiles of the
 * FER2013 neutral faces, so a level other than the neutral one is unusual for a resting face. Checked against the
 * labels (AUC of the value, class against neutral): lip corners happy 0.83; brow height surprise 0.73, angry 0.26,
 * disgust 0.24; eye opening surprise 0.75 (wide), disgust 0.28 (narrowed). The landmark model moves little with sad
 * mouths (AUC 0.45) or contempt's one-sided smile (0.51): those labels rarely get a supporting cue, and no cue is
 * claimed for them that was not measured. Pose cuts: near the 3rd and 97th percentiles over all faces.
 */
export const CUE_SCALES: Readonly<Record<CueName, CueScale>> = {
  mouthOpen: {
    measures: 'mean gap between the inner lips (61–67, 62–66, 63–65) / IOD',
    levels: ['closed', 'parted', 'open', 'wide'],
    cuts: [0.1, 0.2, 0.3],
    neutral: 'closed',
  },
  mouthWidth: {
    measures: 'distance between the mouth corners (48–54) / IOD',
    levels: ['narrow', 'typical', 'wide'],
    cuts: [0.85, 1.11],
    neutral: 'typical',
  },
  lipCorners: {
    measures: 'height of the mouth corners (48, 54) above the midpoint of the inner lips (62, 66) / IOD',
    levels: ['lowered', 'level', 'raised'],
    cuts: [-0.065, 0.095],
    neutral: 'level',
  },
  lipAsymmetry: {
    measures: 'height difference between the two mouth corners / IOD',
    levels: ['even', 'lopsided'],
    cuts: [0.075],
    neutral: 'even',
  },
  browRaise: {
    measures: 'mean height of the brows (17–26) above the eye corners (36, 39, 42, 45) / IOD',
    levels: ['lowered', 'typical', 'raised'],
    cuts: [0.255, 0.427],
    neutral: 'typical',
  },
  browFurrow: {
    measures: 'gap between the inner brow ends (21–22) / IOD',
    levels: ['drawn', 'typical'],
    cuts: [0.43],
    neutral: 'typical',
  },
  eyeOpen: {
    measures: 'eye aspect ratio (lid gap / eye width), mean of both eyes',
    levels: ['closed', 'narrowed', 'typical', 'wide'],
    cuts: [0.12, 0.18, 0.37],
    neutral: 'typical',
  },
  headYaw: {
    measures: 'nose tip (30) between the two sides of the face contour, −1 (viewer’s left) … 1 (right)',
    levels: ['left', 'frontal', 'right'],
    cuts: [-0.5, 0.5],
    neutral: 'frontal',
  },
  headRoll: {
    measures: 'angle of the line through the eye centres in degrees, positive when the right-hand eye is lower',
    levels: ['left', 'upright', 'right'],
    cuts: [-10, 10],
    neutral: 'upright',
  },
  headPitch: {
    measures: 'nose tip (30) height between the eye line and the chin (8), as a fraction of that span',
    levels: ['up', 'level', 'down'],
    cuts: [0.2, 0.47],
    neutral: 'level',
  },
};

/** One measured cue. `strength` is how far past its nearest cut the value lies, in units of the neutral range. */
export interface Cue {
  readonly name: CueName;
  readonly value: number;
  readonly level: string;
  readonly neutral: boolean;
  readonly strength: number;
}

/** The cues measured on one face or one clip: only those that could be measured are present. */
export type CueReport = Partial<Record<CueName, Cue>>;

function levelOf(scale: CueScale, value: number): { level: string; strength: number } {
  let i = 0;
  while (i < scale.cuts.length && value >= scale.cuts[i]) i++;
  const level = scale.levels[i];
  if (level === scale.neutral) return { level, strength: 0 };
  // Distance past the cut that separates this level from the neutral side, relative to the neutral band's
  // width (or, for a one-sided scale, the cut's magnitude) so that strengths compare across cues.
  const neutralIndex = scale.levels.indexOf(scale.neutral);
  const cut = i > neutralIndex ? scale.cuts[neutralIndex] : scale.cuts[neutralIndex - 1];
  const lo = scale.cuts[neutralIndex - 1];
  const hi = scale.cuts[neutralIndex];
  const band = lo !== undefined && hi !== undefined ? hi - lo : Math.abs(cut) || 1;
  return { level, strength: Math.abs(value - cut) / band };
}

/** The cue a value of `name` makes; undefined for a value that is not a finite number. */
export function cueOf(name: CueName, value: number): Cue | undefined {
  if (!Number.isFinite(value)) return undefined;
  const scale = CUE_SCALES[name];
  const { level, strength } = levelOf(scale, value);
  return { name, value, level, neutral: level === scale.neutral, strength };
}

const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
const mean = (points: readonly Point[]): Point => [
  points.reduce((s, p) => s + p[0], 0) / points.length,
  points.reduce((s, p) => s + p[1], 0) / points.length,
];
const range = (lm: readonly Point[], start: number, end: number): Point[] => lm.slice(start, end);

/** Eye aspect ratio of one eye given its six points p1..p6 (Soukupová & Čech 2016). */
function eyeAspect(eye: readonly Point[]): number {
  return (dist(eye[1], eye[5]) + dist(eye[2], eye[4])) / (2 * dist(eye[0], eye[3]));
}

/** The points turned about the eyes' midpoint so that the eye line is level. */
function levelled(lm: Landmarks, eyeA: Point, eyeB: Point): Point[] {
  const angle = Math.atan2(eyeB[1] - eyeA[1], eyeB[0] - eyeA[0]);
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  const [ox, oy] = mean([eyeA, eyeB]);
  return lm.map(([x, y]) => [ox + (x - ox) * cos - (y - oy) * sin, oy + (x - ox) * sin + (y - oy) * cos] as const);
}

/** The raw value of every cue for one face; NaN where the geometry is degenerate. */
export function measureValues(landmarks: Landmarks): Record<CueName, number> {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  const eyeA = mean(range(landmarks, 36, 42)); // the eye on the viewer's left (the subject's right)
  const eyeB = mean(range(landmarks, 42, 48));
  const iod = dist(eyeA, eyeB);
  const n = (v: number): number => (iod > 1e-6 ? v / iod : NaN);
  const lm = levelled(landmarks, eyeA, eyeB);

  const innerGap = (dist(lm[61], lm[67]) + dist(lm[62], lm[66]) + dist(lm[63], lm[65])) / 3;
  const innerMidY = (lm[62][1] + lm[66][1]) / 2;
  const cornersY = (lm[48][1] + lm[54][1]) / 2;
  const eyeCornersY = (lm[36][1] + lm[39][1] + lm[42][1] + lm[45][1]) / 4;
  const browY = mean(range(lm, 17, 27))[1];

  const left = mean([lm[0], lm[1]]);
  const right = mean([lm[15], lm[16]]);
  const span = right[0] - left[0];
  const eyeLineY = (eyeA[1] + eyeB[1]) / 2; // the turn is about this line, so it stays put
  const faceHeight = lm[8][1] - eyeLineY;

  return {
    mouthOpen: n(innerGap),
    mouthWidth: n(dist(lm[48], lm[54])),
    lipCorners: n(innerMidY - cornersY), // y points down: positive when the corners sit above the lips' middle
    lipAsymmetry: n(Math.abs(lm[48][1] - lm[54][1])),
    browRaise: n(eyeCornersY - browY),
    browFurrow: n(dist(lm[21], lm[22])),
    eyeOpen: (eyeAspect(range(lm, 36, 42)) + eyeAspect(range(lm, 42, 48))) / 2,
    headYaw: Math.abs(span) > 1e-6 ? (2 * (lm[30][0] - left[0])) / span - 1 : NaN,
    headRoll: iod > 1e-6 ? (Math.atan2(eyeB[1] - eyeA[1], eyeB[0] - eyeA[0]) * 180) / Math.PI : NaN,
    headPitch: faceHeight > 1e-6 ? (lm[30][1] - eyeLineY) / faceHeight : NaN,
  };
}

/**
 * The cues of a face (one frame) or a clip (several frames). For a clip each cue's value is the median over the
 * frames, which states what holds for most of the clip and ignores a blink or a single bad frame.
 */
export function measureCues(frames: readonly Landmarks[]): CueReport {
  if (frames.length === 0) return {};
  const values = frames.map(measureValues);
  const report: CueReport = {};
  for (const name of CUE_NAMES) {
    const finite = values.map((v) => v[name]).filter(Number.isFinite).sort((a, b) => a - b);
    if (finite.length === 0) continue;
    const mid = finite.length >> 1;
    const median = finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
    const measured = cueOf(name, median);
    if (measured) report[name] = measured;
  }
  return report;
}
