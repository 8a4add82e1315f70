// Shared plumbing of the label vocabularies: how a word or phrase is normalised, and the phrase → label lookup
// built from each vocabulary's synonym lists.

/**
 * The normal form of a label word or phrase: lower case, curly apostrophes made straight, underscores, hyphens and
 * runs of white space made one space, ends trimmed. "Clean-Shaven" and "clean  shaven" both become "clean shaven".
 */
export function normalizePhrase(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\s_\u2010-\u2014-]+/g, ' ')
    .trim();
}

/**
 * Maps every synonym (normalised) to its label. A phrase listed twice, above all under two labels, is a mistake in
 * the vocabulary, not a choice to make at run time, so it throws when the module loads.
 */
export function buildLookup<L extends string>(synonyms: Readonly<Record<L, readonly string[]>>): ReadonlyMap<string, L> {
  const lookup = new Map<string, L>();
  for (const label of Object.keys(synonyms) as L[]) {
    for (const phrase of synonyms[label]) {
      const key = normalizePhrase(phrase);
      const other = lookup.get(key);
      if (other !== undefined) {
        throw new Error(other === label ? `"${phrase}" is listed twice under ${label}` : `"${phrase}" is listed under both ${other} and ${label}`);
      }
      lookup.set(key, label);
    }
  }
  return lookup;
}
