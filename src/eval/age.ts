// Reading an age in years out of a generated answer.
import { isPlausibleAge } from '../data/labels/age.js';
import { NUMBER, parseNumber } from './numbers.js';

// Decades: "20s", "twenties", "mid-thirties", "late teens"; teens are 13–19.
const DECADE_WORDS: Record<string, number> = {
  teens: 10, twenties: 20, thirties: 30, forties: 40, fifties: 50, sixties: 60, seventies: 70, eighties: 80, nineties: 90,
};
// Where early/mid/late put an age inside its decade; teens span 13–19, so they get their own offsets.
const DECADE_OFFSET: Record<string, number> = { early: 2, mid: 5, late: 8, '': 5 };
const TEENS_AGE: Record<string, number> = { early: 14, mid: 16, late: 18, '': 16 };

const N = `(${NUMBER})`;
const DIGITS = '\\d{1,3}(?:\\.\\d+)?';
// Words that make the next number an age: "aged 35", "about 35", "age: 35", "estimated to be 35".
const AGE_BEFORE =
  '(?<=\\b(?:age[ds]?|aged|around|about|approximately|approx\\.?|roughly|circa|estimated|estimate|likely|maybe|perhaps)' +
  '(?:\\s+(?:is|of|at|to\\s+be|would\\s+be|be|around|about|approximately|roughly))*\\s*[:=~]?\\s*)';
// Words that make the number before them an age: "35 years", "35-year-old", "35 yrs", "35yo".
const AGE_AFTER = '(?=\\s*-?\\s*(?:years?|yrs?|y\\.?o\\.?)\\b)';

interface Reading {
  at: number;
  length: number;
  years: number;
}

type Reader = { pattern: RegExp; read: (match: RegExpMatchArray) => number };

// A decade, in three groups: early/mid/late, the tens digit ("20s"), the word ("twenties").
const DECADE = `(?:(early|mid|late)[\\s-]*)?(?:([1-9])0'?s|(${Object.keys(DECADE_WORDS).join('|')}))`;

/** The age a DECADE match means, its groups starting at `m[first]`. */
function decadeAge(m: RegExpMatchArray, first: number): number {
  const position = (m[first] ?? '').toLowerCase();
  const digit = m[first + 1];
  const word = (m[first + 2] ?? '').toLowerCase();
  if (digit !== undefined) return Number(digit) * 10 + DECADE_OFFSET[position];
  return word === 'teens' ? TEENS_AGE[position] : DECADE_WORDS[word] + DECADE_OFFSET[position];
}

const READERS: Reader[] = [
  // Ranges read as their midpoint: "25-30", "25 to 30 years", "4 or 5", "twenty to thirty", "between 25 and 30",
  // "late 50s to early 60s". A hyphen only between digits: in words it joins one number ("forty-two").
  {
    pattern: new RegExp(`(?<![\\w.])(${DIGITS})\\s*[-\\u2013\\u2014]\\s*(${DIGITS})(?![\\w%]|\\.\\d)`, 'g'),
    read: (m) => (Number(m[1]) + Number(m[2])) / 2,
  },
  { pattern: new RegExp(`(?<![\\w.])${N}\\s+(?:to|or)\\s+${N}\\b`, 'gi'), read: (m) => (parseNumber(m[1]) + parseNumber(m[2])) / 2 },
  { pattern: new RegExp(`(?<=\\bbetween\\s+)${N}\\s+and\\s+${N}\\b`, 'gi'), read: (m) => (parseNumber(m[1]) + parseNumber(m[2])) / 2 },
  { pattern: new RegExp(`\\b${DECADE}\\s+(?:to|or|and|-)\\s+${DECADE}\\b`, 'gi'), read: (m) => (decadeAge(m, 1) + decadeAge(m, 4)) / 2 },
  // Decades: "in his 20s", "mid-thirties", "late teens".
  { pattern: new RegExp(`\\b${DECADE}\\b`, 'gi'), read: (m) => decadeAge(m, 1) },
  // Months, for infants: "8 months old".
  { pattern: new RegExp(`\\b${N}(?=\\s*-?\\s*months?\\b)`, 'gi'), read: (m) => parseNumber(m[1]) / 12 },
  { pattern: new RegExp(`\\b${N}${AGE_AFTER}`, 'gi'), read: (m) => parseNumber(m[1]) },
  { pattern: new RegExp(`${AGE_BEFORE}${N}\\b`, 'gi'), read: (m) => parseNumber(m[1]) },
];

// A lone number, when nothing says "age": not an AU ("AU 12"), not a percentage, not part of a longer token.
const BARE_NUMBER = /(?<![\w.]|\b(?:aus?|action\s+units?)\s*-?\s*)(\d{1,3}(?:\.\d+)?)(?![\w%]|\.\d)/gi;

/**
 * The age a text states, in years, or null. Age-marked readings come first: ranges (midpoint, also of decades:
 * "late 50s to early 60s" → 60), decades ("in his 20s" → 25, "mid-thirties" → 35, "late forties" → 48, "early
 * teens" → 14), months ("8 months old" → 0.67),
 * numbers in digits or words next to an age word ("35 years", "aged 35", "about forty-two"). The earliest wins; at
 * one position the longest ("about 25-30" is the range, not 25). Without any, the first bare number in
 * [MIN_AGE, MAX_AGE] is taken ("35."). Readings outside that range are ignored. Negations ("not 30") are not
 * looked for: answers state an estimate, they do not rule ages out.
 */
export function extractAge(text: string): number | null {
  let best: Reading | null = null;
  for (const { pattern, read } of READERS) {
    for (const match of text.matchAll(pattern)) {
      const years = read(match);
      if (!isPlausibleAge(years)) continue;
      const reading = { at: match.index, length: match[0].length, years };
      if (!best || reading.at < best.at || (reading.at === best.at && reading.length > best.length)) best = reading;
    }
  }
  if (best) return best.years;
  for (const match of text.matchAll(BARE_NUMBER)) {
    const years = Number(match[1]);
    if (isPlausibleAge(years)) return years;
  }
  return null;
}
