// CelebA's 40 binary face attributes (Liu et al., 2015), under their exact CSV column names, each with a readable
// phrase (for instructions and answers) and the words that say it is present (synonyms) or absent (antonyms) when
// a description is read back.
import { normalizePhrase } from './lexicon.js';

export const CELEBA_ATTRIBUTES = [
  '5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive', 'Bags_Under_Eyes', 'Bald', 'Bangs', 'Big_Lips', 'Big_Nose',
  'Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair', 'Bushy_Eyebrows', 'Chubby', 'Double_Chin', 'Eyeglasses',
  'Goatee', 'Gray_Hair', 'Heavy_Makeup', 'High_Cheekbones', 'Male', 'Mouth_Slightly_Open', 'Mustache', 'Narrow_Eyes',
  'No_Beard', 'Oval_Face', 'Pale_Skin', 'Pointy_Nose', 'Receding_Hairline', 'Rosy_Cheeks', 'Sideburns', 'Smiling',
  'Straight_Hair', 'Wavy_Hair', 'Wearing_Earrings', 'Wearing_Hat', 'Wearing_Lipstick', 'Wearing_Necklace',
  'Wearing_Necktie', 'Young',
] as const;
export type CelebaAttribute = (typeof CELEBA_ATTRIBUTES)[number];

/** What a text says about an attribute; `unknown` when it says nothing. */
export type AttributeReading = 'present' | 'absent' | 'unknown';
export type AttributeReadings = Record<CelebaAttribute, AttributeReading>;

export interface AttributeVocabulary {
  /** How an answer names it in a list: "blond hair", "wearing eyeglasses", "5 o'clock shadow". */
  phrase: string;
  /** Words that say the attribute is present (the phrase is one of them, but for No_Beard's). */
  synonyms: readonly string[];
  /** Words that say it is absent ("woman" for Male, "beard" for No_Beard). */
  antonyms: readonly string[];
  /**
   * The value a description that never mentions the attribute implies. False for all but No_Beard: a beard is the
   * marked case that a description names, so silence about it reads as "no beard".
   */
  unmentioned: boolean;
}

function vocab(phrase: string, synonyms: string[], antonyms: string[] = [], unmentioned = false): AttributeVocabulary {
  return { phrase, synonyms: [phrase, ...synonyms], antonyms, unmentioned };
}

