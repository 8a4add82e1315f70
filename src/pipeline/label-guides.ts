// Which decoding guide (text/guide.ts) chooses each task's label when the model answers the task's own question:
// the median of the age distribution, and CelebA's attributes decided one by one. The guides know the shapes the
// training answers give their labels (data/annotators/offline.ts): attributes listed after a colon, alphabetically
// by column name, comma-separated; ages as a number of years.
//
// The other tasks are left to the sampler, on measurements of the default model (`face-llava eval --split val`,
// with and without the guide):
// - Expression and real/fake, a class summed over all the wordings the training answers state it in (a
//   "ClassGuide": 6 openings per expression, 4 per authenticity), against greedy decoding's single path: FER2013
//   0.546 vs 0.544 (n 1,500), CK+ expressions 0.905 vs 0.905, real/fake 0.857 vs 0.869 (84 images) — no gain, at
//   1.5 times the time of an answer.
// - Action units decided one by one (a ListGuide over "AU1 (inner brow raiser)", … with " and " before the last):
//   CK+ AU F1 0.542 vs 0.552 sampled, its lists as long (618 AUs stated against 621; 624 true), at 11 times the
//   time of an answer (measured before `extend` shared the cache and moves were cut at their distinguishing
//   token): the model's AU lists are not over-long, so the rule has nothing to mend. With the threshold at 0.3
//   instead of ½ (F1, unlike accuracy, is maximised near half the attainable F1): 0.559 — within the ±0.03–0.04
//   noise of 147 images, for about 1 s more an answer.
import { ATTRIBUTES, CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import type { Task } from '../data/build/types.js';
import { digitIds, ListGuide, MedianNumberGuide, type DecodingGuide } from '../text/guide.js';
import type { Tokenizer } from '../text/tokenizer.js';

/** The oldest age the age guide considers (UTKFace's labels run to 116). */
export const MAX_AGE = 116;

/** The guide for one answer to `task`'s question, or undefined where the sampler's choice is already the rule's. */
export function labelGuide(task: Task, tokenizer: Tokenizer): DecodingGuide | undefined {
  switch (task) {
    case 'age':
      return new MedianNumberGuide(digitIds(tokenizer), { min: 0, max: MAX_AGE });
    case 'attributes':
      return new ListGuide(tokenizer, {
        items: CELEBA_ATTRIBUTES.map((name) => ATTRIBUTES[name].phrase),
        // "Visible attributes of this face: …", "… has these attributes: …"
        starts: (state) => state.text.trimEnd().endsWith(':'),
        lead: ' ',
        separator: ', ',
        end: '.',
      });
    default:
      return undefined;
  }
}

