// From the face expert's analysis to what the model sees (one face crop and its landmarks per frame: the primary
// face of the image, or of each kept video frame) and to what an analysis reports about the media and its faces.
import type { Box, Face, ImageAnalysis, VideoAnalysis } from '../face/index.js';
import { faceMedia, type FaceMedia } from './requests.js';

/** A face the face expert found, in source pixels. */
export interface DetectedFace {
  box: Box;
  /** Detector confidence; null when detection was skipped (the whole picture is the face). */
  score: number | null;
  /** The video frame it was found in; absent for an image. */
  frame?: number;
}

export interface MediaSummary {
  kind: 'image' | 'video';
  /** Size of the picture or of the video's frames, upright. */
  width: number;
  height: number;
  /** Frames the model saw: 1 for an image; for a video the sampled frames that show a face. */
  frames: number;
  /** Video only: the index of each frame the model saw (a short video repeats indices, as linspace does). */
  frameIndices?: number[];
  /** Video only: the frames in the video. */
  frameCount?: number;
}

export interface AnalyzedMedia {
  model: FaceMedia;
  faces: DetectedFace[];
  media: MediaSummary;
}

const detected = (face: Face, frame?: number): DetectedFace => ({ box: face.box, score: face.score, ...(frame !== undefined && { frame }) });

export function analyzedMedia(analysis: ImageAnalysis | VideoAnalysis): AnalyzedMedia {
  const { kind, width, height } = analysis;
  const model = faceMedia(analysis);
  if (analysis.kind === 'image') {
    return { model, faces: analysis.faces.map((f) => detected(f)), media: { kind, width, height, frames: 1 } };
  }
  return {
    model,
    faces: analysis.frames.flatMap((f) => f.faces.map((face) => detected(face, f.index))),
    media: { kind, width, height, frames: analysis.frames.length, frameIndices: analysis.frames.map((f) => f.index), frameCount: analysis.frameCount },
  };
}
