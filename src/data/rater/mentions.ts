// Every claim a description makes about a label: each phrase of the task's vocabulary (synonyms from
// src/data/labels) found in the text, with the evaluation's negation reading (src/eval/text.ts), so that "no
// sign of anger" is a claim that anger is absent. Where src/eval's readers pick one answer per text, this lists
// all claims, which is what a contradiction check needs.
import { compileLexicon, findMentions, isNegated, prepareText, type Lexicon } from '../../eval/text.js';
import { EXPRESSION_SYNONYMS, type Expression } from '../labels/expression.js';
import { AU_PHRASES } from '../labels/action-units.js';
import { ATTRIBUTES, CELEBA_ATTRIBUTES, type CelebaAttribute } from '../labels/attributes.js';
import { AUTHENTICITY_SYNONYMS, type Authenticity } from '../labels/deepfake.js';

/** A claim read from text: `present` false for a claim of absence. `start`/`end` locate it in the text. */
export interface Claim<L> {
  readonly label: L;
  readonly present: boolean;
  readonly start: number;
  readonly end: number;
}

/** Mentions of a lexicon whose label says present (true) or absent (false) before negation is applied. */
function claimsOf<L>(text: string, lexicon: Lexicon<readonly [L, boolean]>): Claim<L>[] {
  const prepared = prepareText(text);
  return findMentions(prepared, lexicon).map(({ label: [label, says], start, end }) => ({
    label,
    present: says !== isNegated(prepared, { start, end }),
    start,
    end,
  }));
}

function synonymLexicon<L extends string>(synonyms: Readonly<Record<L, readonly string[]>>): Lexicon<readonly [L, boolean]> {
  return compileLexicon(
    (Object.keys(synonyms) as L[]).flatMap((label) => synonyms[label].map((phrase) => [phrase, [label, true] as const] as const)),
  );
}

const EXPRESSION_LEXICON = synonymLexicon(EXPRESSION_SYNONYMS);
const AUTHENTICITY_LEXICON = synonymLexicon(AUTHENTICITY_SYNONYMS);
const AU_NAME_LEXICON = compileLexicon([...AU_PHRASES].map(([phrase, au]) => [phrase, [au, true] as const] as const));
// One lexicon per attribute: a word may speak of two ("button nose" denies Big_Nose and Pointy_Nose).
const ATTRIBUTE_LEXICONS = CELEBA_ATTRIBUTES.map((name) =>
  compileLexicon([
    ...ATTRIBUTES[name].synonyms.map((phrase) => [phrase, [name, true] as const] as const),
    ...ATTRIBUTES[name].antonyms.map((phrase) => [phrase, [name, false] as const] as const),
  ]),
);

export const expressionClaims = (text: string): Claim<Expression>[] => claimsOf(text, EXPRESSION_LEXICON);
export const authenticityClaims = (text: string): Claim<Authenticity>[] => claimsOf(text, AUTHENTICITY_LEXICON);
export const attributeClaims = (text: string): Claim<CelebaAttribute>[] =>
  ATTRIBUTE_LEXICONS.flatMap((lexicon) => claimsOf(text, lexicon));

const AU_CODE = /\b(?:AU|action unit)s?\s?[-#]?\s?(\d{1,2})\b/gi;

/** Action units named in the text, by code ("AU12", "action unit 12") or by FACS name or alias. */
export function auClaims(text: string): Claim<number>[] {
  const prepared = prepareText(text);
  const out = claimsOf(prepared, AU_NAME_LEXICON);
  for (const match of prepared.matchAll(AU_CODE)) {
    const start = match.index;
    const end = start + match[0].length;
    out.push({ label: Number(match[1]), present: !isNegated(prepared, { start, end }), start, end });
  }
  return out;
}

/** An age or age range (inclusive, years) that the text states. */
export interface AgeClaim {
  readonly min: number;
  readonly max: number;
  readonly start: number;
  readonly end: number;
}

const DECADES: Record<string, number> = {
  twenties: 20, thirties: 30, forties: 40, fifties: 50, sixties: 60, seventies: 70, eighties: 80, nineties: 90,
};
const RANGE = /\b(\d{1,3})\s*(?:-|–|to|and)\s*(\d{1,3})[\s-]*(?:years?|yrs?)\b/gi;
const SINGLE = [
  /\b(\d{1,3}(?:\.\d+)?)[\s-]*(?:years?|yrs?)[\s-]*(?:old|of age)\b/gi,
  /\b(?:aged?|age of|age is|age at)\s+(?:about |around |approximately |roughly |near |close to )?(\d{1,3})\b/gi,
];
const DECADE = /\b(?:(early|mid|late)[\s-]+)?(teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b/gi;

/** Every age a text states: "34 years old", "aged about 34", "30–35 years", "in their early thirties". */
export function ageClaims(text: string): AgeClaim[] {
  const out: AgeClaim[] = [];
  const add = (min: number, max: number, start: number, end: number): void => {
    // A range already read covers its own numbers ("30 to 35 years" is not also "35 years").
    if (!out.some((c) => start < c.end && end > c.start)) out.push({ min, max, start, end });
  };
  for (const m of text.matchAll(RANGE)) add(Number(m[1]), Number(m[2]), m.index, m.index + m[0].length);
  for (const pattern of SINGLE) for (const m of text.matchAll(pattern)) add(Number(m[1]), Number(m[1]), m.index, m.index + m[0].length);
  for (const m of text.matchAll(DECADE)) {
    // Teens span 13–19, so their thirds are narrower than a decade's.
    const [lo, third] = m[2].toLowerCase() === 'teens' ? [13, 2] : [DECADES[m[2].toLowerCase()], 3];
    const part = ['early', 'mid', 'late'].indexOf(m[1]?.toLowerCase() ?? '');
    const [min, max] = part < 0 ? [lo, lo + 3 * third] : [lo + part * third, lo + (part + 1) * third];
    add(min, max, m.index, m.index + m[0].length);
  }
  return out;
}
