// A face's media and a question as the model takes them: encoder pixels, landmarks and prompt ids.
import type { FaceMedia } from '../eval/run.js';
import { f32, type HostTensor } from '../graph/host.js';
import { preprocessFrames, type Preprocess } from '../model/preprocess.js';
import { encodePrompt, withImages } from '../text/chat.js';
import type { Tokenizer } from '../text/tokenizer.js';

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
