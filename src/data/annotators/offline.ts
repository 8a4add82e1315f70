// The offline annotator (the default): deterministic, no network. It states the label, then the cues actually
// measured on this face — supporting cues first, then other clear departures from a resting face, then head
// pose — and, when a cue supports the label, a sentence linking the two. Wording varies per sample (seeded by the
// sample id). It never states a cue that was not measured, and leaves out a cue whose wording would contradict the
// label (checked with the same reader the rule checker uses).
import { CUE_NAMES, type Cue, type CueName } from '../cues.js';
import { auName } from '../labels/action-units.js';
import { ATTRIBUTES } from '../labels/attributes.js';
import type { Authenticity } from '../labels/deepfake.js';
import type { Expression } from '../labels/expression.js';
import { rngFor, type Rng } from '../build/random.js';
import type { MediaKind, TaskLabel } from '../build/types.js';
import { labelContradictions } from '../rater/rules.js';
import { CUE_PHRASES } from './cue-phrases.js';
import { cueLinks } from './cue-links.js';
import type { AnnotationRequest, Annotator } from './types.js';

const ADJECTIVE: Readonly<Record<Expression, string>> = {
  neutral: 'neutral', happy: 'happy', sad: 'sad', surprise: 'surprised', fear: 'fearful', disgust: 'disgusted', angry: 'angry',
  contempt: 'contemptuous',
};
const NOUN: Readonly<Record<Expression, string>> = {
  neutral: 'a neutral expression', happy: 'happiness', sad: 'sadness', surprise: 'surprise', fear: 'fear', disgust: 'disgust',
  angry: 'anger', contempt: 'contempt',
};

