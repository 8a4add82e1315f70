// The label an answer states, read as the evaluation reads it (src/eval/tasks.ts), in the form an analysis reports.
import type { Task } from '../data/build/types.js';
import { CELEBA_ATTRIBUTES, type AttributeReadings, type CelebaAttribute } from '../data/labels/attributes.js';
import type { Authenticity } from '../data/labels/deepfake.js';
import type { Expression } from '../data/labels/expression.js';
import { readAnswer } from '../eval/tasks.js';

/** The attributes an answer says the face has, and those it says it has not; the others it does not mention. */
export interface AttributeLabel {
  present: CelebaAttribute[];
  absent: CelebaAttribute[];
}

/** Each task's label: an expression class, the active action units, the stated attributes, an age, real or fake. */
export interface Labels {
  expression: Expression;
  au: number[];
  attributes: AttributeLabel;
  age: number;
  deepfake: Authenticity;
}

function attributeLabel(readings: AttributeReadings): AttributeLabel {
  return {
    present: CELEBA_ATTRIBUTES.filter((name) => readings[name] === 'present'),
    absent: CELEBA_ATTRIBUTES.filter((name) => readings[name] === 'absent'),
  };
}

/** The label `answer` states for `task`, or null when it states none. */
export function readLabel<T extends Task>(task: T, answer: string): Labels[T] | null {
  const reading = readAnswer(task, answer);
  if (reading === null) return null;
  return (task === 'attributes' ? attributeLabel(reading as AttributeReadings) : reading) as Labels[T];
}
