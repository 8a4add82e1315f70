// Reading labels out of free text: find the phrases of a vocabulary (whole words, any case, hyphen or space
// between words), decide which mentions are negated, and which one a text gives as its answer.
import { normalizePhrase } from '../data/labels/lexicon.js';

/** A vocabulary compiled for search: phrase → label; a phrase mapped to null is matched and then ignored. */
export interface Lexicon<L> {
  pattern: RegExp;
  lookup: ReadonlyMap<string, L | null>;
}

/** A stretch of text: [start, end). */
export interface Span {
  start: number;
  end: number;
}

export interface Mention<L> extends Span {
  label: L;
}

const SEPARATOR = '[\\s_\\-\\u2010-\\u2014]+';

function escape(token: string): string {
  return token.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * Compiles phrase → label pairs. Longer phrases are tried first, so "lip corners pulled down" wins over "lip
 * corners pulled" and "full beard" over "beard". Phrases are normalised as in ../data/labels/lexicon.ts.
 */
export function compileLexicon<E extends readonly [string, unknown]>(entries: Iterable<E>): Lexicon<Exclude<E[1], null>> {
  type L = Exclude<E[1], null>;
  const lookup = new Map<string, L | null>();
  for (const [phrase, label] of entries) lookup.set(normalizePhrase(phrase), label as L | null);
  const alternatives = [...lookup.keys()]
    .sort((a, b) => b.length - a.length)
    .map((phrase) => phrase.split(' ').map(escape).join(SEPARATOR));
  return { pattern: new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'giu'), lookup };
}

/** Straight apostrophes for curly ones, so "isn’t" reads as "isn't"; the length (and so every offset) is kept. */
export function prepareText(text: string): string {
  return text.replace(/[\u2018\u2019\u02bc]/g, "'");
}

/** Every non-overlapping mention of the lexicon's phrases, in text order (ignored phrases left out). */
export function findMentions<L>(text: string, lexicon: Lexicon<L>): Mention<L>[] {
  const mentions: Mention<L>[] = [];
  for (const match of text.matchAll(lexicon.pattern)) {
    const label = lexicon.lookup.get(normalizePhrase(match[0]));
    if (label === undefined || label === null) continue;
    mentions.push({ label, start: match.index, end: match.index + match[0].length });
  }
  return mentions;
}

// ---- sentences and clauses ----

// A full stop not inside a number ("3.5"), or a question or exclamation mark, or a line break.
const SENTENCE_END = /[.!?](?!\d)|\n/g;

/** The sentence around [start, end): its bounds and whether it is a question (echoed questions state nothing). */
function sentence(text: string, start: number, end: number): { from: number; to: number; question: boolean } {
  let from = 0;
  let to = text.length;
  let question = false;
  for (const match of text.matchAll(SENTENCE_END)) {
    if (match.index < start) from = match.index + 1;
    else if (match.index >= end) {
      to = match.index;
      question = match[0] === '?';
      break;
    }
  }
  return { from, to, question };
}

export function inQuestion(text: string, mention: Span): boolean {
  return sentence(text, mention.start, mention.end).question;
}

// Clause boundaries: punctuation, a spaced dash, or a word that opens a new or contrasting clause. Words belong to
// the clause they open ("but sad"), punctuation to none. Parentheses are not boundaries: "no AU4 (brow lowerer)"
// keeps the name inside the negation.
const CLAUSE_BOUNDARY =
  /[.!?;:,](?!\d)|\n|\s[-\u2013\u2014]\s|\b(?:but|however|although|though|yet|whereas|while|whilst|except|instead|despite|nevertheless|nonetheless)\b/gi;

/** Where the clause holding `position` starts. */
function clauseStart(text: string, position: number): number {
  let start = 0;
  for (const match of text.matchAll(CLAUSE_BOUNDARY)) {
    if (match.index >= position) break;
    start = /^[a-z]/i.test(match[0]) ? match.index : match.index + match[0].length;
  }
  return start;
}

// ---- negation ----

