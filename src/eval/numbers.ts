// English number words, as a model writes an age: "seven", "forty-two", "thirty five", "one hundred and two".

const UNITS = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen',
];
const TENS: Record<string, number> = {
  twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};

// Longest first, so that "seventeen" is not read as "seven".
const unitWords = [...UNITS].sort((a, b) => b.length - a.length).join('|');
const tensWords = Object.keys(TENS).join('|');
const below100 = `(?:(?:${tensWords})(?:[\\s-]+(?:${UNITS.slice(1, 10).join('|')}))?|${unitWords})`;

/** Regex source for a number in words from zero to 199 (no groups, no anchors, no word boundaries). */
export const NUMBER_WORDS = `(?:(?:a|one)[\\s-]+hundred(?:[\\s-]+(?:and[\\s-]+)?${below100})?|${below100})`;

/** The value of a number in words that NUMBER_WORDS matched (any case). */
export function wordsToNumber(words: string): number {
  let total = 0;
  for (const word of words.toLowerCase().split(/[\s-]+/)) {
    if (word === 'hundred') total = (total === 0 ? 1 : total) * 100;
    else if (word in TENS) total += TENS[word];
    else if (UNITS.includes(word)) total += UNITS.indexOf(word);
    // "a" and "and" add nothing; "a hundred" is 100 through the hundred rule.
  }
  return total;
}

/** Regex source for a number written in digits (optionally with decimals) or in words. */
export const NUMBER = `(?:\\d{1,3}(?:\\.\\d+)?|${NUMBER_WORDS})`;

/** The value of a number NUMBER matched. */
export function parseNumber(text: string): number {
  return /^\d/.test(text) ? Number(text) : wordsToNumber(text);
}
