// The project's face expert (src/face) behind the builder's FaceExpert interface: the main face of an image, or of
// each of a video's 8 sampled frames (the paper's rule: frames without a face dropped, more than 30 % an error).
import { createFaceExpert as createExpert } from '../../face/index.js';
import type { FaceExpert } from './face.js';

/**
 * What cached crops and landmarks depend on besides the file's bytes. Bump it when the face expert's models or
 * defaults change, so that no build reuses crops made the old way.
 */
export const FACE_EXPERT_ID = 'src/face:blazeface+facemesh68:crop256:frames8:v1';

export async function createFaceExpert(): Promise<FaceExpert> {
  const expert = await createExpert();
  return {
    id: FACE_EXPERT_ID,
    async analyze(bytes) {
      const result = await expert.analyze(bytes, { faces: 'primary' });
      const faces = result.kind === 'image' ? result.faces : result.frames.map((frame) => frame.faces[0]);
      return { media: result.kind, crops: faces.map((face) => face.crop), landmarks: faces.map((face) => face.landmarks68) };
    },
    async close() {
      expert.dispose();
    },
  };
}
