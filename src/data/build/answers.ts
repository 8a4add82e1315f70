// The answer of a sample: the description for open instructions, or the label alone, in the form a constrained
// instruction asks for.
import { auName } from '../labels/action-units.js';
import { ATTRIBUTES } from '../labels/attributes.js';
import type { Instruction } from '../instructions/index.js';
import type { TaskLabel } from './types.js';

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The label in words: "happy", "AU6 (cheek raiser), AU12 (lip corner puller)", "34 years", "fake". */
export function labelWords(label: TaskLabel): string {
  switch (label.task) {
    case 'expression':
    case 'deepfake':
      return label.value;
    case 'au':
      return label.value.length === 0 ? 'no action units' : label.value.map((au) => `AU${au} (${auName(au)})`).join(', ');
    case 'attributes':
      return label.value.length === 0 ? 'none of the attributes' : label.value.map((name) => ATTRIBUTES[name].phrase).join(', ');
    case 'age':
      return `${Math.round(label.value)} years`;
  }
}

/** The answer to `instruction` for a sample with this label and description. */
export function answerFor(instruction: Instruction, label: TaskLabel, description: string): string {
  switch (instruction.form) {
    case 'free':
      return description;
    case 'yes-no':
      return label.value === instruction.yes ? 'Yes' : 'No';
    case 'codes':
      if (label.task !== 'au') throw new Error(`instruction ${instruction.id}: AU codes asked for a ${label.task} sample`);
      return label.value.length === 0 ? 'None' : label.value.map((au) => `AU${au}`).join(', ');
    case 'label':
      switch (label.task) {
        case 'age':
          return String(Math.round(label.value));
        case 'au':
        case 'attributes':
          return label.value.length === 0 ? 'None' : capitalize(labelWords(label));
        default:
          return capitalize(label.value);
      }
  }
}
