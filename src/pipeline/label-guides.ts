// Which decoding guide (text/guide.ts) chooses each task's label when the model answers the task's own question:
// the median of the age distribution, and CelebA's attributes decided one by one. The guides know the shapes the
// training answers give their labels (data/annotators/offline.ts): attributes listed after a colon, alphabetically
// by column name, comma-separated; ages as a number of years.
//
// With a label head (model/label-heads.ts) the head's probabilities are pooled into the rule (for age, its
// distribution over the ages with the decoder's, before the median), and expressions, real/fake and AUs get one
// too. Without a head they are left to the sampler, on measurements of the default model (`face-llava eval --split
// val`, with and without the guide):
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
import { ACTION_UNITS } from '../data/labels/action-units.js';
import { ATTRIBUTES, CELEBA_ATTRIBUTES } from '../data/labels/attributes.js';
import { EXPRESSIONS } from '../data/labels/expression.js';
import { authenticityOpenings, expressionOpenings } from '../data/annotators/offline.js';
import { AUTHENTICITY } from '../data/labels/deepfake.js';
import type { MediaKind, Task } from '../data/build/types.js';
import type { LabelHead } from '../model/label-heads.js';
import { argmax } from '../text/sampling.js';
import { ClassGuide, continuationIds, digitIds, ListGuide, MedianNumberGuide, type DecodingGuide, type Evidence } from '../text/guide.js';
import type { Tokenizer } from '../text/tokenizer.js';

/** The oldest age the age guide considers (UTKFace's labels run to 116). */
export const MAX_AGE = 116;

/** A label head's reading of the face (model/label-heads.ts), for the rule to pool with the decoder's. */
export interface HeadReading {
  readonly head: LabelHead;
  /** p_head per label of the head. */
  readonly probabilities: ArrayLike<number>;
  /** The head's share w of the pooled decision. */
  readonly weight: number;
}

export interface LabelGuideOptions {
  /** What the question is about: the answer's openings name it ("this image"). */
  media?: MediaKind;
  /** The task's label head, where the model has one: with it, expressions, real/fake and AUs get a rule too. */
  head?: HeadReading;
}

/** The AUs an answer may list, in the order lists state them (ascending), and how each is written. */
const AU_ITEMS = [...ACTION_UNITS].sort((a, b) => a.au - b.au);

/**
 * The guide for one answer to `task`'s question, or undefined where the sampler's choice is already the rule's.
 * With a label head, its probabilities are pooled into the rule: the expression or authenticity an answer opens with
 * is chosen over every opening of every class (ClassGuide), the AUs and attributes it lists item by item (ListGuide).
 */
export function labelGuide(task: Task, tokenizer: Tokenizer, o: LabelGuideOptions = {}): DecodingGuide | undefined {
  const evidence = (labels: readonly string[]): Evidence | undefined => {
    if (!o.head) return undefined;
    // Each of the guide's labels gets the head's probability where the head has it (NaN: the decoder's alone).
    const at = new Map(o.head.head.labels.map((l, i) => [l, o.head!.probabilities[i]]));
    return { probabilities: labels.map((l) => at.get(l) ?? Number.NaN), weight: o.head.weight };
  };
  /** The class an answer opens with, among the head's classes (the others cannot be pooled), over all their openings. */
  const classGuide = <C extends string>(all: readonly C[], openings: (c: C, media: MediaKind) => string[]): DecodingGuide | undefined => {
    if (!o.head) return undefined;
    const classes = all.filter((c) => o.head!.head.labels.includes(c));
    return new ClassGuide(tokenizer, { openings: classes.map((c) => openings(c, o.media ?? 'image')), evidence: evidence(classes) });
  };
  switch (task) {
    case 'age': {
      // The head's distribution over the ages it was fitted on (none at any other), pooled before the median.
      const ages = evidence(Array.from({ length: MAX_AGE + 1 }, (_, n) => String(n)));
      return new MedianNumberGuide(digitIds(tokenizer), { min: 0, max: MAX_AGE, ...(ages && { evidence: ages }) });
    }
    case 'attributes':
      return new ListGuide(tokenizer, {
        items: CELEBA_ATTRIBUTES.map((name) => ATTRIBUTES[name].phrase),
        // "Visible attributes of this face: …", "… has these attributes: …"
        starts: (state) => state.text.trimEnd().endsWith(':'),
        lead: ' ',
        separator: ', ',
        end: '.',
        evidence: evidence(CELEBA_ATTRIBUTES),
      });
    case 'expression':
      return classGuide(EXPRESSIONS, expressionOpenings);
    case 'deepfake':
      return classGuide(AUTHENTICITY, authenticityOpenings);
    case 'au': {
      if (!o.head) return undefined;
      // The list starts where the decoder is about to write its first "AU" ("… action units are AU1 (…)"); an answer
      // that states none ("No action units are active …") never gets there.
      const au = continuationIds(tokenizer, 'are', ' AU1')?.[0];
      if (au === undefined) return undefined;
      return new ListGuide(tokenizer, {
        items: AU_ITEMS.map((u) => `AU${u.au} (${u.name})`),
        starts: (state) => argmax(state.logits) === au,
        lead: ' ',
        separator: ', ',
        lastSeparator: ' and ',
        end: '.',
        evidence: evidence(AU_ITEMS.map((u) => String(u.au))),
        // A head fitted for F1 gives each AU its threshold (train/label-heads.ts, f1Thresholds); others ½.
        threshold: AU_ITEMS.map((u) => {
          const at = o.head!.head.labels.indexOf(String(u.au));
          return at >= 0 && o.head!.head.thresholds ? o.head!.head.thresholds[at] : 0.5;
        }),
      });
    }
    default:
      return undefined;
  }
}