export const ATTRIBUTES: Readonly<Record<CelebaAttribute, AttributeVocabulary>> = {
  '5_o_Clock_Shadow': vocab("5 o'clock shadow", ["five o'clock shadow", '5 o clock shadow', 'five o clock shadow', 'stubble', 'stubbly', 'unshaven', 'scruff', 'scruffy']),
  Arched_Eyebrows: vocab('arched eyebrows', ['arched brows', 'arched', 'arching eyebrows'], ['straight eyebrows', 'straight brows', 'flat eyebrows', 'flat brows']),
  Attractive: vocab('attractive', ['beautiful', 'handsome', 'pretty', 'good looking', 'gorgeous', 'lovely'], ['unattractive', 'plain looking']),
  Bags_Under_Eyes: vocab('bags under the eyes', ['bags under eyes', 'bags under his eyes', 'bags under her eyes', 'bags under their eyes', 'under eye bags', 'eye bags', 'puffy eyes', 'dark circles']),
  Bald: vocab('bald', ['bald head', 'shaved head', 'hairless head']),
  Bangs: vocab('bangs', ['fringe', 'bang']),
  Big_Lips: vocab('big lips', ['full lips', 'thick lips', 'large lips', 'plump lips', 'fuller lips'], ['thin lips', 'small lips']),
  Big_Nose: vocab('big nose', ['large nose', 'prominent nose', 'broad nose', 'wide nose'], ['small nose', 'button nose']),
  Black_Hair: vocab('black hair', ['jet black hair', 'raven hair', 'black haired']),
  Blond_Hair: vocab('blond hair', ['blonde hair', 'blond', 'blonde', 'fair hair', 'golden hair', 'platinum hair']),
  Blurry: vocab('blurry image', ['blurry', 'blurred', 'blur', 'out of focus'], ['in focus', 'sharp image', 'sharp photo', 'clear image', 'clear photo', 'crisp image']),
  Brown_Hair: vocab('brown hair', ['brunette', 'brown haired', 'chestnut hair', 'auburn hair']),
  Bushy_Eyebrows: vocab('bushy eyebrows', ['bushy brows', 'thick eyebrows', 'thick brows', 'heavy eyebrows', 'heavy brows', 'bushy'], ['thin eyebrows', 'thin brows', 'sparse eyebrows']),
  Chubby: vocab('chubby', ['plump', 'overweight', 'heavyset', 'chubby cheeks'], ['slim', 'slender', 'skinny', 'thin face', 'slim face']),
  Double_Chin: vocab('double chin', []),
  Eyeglasses: vocab('wearing eyeglasses', ['eyeglasses', 'glasses', 'spectacles', 'sunglasses', 'eyewear']),
  Goatee: vocab('goatee', []),
  Gray_Hair: vocab('gray hair', ['grey hair', 'gray haired', 'grey haired', 'white hair', 'white haired', 'silver hair', 'silver haired', 'graying hair', 'greying hair', 'salt and pepper hair']),
  Heavy_Makeup: vocab('heavy makeup', ['heavy make up', 'heavily made up', 'makeup', 'make up', 'cosmetics', 'eyeshadow', 'eye shadow', 'mascara', 'eyeliner'], ['light makeup', 'minimal makeup', 'natural makeup', 'little makeup', 'subtle makeup']),
  High_Cheekbones: vocab('high cheekbones', ['high cheek bones', 'prominent cheekbones', 'defined cheekbones'], ['low cheekbones']),
  Male: vocab('male', ['man', 'men', 'he', 'his', 'him', 'boy', 'gentleman', 'guy', 'masculine'], ['female', 'woman', 'women', 'she', 'her', 'hers', 'girl', 'lady', 'feminine']),
  Mouth_Slightly_Open: vocab('mouth slightly open', ['slightly open mouth', 'mouth is slightly open', 'mouth open', 'open mouth', 'mouth is open', 'mouth slightly opened', 'parted lips', 'lips parted', 'lips are parted', 'lips slightly parted', 'slightly parted lips', 'mouth agape', 'open mouthed'], ['closed mouth', 'mouth closed', 'mouth is closed', 'lips closed', 'closed lips', 'lips together', 'lips pressed together']),
  Mustache: vocab('mustache', ['moustache', 'mustached']),
  Narrow_Eyes: vocab('narrow eyes', ['narrowed eyes', 'eyes narrowed', 'narrow eyed', 'squinting', 'squinted', 'squint', 'small eyes'], ['wide eyes', 'big eyes', 'large eyes', 'wide open eyes']),
  // "no beard" is read as the negation of its antonym "beard", not as a phrase of its own, so that a list keeps
  // its negation: "no beard, mustache or sideburns".
  No_Beard: {
    phrase: 'no beard',
    synonyms: ['clean shaven', 'beardless', 'smooth shaven'],
    antonyms: ['beard', 'bearded', 'full beard', 'facial hair'],
    unmentioned: true,
  },
  Oval_Face: vocab('oval face', ['oval shaped face', 'oval'], ['round face', 'square face', 'square jaw', 'heart shaped face', 'long face']),
  Pale_Skin: vocab('pale skin', ['pale', 'pale complexion', 'fair skin', 'fair skinned', 'fair complexion', 'porcelain skin', 'light skin'], ['dark skin', 'dark complexion', 'tanned', 'tan skin', 'olive skin']),
  Pointy_Nose: vocab('pointy nose', ['pointed nose', 'sharp nose'], ['round nose', 'rounded nose', 'flat nose', 'button nose']),
  Receding_Hairline: vocab('receding hairline', ['receding hair line', 'balding', 'thinning hair']),
  Rosy_Cheeks: vocab('rosy cheeks', ['rosy', 'flushed cheeks', 'flushed', 'red cheeks', 'pink cheeks', 'reddish cheeks', 'blushing', 'blush', 'ruddy']),
  Sideburns: vocab('sideburns', ['side burns', 'sideburn']),
  Smiling: vocab('smiling', ['smile', 'smiles', 'smiled', 'grinning', 'grin', 'grins', 'beaming'], ['serious expression', 'straight face', 'frown', 'frowning']),
  Straight_Hair: vocab('straight hair', ['sleek hair']),
  Wavy_Hair: vocab('wavy hair', ['wavy', 'curly hair', 'curly', 'curls', 'waves']),
  Wearing_Earrings: vocab('wearing earrings', ['earrings', 'earring', 'ear rings']),
  Wearing_Hat: vocab('wearing a hat', ['hat', 'cap', 'beanie', 'fedora', 'beret', 'headwear', 'baseball cap']),
  Wearing_Lipstick: vocab('wearing lipstick', ['lipstick', 'lip stick', 'lip color', 'lip colour', 'lip gloss', 'painted lips']),
  Wearing_Necklace: vocab('wearing a necklace', ['necklace', 'pendant', 'choker', 'neck chain']),
  Wearing_Necktie: vocab('wearing a necktie', ['necktie', 'neck tie', 'tie', 'bow tie', 'bowtie', 'cravat']),
  Young: vocab('young', ['youthful', 'youth', 'teenager', 'teenage', 'teen', 'adolescent', 'child', 'kid'], ['elderly', 'middle aged', 'older adult', 'older man', 'older woman', 'older person', 'old man', 'old woman', 'old person', 'old lady', 'senior', 'aging', 'ageing', 'mature']),
};

// Column names with underscores read as phrases too: "Big_Lips" → "big lips".
const BY_PHRASE = new Map<string, CelebaAttribute>(
  CELEBA_ATTRIBUTES.flatMap((name) => [
    [normalizePhrase(name), name] as const,
    [normalizePhrase(ATTRIBUTES[name].phrase), name] as const,
  ]),
);

export function isCelebaAttribute(name: string): name is CelebaAttribute {
  return (CELEBA_ATTRIBUTES as readonly string[]).includes(name);
}

/** The attribute a column name or phrase names ("Eyeglasses", "blond hair", "wearing a hat"), or null. */
export function toAttribute(name: string): CelebaAttribute | null {
  if (isCelebaAttribute(name)) return name;
  return BY_PHRASE.get(normalizePhrase(name)) ?? null;
}
