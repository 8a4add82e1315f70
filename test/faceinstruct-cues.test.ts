// Cues measured from 68 landmarks: the right levels for the right movements, invariance to scale, position and
// head roll, the median over a clip, and nothing reported for degenerate geometry.
import { describe, expect, it } from 'vitest';
import { CUE_NAMES, CUE_SCALES, cueOf, measureCues, measureValues, type Landmarks, type Point } from '../src/data/cues.js';

// A mean frontal face in iBUG order (OpenFace's alignment template), fitted into a 256-pixel crop's unit square.
const TEMPLATE: Point[] = [
  [0.0792, 0.3392], [0.0829, 0.457], [0.0968, 0.5756], [0.1221, 0.6919], [0.1687, 0.8003], [0.2398, 0.8957], [0.3257, 0.9771],
  [0.4223, 1.0433], [0.5318, 1.0608], [0.6413, 1.0398], [0.7381, 0.9723], [0.8244, 0.8896], [0.8948, 0.7925], [0.9394, 0.6815],
  [0.9611, 0.5622], [0.9706, 0.4418], [0.9712, 0.3221], [0.1638, 0.2492], [0.2178, 0.2043], [0.2913, 0.1924], [0.3675, 0.2036],
  [0.4193, 0.2331], [0.6064, 0.2281], [0.6602, 0.1959], [0.7375, 0.1824], [0.8132, 0.1928], [0.8708, 0.2353], [0.5153, 0.3186],
  [0.5162, 0.3962], [0.5171, 0.4738], [0.5182, 0.5532], [0.4337, 0.6041], [0.4755, 0.6208], [0.5207, 0.6343], [0.5659, 0.6188],
  [0.6071, 0.6016], [0.2524, 0.3311], [0.2987, 0.3026], [0.3557, 0.303], [0.4037, 0.3387], [0.3525, 0.35], [0.2968, 0.3505],
  [0.6313, 0.3341], [0.6791, 0.2965], [0.736, 0.2947], [0.7829, 0.3213], [0.7403, 0.3418], [0.685, 0.3437], [0.3532, 0.7462],
  [0.4146, 0.7191], [0.4777, 0.7068], [0.5227, 0.7171], [0.5698, 0.7054], [0.6352, 0.7157], [0.6995, 0.7394], [0.6394, 0.8052],
  [0.5764, 0.8354], [0.5254, 0.8417], [0.4764, 0.8375], [0.4138, 0.81], [0.3801, 0.75], [0.478, 0.7451], [0.5234, 0.7489],
  [0.5711, 0.7433], [0.6724, 0.7442], [0.5725, 0.7766], [0.524, 0.7834], [0.4786, 0.7802],
].map(([x, y]) => [0.2 + 0.6 * x, 0.12 + 0.6 * y] as Point);

/** The template with some points moved by (dx, dy). */
function moved(base: Landmarks, points: readonly number[], dx: number, dy: number): Point[] {
  return base.map((p, i) => (points.includes(i) ? [p[0] + dx, p[1] + dy] : p) as Point);
}
const range = (start: number, end: number): number[] => Array.from({ length: end - start }, (_, i) => start + i);
const levels = (lm: Landmarks): Record<string, string> =>
  Object.fromEntries(Object.entries(measureCues([lm])).map(([name, cue]) => [name, cue!.level]));

function rotated(lm: Landmarks, degrees: number): Point[] {
  const a = (degrees * Math.PI) / 180;
  return lm.map(([x, y]) => [0.5 + (x - 0.5) * Math.cos(a) - (y - 0.5) * Math.sin(a), 0.5 + (x - 0.5) * Math.sin(a) + (y - 0.5) * Math.cos(a)] as Point);
}

// The template's inner brow ends sit close; spread them to a resting distance.
const NEUTRAL = moved(moved(TEMPLATE, [21], -0.012, 0), [22], 0.012, 0);

