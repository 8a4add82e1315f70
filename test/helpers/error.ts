// How far a result is from a reference, for parity checks against TF.js and the libraries' own code.
import { expect } from 'vitest';

/** max |ours − ref| over max |ref| (the arrays must be the same length). */
export function relativeError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(ours.length).toBe(ref.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / scale;
}
