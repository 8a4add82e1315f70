// Labels read out of generated answers, one reader per task (SPEC §1: synonym matching for expression,
// attributes and real/fake; numbers for AUs and age). Each returns null when the text states no label at all:
// the metrics count those answers as unreadable.
import { AU_PHRASES, isActionUnit } from '../data/labels/action-units.js';
import { ATTRIBUTES, CELEBA_ATTRIBUTES, type AttributeReadings } from '../data/labels/attributes.js';
import { AUTHENTICITY_SYNONYMS, type Authenticity } from '../data/labels/deepfake.js';
import { EXPRESSION_SYNONYMS, type Expression } from '../data/labels/expression.js';
import { compileLexicon, findMentions, inQuestion, negatedMentions, pickAnswer, prepareText, type Lexicon } from './text.js';

export { extractAge } from './age.js';

function lexiconOf<L extends string>(synonyms: Readonly<Record<L, readonly string[]>>, ignored: readonly string[] = []): Lexicon<L> {
  const entries = (Object.keys(synonyms) as L[]).flatMap((label) => synonyms[label].map((phrase) => [phrase, label] as const));
  return compileLexicon([...entries, ...ignored.map((phrase) => [phrase, null] as const)]);
}

// The sentence up to a mention, when it states the answer: "the expression is", "emotion:", "classified as".
const ANSWER_VERB =
  "(?:is|was|'s|are|would\\s+be|appears(?:\\s+to\\s+be)?|seems(?:\\s+to\\s+be)?|looks(?:\\s+like)?|indicates|suggests|conveys|reflects|shows|displays)";
const CLASSIFIED_AS = '\\b(?:classif(?:y|ied)|categori[sz]ed?|label(?:l?ed)?|identif(?:y|ied)|recogni[sz]ed?|described)\\s+(?:\\w+\\s+){0,2}?as';
function answerFrame(nouns: string): RegExp {
  return new RegExp(
    `(?:\\b(?:${nouns}|answer|label|category|class|prediction|classification|verdict|conclusion)\\b[^.!?;]{0,40}?(?:\\b${ANSWER_VERB}\\b|[:=])|${CLASSIFIED_AS})\\s*(?:[\\w']+\\s+){0,3}$`,
    'i',
  );
}

// ---- expression ----

const EXPRESSION_LEXICON = lexiconOf(EXPRESSION_SYNONYMS);
const EXPRESSION_FRAME = answerFrame('expression|emotion|emotional\\s+state|feeling|mood|affect');

/**
 * The expression class a text gives as its answer, or null. Mentions are synonyms of the eight classes on word
 * boundaries; negated ones ("not happy", "no sign of anger", "rather than sad", "isn't angry") do not count.
 * Among the rest, the answer is chosen by `pickAnswer` (./text.ts): questions skipped, concessive or contrasted
 * mentions demoted, a mention in an answer frame ("the expression is …", "emotion: …") preferred, then the first.
 */
export function extractExpression(answer: string): Expression | null {
  const text = prepareText(answer);
  const mentions = findMentions(text, EXPRESSION_LEXICON);
  const negated = negatedMentions(text, mentions);
  return pickAnswer(text, mentions.filter((_, i) => !negated[i]), EXPRESSION_FRAME)?.label ?? null;
}

// ---- deepfake ----

// "real or fake" restates the question; it says neither.
const AUTHENTICITY_LEXICON = lexiconOf(AUTHENTICITY_SYNONYMS, ['real or fake', 'fake or real', 'real or manipulated', 'real or synthetic', 'authentic or manipulated']);
const AUTHENTICITY_FRAME = answerFrame('image|video|photo|photograph|picture|face|clip|sample|footage|media|input|it|this');
const OPPOSITE: Record<Authenticity, Authenticity> = { real: 'fake', fake: 'real' };

/**
 * Real or fake, or null. A negated mention counts for the other class: "not real" is fake, "no signs of
 * manipulation" and "not fake" are real. The answer among the mentions is chosen as for expressions.
 */
export function extractAuthenticity(answer: string): Authenticity | null {
  const text = prepareText(answer);
  const mentions = findMentions(text, AUTHENTICITY_LEXICON);
  const negated = negatedMentions(text, mentions);
  const resolved = mentions.map((mention, i) => (negated[i] ? { ...mention, label: OPPOSITE[mention.label] } : mention));
  return pickAnswer(text, resolved, AUTHENTICITY_FRAME)?.label ?? null;
}

// ---- first statement wins: AUs and attributes ----

interface Statement<K> {
  key: K;
  start: number;
  end: number;
  /** The mention's own reading, before negation: present (true) or absent (false). */
  says: boolean;
}