// Cues that negate what follows them in the clause.
const NEGATION_CUE = new RegExp(
  [
    "\\b(?:not|no|never|none|nothing|neither|nor|without|cannot|unlike|\\w+n't|isnt|arent|wasnt|werent|doesnt|dont|didnt",
    'hasnt|havent|hadnt|cant|couldnt|wont|wouldnt|shouldnt)\\b',
    '\\black(?:s|ing)?(?:\\s+(?:of|any))?\\b|\\babsence\\s+of\\b|\\b(?:free|devoid)\\s+(?:of|from)\\b',
    '\\brather\\s+than\\b|\\binstead\\s+of\\b|\\bas\\s+opposed\\s+to\\b|\\bin\\s+place\\s+of\\b|\\bother\\s+than\\b',
    '\\b(?:rul(?:e|es|ed|ing)\\s+out|exclud(?:e|es|ed|ing))\\b|\\bfail(?:s|ed|ing)?\\s+to\\b',
  ].join('|'),
  'gi',
);

// Cue words that, in these phrases, do not negate: "not only happy but also …", "nothing but joy".
const NOT_A_NEGATION =
  /^(?:not\s+(?:only|just|merely|least|to\s+mention)|no\s+(?:doubt|matter|less)|without\s+(?:a\s+)?doubt|nothing\s+but)\b/i;

/** How many words may separate a negation cue from what it negates: "not showing any obvious signs of being angry". */
const NEGATION_REACH = 6;

// What after a mention negates it: "AU4 is not present", "anger is absent", "AU12: no".
const NEGATED_AFTER = new RegExp(
  [
    '^\\s*(?:\\([^)]*\\)\\s*)?(?:',
    '(?:(?:is|are|was|were|appears?|seems?|remains?)\\s+)?(?:not\\s+|\\w+n\'t\\s+)(?:\\w+\\s+)?',
    '(?:present|visible|evident|detected|activated|active|observed|shown|displayed|apparent|seen|involved|noticeable|engaged)\\b',
    '|(?:(?:is|are|was|were)\\s+)?(?:absent|missing|inactive|undetected)\\b',
    '|[:=]\\s*(?:no|none|absent|not\\s+present|inactive|0)\\s*(?:[,;.\\n]|$)',
    ')',
  ].join(''),
  'i',
);

/**
 * Whether a negation cue before the mention reaches it: a cue in the same clause ("not", "no sign of", "isn't",
 * "rather than", "without", "lack of" …) at most NEGATION_REACH words earlier, where an "and" in between ends the
 * cue's reach unless it joins the bare mention itself to a list ("no beard and mustache" negates both; "no beard
 * and a mustache" and "not wearing glasses and has a beard" do not negate what follows "and").
 */
