// FACS action units (Ekman, Friesen & Hager, 2002): the main codes of the upper and lower face and the eyelids,
// each with its FACS name and the phrases a description uses for it ("lip corner puller", "raised cheeks").
// Head and eye movement codes (51–64) are left out: no benchmark here scores them.
import { normalizePhrase } from './lexicon.js';

export interface ActionUnit {
  au: number;
  /** The FACS name, lower case. */
  name: string;
  /** Other ways a text names the action: gerunds, participles, common descriptions. */
  aliases: readonly string[];
}

export const ACTION_UNITS: readonly ActionUnit[] = [
  { au: 1, name: 'inner brow raiser', aliases: ['inner brow raise', 'inner brow raising', 'inner brows raised', 'inner brow raised', 'raised inner brows', 'raised inner brow', 'raised inner eyebrows', 'inner eyebrow raiser', 'inner eyebrows raised'] },
  { au: 2, name: 'outer brow raiser', aliases: ['outer brow raise', 'outer brow raising', 'outer brows raised', 'outer brow raised', 'raised outer brows', 'raised outer brow', 'raised outer eyebrows', 'outer eyebrow raiser', 'outer eyebrows raised'] },
  { au: 4, name: 'brow lowerer', aliases: ['brow lowering', 'brows lowered', 'lowered brows', 'lowered brow', 'lowered eyebrows', 'eyebrows lowered', 'eyebrow lowerer', 'furrowed brows', 'furrowed brow', 'furrowed eyebrows', 'brow furrow', 'brow furrowing', 'knitted brows', 'knit brows', 'brows drawn together', 'eyebrows drawn together'] },
  { au: 5, name: 'upper lid raiser', aliases: ['upper lid raise', 'upper lids raised', 'raised upper lids', 'raised upper eyelids', 'upper eyelids raised', 'upper eyelid raiser', 'widened eyes', 'eyes widened', 'wide open eyes', 'eyes wide open'] },
  { au: 6, name: 'cheek raiser', aliases: ['cheek raise', 'cheek raising', 'raised cheeks', 'cheeks raised', 'cheeks are raised'] },
  { au: 7, name: 'lid tightener', aliases: ['lid tightening', 'lids tightened', 'tightened lids', 'tightened eyelids', 'eyelids tightened', 'eyelid tightener', 'eyelid tightening'] },
  { au: 8, name: 'lips toward each other', aliases: ['lips towards each other'] },
  { au: 9, name: 'nose wrinkler', aliases: ['nose wrinkle', 'nose wrinkling', 'wrinkled nose', 'nose wrinkled', 'wrinkling of the nose', 'wrinkles the nose', 'wrinkling the nose'] },
  { au: 10, name: 'upper lip raiser', aliases: ['upper lip raise', 'upper lip raising', 'upper lip raised', 'raised upper lip'] },
  { au: 11, name: 'nasolabial deepener', aliases: ['nasolabial furrow deepener', 'deepened nasolabial folds', 'deepened nasolabial furrows', 'nasolabial folds deepened'] },
  { au: 12, name: 'lip corner puller', aliases: ['lip corner pull', 'lip corner pulling', 'lip corners pulled', 'pulled lip corners', 'lip corners raised', 'raised lip corners', 'upturned lip corners', 'lip corners pulled up', 'lip corners pulled upward', 'lip corners pulled upwards'] },
  { au: 13, name: 'sharp lip puller', aliases: ['cheek puffer'] },
  { au: 14, name: 'dimpler', aliases: ['dimpling', 'dimpled cheeks'] },
  { au: 15, name: 'lip corner depressor', aliases: ['lip corner depression', 'lip corners depressed', 'depressed lip corners', 'lip corners pulled down', 'lip corners pulled downward', 'lip corners pulled downwards', 'lip corners lowered', 'lowered lip corners', 'downturned lip corners'] },
  { au: 16, name: 'lower lip depressor', aliases: ['lower lip depressed', 'depressed lower lip', 'lower lip lowered', 'lowered lower lip', 'lower lip pulled down'] },
  { au: 17, name: 'chin raiser', aliases: ['chin raise', 'chin raising', 'chin raised', 'raised chin'] },
  { au: 18, name: 'lip pucker', aliases: ['lip puckerer', 'lip puckering', 'puckered lips', 'lips puckered'] },
  { au: 19, name: 'tongue show', aliases: ['tongue showing', 'tongue shown'] },
  { au: 20, name: 'lip stretcher', aliases: ['lip stretch', 'lip stretching', 'lips stretched', 'stretched lips', 'lips stretched horizontally', 'horizontally stretched lips'] },
  { au: 21, name: 'neck tightener', aliases: ['neck tightening', 'tightened neck'] },
  { au: 22, name: 'lip funneler', aliases: ['lip funneling', 'funneled lips', 'lips funneled'] },
  { au: 23, name: 'lip tightener', aliases: ['lip tightening', 'lips tightened', 'tightened lips'] },
  { au: 24, name: 'lip pressor', aliases: ['lip press', 'lip pressing', 'lips pressed', 'pressed lips', 'lips pressed together'] },
  { au: 25, name: 'lips part', aliases: ['lips parted', 'parted lips', 'lip parting', 'lips parting', 'lips apart', 'lips slightly parted', 'slightly parted lips'] },
  { au: 26, name: 'jaw drop', aliases: ['jaw dropped', 'dropped jaw', 'jaw dropping', 'jaw lowered', 'lowered jaw'] },
  { au: 27, name: 'mouth stretch', aliases: ['mouth stretched', 'stretched mouth', 'mouth stretched open', 'mouth wide open', 'wide open mouth'] },
  { au: 28, name: 'lip suck', aliases: ['lips sucked', 'lips sucked in', 'sucked in lips'] },
  { au: 38, name: 'nostril dilator', aliases: ['nostril dilation', 'dilated nostrils', 'nostrils dilated', 'flared nostrils', 'nostrils flared'] },
  { au: 39, name: 'nostril compressor', aliases: ['compressed nostrils', 'nostrils compressed'] },
  { au: 41, name: 'lid droop', aliases: ['lids droop', 'drooping lids', 'drooping eyelids', 'droopy eyelids', 'eyelid droop'] },
  { au: 42, name: 'slit', aliases: ['eyes slit', 'slitted eyes'] },
  { au: 43, name: 'eyes closed', aliases: ['eye closure', 'closed eyes', 'eyes shut', 'shut eyes'] },
  { au: 44, name: 'squint', aliases: ['squinting', 'squinted eyes'] },
  { au: 45, name: 'blink', aliases: ['blinking', 'blinks'] },
  { au: 46, name: 'wink', aliases: ['winking', 'winks'] },
];

