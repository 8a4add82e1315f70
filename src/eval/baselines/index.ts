// Baselines for `face-llava eval --model npm:<library>`: the face models that ship inside the npm packages we
// already install, measured by the same command on the same face crops as a trained model, so the report's
// numbers sit next to what an off-the-shelf library gets (issue 7).
//
//   npm:human     @vladmandic/human   emotion.json (expression), faceres.json (age)        ./human.ts
//   npm:face-api  @vladmandic/face-api face_expression_model, age_gender_model             ./face-api.ts
import type { Task } from '../../data/build/types.js';
import type { Answerer } from '../run.js';
import { baselineAnswerer, type BaselinePredictor, type BaselineTask } from './answers.js';
import { FaceApiBaseline } from './face-api.js';
import { HumanBaseline } from './human.js';

export { ageSentence, baselineAnswerer, expressionSentence, type BaselinePredictor, type BaselineTask } from './answers.js';
export { FaceApiBaseline } from './face-api.js';
export { HumanBaseline } from './human.js';

interface Entry {
  tasks: readonly BaselineTask[];
  load(options: { threads?: number }): Promise<BaselinePredictor>;
}

const REGISTRY: Readonly<Record<string, Entry>> = {
  'npm:human': { tasks: ['expression', 'age'], load: (o) => HumanBaseline.load(o) },
  'npm:face-api': { tasks: ['expression', 'age'], load: (o) => FaceApiBaseline.load(o) },
};

export const BASELINE_NAMES: readonly string[] = Object.keys(REGISTRY);

/** Frames a baseline is shown from a video: the paper's 8, as the model's default frames_per_video. */
export const BASELINE_VIDEO_FRAMES = 8;

/** Whether `--model` names a baseline (`npm:…`) rather than a model directory. */
export function isBaselineName(model: string | undefined): model is string {
  return model !== undefined && model.startsWith('npm:');
}

function entry(name: string): Entry {
  const found = REGISTRY[name];
  if (!found) throw new Error(`no baseline ${name}: the baselines are ${BASELINE_NAMES.join(', ')}`);
  return found;
}

/** The tasks a baseline answers. */
export function baselineTasks(name: string): readonly BaselineTask[] {
  return entry(name).tasks;
}

/** Throws, before anything loads, when the baseline has no model for the task. */
export function checkBaselineTask(name: string, task: Task): asserts task is BaselineTask {
  const { tasks } = entry(name);
  if (!(tasks as readonly Task[]).includes(task)) throw new Error(`${name} has no model for task ${task}; it answers ${tasks.join(' and ')}`);
}

export interface LoadedBaseline {
  name: string;
  answerer: Answerer;
  dispose(): Promise<void>;
}

/** Loads a baseline's networks (from node_modules) as an Answerer for `task`. */
export async function loadBaseline(name: string, task: Task, options: { threads?: number } = {}): Promise<LoadedBaseline> {
  checkBaselineTask(name, task);
  const predictor = await entry(name).load(options);
  return { name, answerer: baselineAnswerer(predictor, task), dispose: () => predictor.dispose() };
}