function negatedBefore(text: string, mention: Span): boolean {
  const before = text.slice(clauseStart(text, mention.start), mention.start);
  let cueEnd = -1;
  for (const match of before.matchAll(NEGATION_CUE)) {
    if (!NOT_A_NEGATION.test(before.slice(match.index))) cueEnd = match.index + match[0].length;
  }
  if (cueEnd < 0) return false;
  const gap = before.slice(cueEnd);
  const words = gap.match(/[\p{L}\p{N}']+/gu) ?? [];
  if (words.length > NEGATION_REACH) return false;
  const andAt = gap.search(/\band\b/i);
  return andAt < 0 || /^and(?:\s+any)?\s*$/i.test(gap.slice(andAt));
}

/** Whether what follows the mention negates it: "is not present", "is absent", ": no". */
function negatedAfter(text: string, mention: Span): boolean {
  return NEGATED_AFTER.test(text.slice(mention.end, mention.end + 80));
}

/** Whether one mention is negated, by what comes before or after it; negatedMentions also reads lists. */
export function isNegated(text: string, mention: Span): boolean {
  return negatedAfter(text, mention) || negatedBefore(text, mention);
}

const OR_SEPARATOR = /^\s*,?\s*n?or\s+(?:(?:a|an|the|any)\s+)?$/i;
const AND_SEPARATOR = /^\s*,?\s*and\s+$/i;
const COMMA_SEPARATOR = /^\s*,\s*(?:(?:a|an|the|any)\s+)?$/i;

/**
 * Whether two consecutive mentions are items of one list, and so share a negation: joined by "or"/"nor" ("no beard
 * or mustache", "not a hat, or earrings"), by a bare "and" ("no beard and mustache"; "and a mustache" starts a new
 * statement), or by a comma when the conjunction that closes the list is "or"/"nor" ("no sign of happiness,
 * sadness or anger", but not "no facial hair, a big nose and rosy cheeks").
 */
function sameList(text: string, previous: Span, mention: Span): boolean {
  const gap = text.slice(previous.end, mention.start);
  if (OR_SEPARATOR.test(gap) || AND_SEPARATOR.test(gap)) return true;
  if (!COMMA_SEPARATOR.test(gap)) return false;
  const closing = /\b(and|n?or)\b/i.exec(text.slice(mention.end, sentence(text, mention.start, mention.end).to));
  return closing !== null && closing[1].toLowerCase() !== 'and';
}

/**
 * Which of `mentions` (in text order) are negated: by a cue before the mention or by what follows it (see
 * negatedBefore, negatedAfter), and by list (see sameList): the items of a list share a negation from either end
 * ("no sign of happiness, sadness or anger" negates all three although commas end clauses; "the brow lowerer and
 * nose wrinkler are absent" negates both).
 */
export function negatedMentions(text: string, mentions: readonly Span[]): boolean[] {
  const listed = mentions.map((mention, i) => i > 0 && sameList(text, mentions[i - 1], mention));
  const after = mentions.map((mention) => negatedAfter(text, mention));
  for (let i = mentions.length - 2; i >= 0; i--) if (listed[i + 1] && after[i + 1]) after[i] = true;
  const negated: boolean[] = [];
  mentions.forEach((mention, i) => negated.push(after[i] || (listed[i] && negated[i - 1]) || negatedBefore(text, mention)));
  return negated;
}

// ---- choosing the answer among several mentions ----

const CONCESSIVE_OPENING = /^(?:although|though|even\s+though|even\s+if|despite|while|whilst|admittedly)\b/i;
const CONTRAST = /\b(?:but(?!\s+also)|however|yet|nevertheless|nonetheless|instead|actually|in\s+fact)\b/i;

/**
 * Picks the mention a text gives as its answer, among `candidates` (already stripped of negated mentions or
 * resolved, as the task requires). Rule, in order:
 *   1. mentions inside a question are dropped (an echoed "is the person happy or sad?");
 *   2. a mention is demoted when it sits in a concessive clause ("although they look sad, …") or when a later
 *      candidate of the same sentence with another label follows a contrast word ("may suggest anger, but the
 *      expression is disgust"); across sentences a contrast demotes nothing, since explanations often add
 *      "however, there is a hint of sadness" after stating the answer;
 *   3. among the rest, one stated in an answer frame (`frame` matches the sentence up to the mention: "the
 *      expression is", "classified as") beats one that is not;
 *   4. ties go to the first in the text.
 */
export function pickAnswer<L>(text: string, candidates: readonly Mention<L>[], frame: RegExp): Mention<L> | null {
  const stated = candidates.filter((mention) => !inQuestion(text, mention));
  let best: Mention<L> | null = null;
  let bestRank = Infinity;
  for (const [i, mention] of stated.entries()) {
    const { from, to } = sentence(text, mention.start, mention.end);
    const clause = text.slice(clauseStart(text, mention.start), mention.start);
    const contrasted = stated
      .slice(i + 1)
      .some((later) => later.end <= to && later.label !== mention.label && CONTRAST.test(text.slice(mention.end, later.start)));
    const demoted = CONCESSIVE_OPENING.test(clause.trimStart()) || contrasted;
    const framed = frame.test(text.slice(from, mention.start));
    const rank = (demoted ? 2 : 0) + (framed ? 0 : 1);
    if (rank < bestRank) {
      best = mention;
      bestRank = rank;
    }
  }
  return best;
}
