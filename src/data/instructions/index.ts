// The instruction pools of FaceInstruct: at least 100 instructions per task, open and constrained, written for
// this project. A sample draws one at random (seeded by its id), and the instruction's answer form decides
// whether the answer is the full description or the bare label.
import type { MediaKind, Task } from '../build/types.js';
import type { Rng } from '../build/random.js';
import type { AnswerForm, PoolEntry } from './types.js';
import { EXPRESSION_POOL } from './expression.js';
import { AU_POOL } from './au.js';
import { ATTRIBUTES_POOL } from './attributes.js';
import { AGE_POOL } from './age.js';
import { DEEPFAKE_POOL } from './deepfake.js';

export type { AnswerForm, PoolEntry } from './types.js';

export interface Instruction {
  /** Stable within a release of the pools: `<task>-<index>`, e.g. `expression-017`. */
  readonly id: string;
  readonly task: Task;
  readonly form: AnswerForm;
  /** The text with `{media}` in place of "image" / "video". */
  readonly text: string;
  readonly yes?: string;
}

const POOLS: Readonly<Record<Task, readonly PoolEntry[]>> = {
  expression: EXPRESSION_POOL,
  au: AU_POOL,
  attributes: ATTRIBUTES_POOL,
  age: AGE_POOL,
  deepfake: DEEPFAKE_POOL,
};

const numbered = (task: Task): readonly Instruction[] =>
  POOLS[task].map((entry, i) => ({ id: `${task}-${String(i).padStart(3, '0')}`, task, ...entry }));

const INSTRUCTIONS: Readonly<Record<Task, readonly Instruction[]>> = {
  expression: numbered('expression'),
  au: numbered('au'),
  attributes: numbered('attributes'),
  age: numbered('age'),
  deepfake: numbered('deepfake'),
};

/** Every instruction of a task, in pool order. */
export function instructionPool(task: Task): readonly Instruction[] {
  return INSTRUCTIONS[task];
}

/** One instruction drawn uniformly from the task's pool. */
export function drawInstruction(task: Task, rng: Rng): Instruction {
  return rng.pick(INSTRUCTIONS[task]);
}

/** The instruction's text for an image or a video. */
export function renderInstruction(instruction: Instruction, media: MediaKind): string {
  return instruction.text.replaceAll('{media}', media);
}
