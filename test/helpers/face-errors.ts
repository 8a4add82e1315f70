// Checking the face expert's stable error codes.
import { expect } from 'vitest';
import { FaceExpertError } from '../../src/face/errors.js';

/** The code of the FaceExpertError that `promise` rejects with; fails the test on any other outcome. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FaceExpertError);
    return (err as FaceExpertError).code;
  }
  throw new Error('expected a FaceExpertError');
}