/**
 * For each key, what its first stated mention says, negation applied (over all statements together, so that a list
 * shares its negation across keys: "no beard, mustache or sideburns"); questions state nothing. The first statement
 * wins over later ones because answers state their findings before explaining them ("wearing glasses … the glasses
 * are not sunglasses").
 */
function firstStatements<K>(text: string, statements: readonly Statement<K>[]): Map<K, boolean> {
  const ordered = [...statements].sort((a, b) => a.start - b.start || a.end - b.end);
  const negated = negatedMentions(text, ordered);
  const result = new Map<K, boolean>();
  ordered.forEach((statement, i) => {
    if (!result.has(statement.key) && !inQuestion(text, statement)) result.set(statement.key, statement.says !== negated[i]);
  });
  return result;
}

// ---- action units ----

const AU_NAME_LEXICON = compileLexicon(AU_PHRASES);
// "AU12", "AU 6", "AU-4", "AU06", "AU12B", "action unit 4", and lists: "AUs 1, 2 and 4", "AU1+AU2", "AU 6/12".
const AU_CODE = '(?:au|action\\s+unit)s?\\s*[-#]?\\s*';
const AU_NUMBER = '\\d{1,2}(?:\\s*\\([a-e]\\)|[a-e])?\\b';
const AU_LIST = new RegExp(
  `\\b${AU_CODE}${AU_NUMBER}(?:\\s*(?:,\\s*(?:and\\s+|or\\s+)?|\\+|&|\\/|\\band\\b|\\bor\\b)\\s*(?:${AU_CODE})?${AU_NUMBER})*`,
  'gi',
);
const NO_AUS = /\bno\s+(?:\w+\s+)?(?:action\s+units|aus)\b|\bnone\s+of\s+the\s+(?:action\s+units|aus)\b/i;

/**
 * The FACS AUs a text says are present, ascending, or null when it names none at all. AUs are read from codes
 * ("AU12", "AU 6", "action unit 4", lists such as "AUs 1, 2 and 4", where a negation before the list covers the
 * whole list) and from FACS names and their variants ("lip corner puller", "raised cheeks"). For each AU the first
 * mention decides; a negated one ("no AU4", "AU4 is absent") says it is not present. Numbers that are not FACS
 * codes are ignored. "No action units are active" reads as the empty set.
 */
export function extractActionUnits(answer: string): number[] | null {
  const text = prepareText(answer);
  const statements: Statement<number>[] = [];
  for (const match of text.matchAll(AU_LIST)) {
    // Every number of the list takes the list's span, so one negation check covers them all.
    for (const [number] of match[0].matchAll(/\d{1,2}/g)) {
      const au = Number(number);
      if (isActionUnit(au)) statements.push({ key: au, start: match.index, end: match.index + match[0].length, says: true });
    }
  }
  for (const mention of findMentions(text, AU_NAME_LEXICON)) statements.push({ ...mention, key: mention.label, says: true });
  const present = firstStatements(text, statements);
  if (present.size === 0) return NO_AUS.test(text) ? [] : null;
  return [...present].filter(([, on]) => on).map(([au]) => au).sort((a, b) => a - b);
}

// ---- attributes ----

// One lexicon per attribute, so that words shared by two attributes count for both ("young man": Young, Male).
const ATTRIBUTE_LEXICONS = CELEBA_ATTRIBUTES.map((name) => {
  const { synonyms, antonyms } = ATTRIBUTES[name];
  const lexicon = compileLexicon([
    ...synonyms.map((phrase) => [phrase, true] as const),
    ...antonyms.map((phrase) => [phrase, false] as const),
  ]);
  return [name, lexicon] as const;
});

/**
 * For each of CelebA's 40 attributes, whether the text says it is present, absent, or nothing about it; null when
 * it says nothing about any. Synonyms say present and antonyms absent ("woman" for Male, "beard" for No_Beard),
 * negation flips either ("not wearing glasses": Eyeglasses absent; "no beard": No_Beard present, since No_Beard is
 * itself the beardless attribute). Per attribute, the first statement decides.
 */
export function extractAttributes(answer: string): AttributeReadings | null {
  const text = prepareText(answer);
  const statements = ATTRIBUTE_LEXICONS.flatMap(([name, lexicon]) =>
    findMentions(text, lexicon).map((mention) => ({ ...mention, key: name, says: mention.label })),
  );
  const stated = firstStatements(text, statements);
  if (stated.size === 0) return null;
  const readings = {} as AttributeReadings;
  for (const name of CELEBA_ATTRIBUTES) {
    const value = stated.get(name);
    readings[name] = value === undefined ? 'unknown' : value ? 'present' : 'absent';
  }
  return readings;
}
