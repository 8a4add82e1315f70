// A face's media and a question as the model takes them — the one way from the face expert's analysis to encoder
// pixels, landmarks and prompt ids, shared by analysis (pipeline.ts) and evaluation (eval/run.ts).
import type { ImageAnalysis, Point, RgbImage, VideoAnalysis } from '../face/index.js';
import { f32, type HostTensor } from '../graph/host.js';
import { preprocessFrames, type Preprocess } from '../model/preprocess.js';
import { encodePrompt, withImages } from '../text/chat.js';
import type { Tokenizer } from '../text/tokenizer.js';

/** A face's media as the model takes it: one face crop per frame and its 68 landmarks. */
export interface FaceMedia {
  kind: 'image' | 'video';
  crops: RgbImage[];
  landmarks: Point[][];
}

/**
 * What the model is asked about in an analysis: the primary face (the face expert orders faces primary first) of
 * the image, or of each kept video frame.
 */
export function faceMedia(analysis: ImageAnalysis | VideoAnalysis): FaceMedia {
  const primary = analysis.kind === 'image' ? [analysis.faces[0]] : analysis.frames.map((f) => f.faces[0]);
  return { kind: analysis.kind, crops: primary.map((f) => f.crop), landmarks: primary.map((f) => f.landmarks68) };
}

export interface MediaTensors {
  /** Encoder pixels [F, 3, size, size]. */
  frames: HostTensor;
  /** Landmarks [F, 68, 2]; absent when the model has no landmark branch. */
  landmarks?: HostTensor;
}

export async function mediaTensors(media: FaceMedia, preprocess: Preprocess, withLandmarks: boolean): Promise<MediaTensors> {
  const frames = await preprocessFrames(media.crops, preprocess);
  if (!withLandmarks) return { frames };
  return { frames, landmarks: f32([media.landmarks.length, media.landmarks[0].length, 2], media.landmarks.flat(2)) };
}

/** The Vicuna prompt of one user question about `frames` images (a video's frames), as token ids. */
export function promptIds(instruction: string, frames: number, tokenizer: Tokenizer): number[] {
  return encodePrompt([{ role: 'user', content: withImages(instruction, frames) }], tokenizer);
}