describe('measureCues', () => {
  it('finds a resting frontal face neutral on every cue', () => {
    const report = measureCues([NEUTRAL]);
    expect(Object.keys(report).sort()).toEqual([...CUE_NAMES].sort());
    for (const cue of Object.values(report)) expect(cue!.neutral, `${cue!.name} = ${cue!.value}`).toBe(true);
  });

  it('reads an open mouth, raised brows, wide eyes and lifted lip corners', () => {
    let face = moved(NEUTRAL, [...range(55, 60), 65, 66, 67], 0, 0.09); // jaw drop: lower lip down
    face = moved(face, range(17, 27), 0, -0.05); // brows up
    face = moved(face, [37, 38, 43, 44], 0, -0.012); // upper lids up
    expect(levels(face)).toMatchObject({ mouthOpen: 'wide', browRaise: 'raised', eyeOpen: 'wide' });

    const smile = moved(moved(NEUTRAL, [48], -0.03, -0.04), [54], 0.03, -0.04);
    expect(levels(smile)).toMatchObject({ lipCorners: 'raised', mouthWidth: 'wide', lipAsymmetry: 'even' });
    const smirk = moved(NEUTRAL, [54], 0, -0.04);
    expect(levels(smirk).lipAsymmetry).toBe('lopsided');
    const frown = moved(moved(NEUTRAL, range(17, 27), 0, 0.03), [21, 22], 0, 0);
    expect(levels(moved(moved(frown, [21], 0.02, 0), [22], -0.02, 0))).toMatchObject({ browRaise: 'lowered', browFurrow: 'drawn' });
  });

  it('does not depend on the face’s size or place in the crop', () => {
    const small = NEUTRAL.map(([x, y]) => [0.1 + 0.5 * x, 0.3 + 0.5 * y] as Point);
    const a = measureValues(NEUTRAL);
    const b = measureValues(small);
    for (const name of CUE_NAMES) expect(b[name]).toBeCloseTo(a[name], 9);
  });

  it('undoes head roll before measuring heights, so a tilted head is not a lopsided mouth', () => {
    const tilted = rotated(NEUTRAL, 20);
    const a = measureValues(NEUTRAL);
    const b = measureValues(tilted);
    expect(b.headRoll - a.headRoll).toBeCloseTo(20, 6);
    for (const name of CUE_NAMES.filter((n) => n !== 'headRoll')) expect(b[name]).toBeCloseTo(a[name], 6);
    expect(levels(tilted)).toMatchObject({ headRoll: 'right', lipAsymmetry: 'even' });
    expect(levels(rotated(NEUTRAL, -20)).headRoll).toBe('left');
  });

  it('reads a head turned sideways from the nose between the cheeks', () => {
    expect(levels(moved(NEUTRAL, range(27, 36), 0.17, 0)).headYaw).toBe('right');
    expect(levels(moved(NEUTRAL, range(27, 36), -0.17, 0)).headYaw).toBe('left');
  });

  it('takes the median of a clip, so a single odd frame does not decide', () => {
    const open = moved(NEUTRAL, [...range(55, 60), 65, 66, 67], 0, 0.09);
    expect(measureCues([NEUTRAL, open, NEUTRAL]).mouthOpen!.level).toBe('closed');
    expect(measureCues([open, open, NEUTRAL]).mouthOpen!.level).toBe('wide');
  });

  it('reports nothing it cannot measure', () => {
    const collapsed: Point[] = Array.from({ length: 68 }, () => [0.5, 0.5]);
    expect(measureCues([collapsed])).toEqual({});
    expect(measureCues([])).toEqual({});
    expect(() => measureValues(NEUTRAL.slice(0, 67))).toThrow(/68 landmarks/);
  });

  it('grades strength by distance past the neutral band', () => {
    const { cuts } = CUE_SCALES.mouthOpen;
    expect(cueOf('mouthOpen', cuts[0] / 2)!.strength).toBe(0);
    expect(cueOf('mouthOpen', cuts[2] + 0.1)!.strength).toBeGreaterThan(cueOf('mouthOpen', cuts[0] + 0.01)!.strength);
    expect(cueOf('mouthOpen', NaN)).toBeUndefined();
  });
});
