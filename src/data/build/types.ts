// The vocabulary shared by every stage of the FaceInstruct builder: tasks, labels, media and the record that
// ends up in a JSONL shard.
import type { Expression } from '../labels/expression.js';
import type { CelebaAttribute } from '../labels/attributes.js';
import type { Authenticity } from '../labels/deepfake.js';
import type { Landmarks } from '../cues.js';

export const TASKS = ['expression', 'au', 'attributes', 'age', 'deepfake'] as const;
export type Task = (typeof TASKS)[number];

export function isTask(name: string): name is Task {
  return (TASKS as readonly string[]).includes(name);
}

/** A sample's ground truth, in the project's canonical vocabulary. */
export type TaskLabel =
  | { readonly task: 'expression'; readonly value: Expression }
  | { readonly task: 'au'; readonly value: readonly number[] }
  | { readonly task: 'attributes'; readonly value: readonly CelebaAttribute[] }
  | { readonly task: 'age'; readonly value: number }
  | { readonly task: 'deepfake'; readonly value: Authenticity };

export type MediaKind = 'image' | 'video';

/** One conversation turn in the released code's format. */
export interface Turn {
  from: 'human' | 'gpt';
  value: string;
}

/** The judge's four 1–10 ratings (SPEC §4). */
export interface Ratings {
  label_accuracy: number;
  media_consistency: number;
  label_consistency: number;
  overall: number;
}

/**
 * One line of a shard. `image` / `video`, `conversations` and `landmarks_2d` follow the released code; media paths
 * are relative to the output folder (the released loader's `image_folder` / `video_folder`). The released loader
 * reads `landmarks_2d` from a file; here the points are inline — one [x, y] list per image, one per frame for a
 * video — so a trainer needs no second file per sample. The remaining fields are this project's.
 */
export interface FaceInstructRecord {
  id: string;
  image?: string;
  video?: string;
  conversations: [Turn, Turn];
  landmarks_2d: Landmarks | readonly Landmarks[];
  task: Task;
  label: TaskLabel['value'];
  source: string;
  split: 'train' | 'val' | 'test';
  subject: string | null;
  instruction_id: string;
  annotator: string;
  ratings?: Ratings;
}