/** The AUs scored on DISFA (SPEC §1). */
export const DISFA_AUS: readonly number[] = [1, 2, 4, 6, 9, 12, 25, 26];
/** The AUs scored on BP4D (SPEC §1). */
export const BP4D_AUS: readonly number[] = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24];
/** The benchmarks' AU sets by name, as `face-llava eval --aus` takes them, with the benchmark's own spelling. */
export const AU_SETS: Readonly<Record<'disfa' | 'bp4d', { title: string; aus: readonly number[] }>> = {
  disfa: { title: 'DISFA', aus: DISFA_AUS },
  bp4d: { title: 'BP4D', aus: BP4D_AUS },
};
/**
 * The AUs that occur in the `ckplus` pack (NetFACS CK+ table: 252 sequences of 90 subjects, 3 frames each).
 * Sequences per AU: 1:102 2:78 4:91 5:73 6:74 7:62 9:48 10:10 11:2 12:60 14:23 15:23 16:10 17:86 18:3 20:24 21:1
 * 23:31 24:35 25:142 26:16 27:56. AUs 11, 18 and 21 (≤ 3 sequences, ≤ 3 subjects) are too rare to score.
 */
export const CKPLUS_AUS: readonly number[] = [1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 23, 24, 25, 26, 27];

const BY_NUMBER = new Map(ACTION_UNITS.map((unit) => [unit.au, unit]));

export function isActionUnit(au: number): boolean {
  return BY_NUMBER.has(au);
}

/** The FACS name of an AU ("lip corner puller" for 12), or undefined for a number that is not a FACS code. */
export function auName(au: number): string | undefined {
  return BY_NUMBER.get(au)?.name;
}

/** Every phrase that names an AU (names and aliases, normalised) → its number. */
export const AU_PHRASES: ReadonlyMap<string, number> = new Map(
  ACTION_UNITS.flatMap((unit) => [unit.name, ...unit.aliases].map((phrase) => [normalizePhrase(phrase), unit.au] as const)),
);

/**
 * The AUs of a dataset's AU column: numbers separated by spaces, commas, semicolons or `+`, each optionally written
 * `AU12` and optionally followed by a FACS intensity letter A–E (`12C`). Sorted, without repeats. Null when a token
 * is not an AU code, so that a bad cell is reported rather than half read. An empty cell is the empty set.
 */
export function parseAuList(cell: string): number[] | null {
  const aus = new Set<number>();
  for (const token of cell.replace(/au\s*(?=\d)/gi, '').split(/[\s,;+]+/)) {
    if (token === '') continue;
    const match = /^(\d{1,2})[a-e]?$/i.exec(token);
    if (!match) return null;
    const au = Number(match[1]);
    if (!isActionUnit(au)) return null;
    aus.add(au);
  }
  return [...aus].sort((a, b) => a - b);
}