const POSE: ReadonlySet<CueName> = new Set(['headYaw', 'headRoll', 'headPitch']);
/** Face cues stated at most (pose comes on top): more reads as a checklist, not a description. */
const MAX_FACE_CUES = 4;

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const withArticle = (word: string): string => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`);

/** "a", "a and b", "a, b and c". */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function ageGroup(years: number): string | undefined {
  if (years < 1) return 'to be an infant';
  if (years < 13) return 'to be a child';
  if (years < 20) return 'to be a teenager';
  if (years >= 100) return undefined;
  const decades = ['twenties', 'thirties', 'forties', 'fifties', 'sixties', 'seventies', 'eighties', 'nineties'];
  const unit = years % 10;
  return `to be in their ${unit <= 3 ? 'early' : unit <= 6 ? 'mid' : 'late'} ${decades[Math.floor(years / 10) - 2]}`;
}

/** Every sentence an answer may open with to state an expression (one is picked per answer). */
export function expressionOpenings(expression: Expression, media: MediaKind): string[] {
  const adj = ADJECTIVE[expression];
  const noun = NOUN[expression];
  return [
    `The person in this ${media} looks ${adj}.`,
    `This face shows ${noun}.`,
    `The facial expression in this ${media} is ${adj}.`,
    `The expression on this face reads as ${adj}.`,
    `This is ${withArticle(adj)} face.`,
    `The face conveys ${noun}.`,
  ];
}

/** Every sentence an answer may open with to say whether the face is real or fake (one is picked per answer). */
export function authenticityOpenings(authenticity: Authenticity, media: MediaKind): string[] {
  const capture = media === 'image' ? 'photograph' : 'recording';
  return authenticity === 'real'
    ? [
        `This ${media} shows a real face.`,
        `The face appears to be an authentic ${capture} of a real person.`,
        'This is a genuine, camera-captured face.',
        `The face in this ${media} is real.`,
      ]
    : [
        'This face is fake.',
        'The face appears to be synthetically generated rather than captured by a camera.',
        'This is a computer-generated face.',
        `The ${media} shows a synthetic face.`,
      ];
}

/** The opening sentence(s): the label, in words the evaluation reads back. */
function labelSentences(label: TaskLabel, media: MediaKind, rng: Rng): string[] {
  switch (label.task) {
    case 'expression':
      return [rng.pick(expressionOpenings(label.value, media))];
    case 'au': {
      const aus = label.value;
      if (aus.length === 0) return [rng.pick(['No action units are active on this face.', 'The face shows no active action units.'])];
      const list = listOf(aus.map((au) => `AU${au} (${auName(au)!})`));
      const one = aus.length === 1;
      return [
        rng.pick([
          one ? `The active action unit is ${list}.` : `The active action units are ${list}.`,
          `This face shows ${list}.`,
          `FACS coding of this face gives ${list}.`,
          `The ${media} displays the following action ${one ? 'unit' : 'units'}: ${list}.`,
          `Action ${one ? 'unit' : 'units'} present: ${list}.`,
        ]),
      ];
    }
    case 'attributes': {
      // Commas only: in "no beard and wavy hair" the "no" would reach over "and" to the wavy hair.
      const list = label.value.map((name) => ATTRIBUTES[name].phrase).join(', ');
      if (label.value.length === 0) return ['None of the CelebA attributes is marked for this face.'];
      const person = label.value.includes('Male') ? 'man' : 'woman';
      return [
        rng.pick([
          `The ${person} in this ${media} has these attributes: ${list}.`,
          `Visible attributes of this face: ${list}.`,
          `Attributes that apply here: ${list}.`,
          `This face shows the following attributes: ${list}.`,
        ]),
      ];
    }
    case 'age': {
      const n = Math.round(label.value);
      const first = rng.pick([
        `The person in this ${media} appears to be about ${n} years old.`,
        `This face looks roughly ${n} years old.`,
        `I estimate the age at about ${n} years.`,
        `The person is likely around ${n} years of age.`,
        `This looks like a ${n}-year-old person.`,
      ]);
      // The number comes first: the evaluation reads the first age a text states.
      const group = ageGroup(n);
      return group ? [first, `They appear ${group}.`] : [first];
    }
    case 'deepfake':
      return [rng.pick(authenticityOpenings(label.value, media))];
  }
}

function linkSentence(label: TaskLabel, rng: Rng): string | undefined {
  switch (label.task) {
    case 'expression': {
      const noun = NOUN[label.value];
      return rng.pick([`These cues are typical of ${noun}.`, `Together, they point to ${noun}.`, `This configuration is characteristic of ${noun}.`]);
    }
    case 'au':
      return rng.pick([
        'These movements are consistent with the coded action units.',
        'This geometry matches the listed action units.',
        'The measured landmarks agree with these action units.',
      ]);
    case 'attributes':
      return rng.pick(['The measured face geometry agrees with these attributes.', 'This matches the listed attributes.']);
    default:
      return undefined;
  }
}

/** The cues to state, in order: supporting first, then other departures from rest, then pose. */
function chooseCues(cues: readonly Cue[], label: TaskLabel, rng: Rng): Cue[] {
  const links = cueLinks(label);
  const usable = cues.filter((cue) => !links.conflicts(cue.name, cue.level));
  const face = usable.filter((cue) => !POSE.has(cue.name));
  const byStrength = (a: Cue, b: Cue): number => b.strength - a.strength;
  const supporting = rng.shuffle(face.filter((cue) => links.supports(cue.name, cue.level))).sort(byStrength);
  const others = face.filter((cue) => !cue.neutral && !links.supports(cue.name, cue.level)).sort(byStrength);
  let chosen = [...supporting, ...others].slice(0, MAX_FACE_CUES);
  // Nothing stands out: say how the resting face looks, which is a measurement too (its mouth width is not worth a
  // sentence).
  if (chosen.length === 0) chosen = rng.shuffle(face.filter((cue) => cue.neutral && cue.name !== 'mouthWidth')).slice(0, 2);
  const pose = usable.filter((cue) => POSE.has(cue.name));
  const turned = pose.filter((cue) => !cue.neutral);
  const frontal = pose.find((cue) => cue.name === 'headYaw' && cue.neutral);
  return [...chosen, ...(turned.length > 0 ? turned : frontal && rng.next() < 0.4 ? [frontal] : [])];
}

const FIRST_LEADS: Readonly<Record<MediaKind, readonly string[]>> = {
  image: ['', '', 'On this face, ', 'Looking closely, ', 'Notably, ', 'In particular, '],
  video: ['Across the clip, ', 'Throughout the video, ', 'In most frames, ', 'Over the course of the clip, '],
};
const NEXT_LEADS = ['', '', 'Also, ', 'In addition, ', 'Besides, '];
const JOINERS = [', and ', ', while ', '; '];

/** The description of one sample. Deterministic in the request. */
export function describe(request: Omit<AnnotationRequest, 'frames'>): string {
  const rng = rngFor(request.seed, 'describe', request.id);
  const { label, media } = request;
  const measured = CUE_NAMES.map((name) => request.cues[name]).filter((cue): cue is Cue => cue !== undefined);
  const links = cueLinks(label);

  const clauses: string[] = [];
  let supported = false;
  for (const cue of chooseCues(measured, label, rng)) {
    const wordings = CUE_PHRASES[cue.name][cue.level].filter((clause) => labelContradictions(clause, label).length === 0);
    if (wordings.length === 0) continue;
    clauses.push(rng.pick(wordings));
    supported ||= links.supports(cue.name, cue.level);
  }

  const sentences = labelSentences(label, media, rng);
  let lead = '';
  for (let i = 0; i < clauses.length; i += 2) {
    // No lead twice in a row ("In addition, … In addition, …"); an empty lead may repeat.
    lead = rng.pick((i === 0 ? FIRST_LEADS[media] : NEXT_LEADS).filter((l) => l === '' || l !== lead));
    const body = i + 1 < clauses.length ? clauses[i] + rng.pick(JOINERS) + clauses[i + 1] : clauses[i];
    sentences.push(capitalize(lead + body) + '.');
  }
  const link = supported ? linkSentence(label, rng) : undefined;
  if (link) sentences.push(link);
  return sentences.join(' ');
}

export class OfflineAnnotator implements Annotator {
  readonly name = 'offline';

  async annotate(request: AnnotationRequest): Promise<string> {
    return describe(request);
  }
}
