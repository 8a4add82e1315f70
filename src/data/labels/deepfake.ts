// Deepfake detection labels: a face image or video is real (a camera recording of a real person) or fake
// (manipulated or synthesised: face swaps, reenactment, GAN or diffusion faces).
import { buildLookup, normalizePhrase } from './lexicon.js';

export const AUTHENTICITY = ['real', 'fake'] as const;
export type Authenticity = (typeof AUTHENTICITY)[number];

/**
 * Words for each class. Left out: "natural" and "realistic" (a description of a fake says "the skin looks natural"
 * or "a realistic face" as often as one of a real photo does) and "artificial" (artificial lighting).
 */
export const AUTHENTICITY_SYNONYMS: Readonly<Record<Authenticity, readonly string[]>> = {
  real: [
    'real', 'authentic', 'authenticity', 'genuine', 'genuinely', 'unaltered', 'unmanipulated', 'unedited',
    'untampered', 'unmodified', 'pristine', 'original', 'bona fide', 'legitimate', 'camera captured',
  ],
  fake: [
    'fake', 'faked', 'deepfake', 'deepfakes', 'deep fake', 'manipulated', 'manipulation', 'synthetic', 'synthesized',
    'synthesised', 'generated', 'ai generated', 'gan generated', 'gan', 'computer generated', 'machine generated',
    'artificially generated', 'stylegan', 'forged', 'forgery', 'altered', 'alteration', 'tampered', 'tampering',
    'doctored', 'fabricated', 'counterfeit', 'face swap', 'face swapped', 'faceswap', 'spoof', 'spoofed', 'edited',
  ],
};

const LOOKUP = buildLookup(AUTHENTICITY_SYNONYMS);

/** The class a dataset label names ("REAL", "Fake", "deepfake", "genuine"), or null if none does. */
export function toAuthenticity(word: string): Authenticity | null {
  return LOOKUP.get(normalizePhrase(word)) ?? null;
}
