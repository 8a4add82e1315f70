// Facial expression classes: the seven basic emotions plus neutral, the label set of AffectNet, DFEW and MAFW
// (DFEW and FER2013 have no contempt). Each dataset's own words (CK+ "anger", RAF-DB "happiness") and the words a
// model writes ("joyful", "scowling") map onto these eight.
import { buildLookup, normalizePhrase } from './lexicon.js';

export const EXPRESSIONS = ['neutral', 'happy', 'sad', 'surprise', 'fear', 'disgust', 'angry', 'contempt'] as const;
export type Expression = (typeof EXPRESSIONS)[number];

/**
 * Words and phrases per class: the class name, dataset spellings, then adjective, noun, verb and common descriptive
 * forms. Deliberately left out because they mislead more often than they help: "content" (the content of an image),
 * "composed" (composed of), "mad" (crazy as much as angry), "tense" and "frown" (said of several negative
 * emotions), adverbs such as "surprisingly" or "sadly" (comments, not descriptions of the face).
 */
export const EXPRESSION_SYNONYMS: Readonly<Record<Expression, readonly string[]>> = {
  neutral: [
    'neutral', 'neutrality', 'neutral expression', 'calm', 'calmness', 'calmly', 'expressionless', 'emotionless',
    'blank', 'blank expression', 'blank stare', 'impassive', 'relaxed', 'serene', 'placid', 'stoic',
    'deadpan', 'poker face', 'straight face', 'indifferent', 'indifference', 'unemotional', 'no emotion',
    'no particular emotion', 'no strong emotion', 'no clear emotion', 'resting face',
  ],
  happy: [
    'happy', 'happiness', 'happily', 'joy', 'joyful', 'joyous', 'joyfulness', 'cheerful', 'cheerfulness', 'glad',
    'gladness', 'delighted', 'delight', 'pleased', 'pleasure', 'elated', 'elation', 'amused', 'amusement',
    'contented', 'contentment', 'smiling', 'smile', 'smiles', 'smiled', 'grinning', 'grin', 'grins', 'laughing',
    'laugh', 'laughter', 'beaming', 'excited', 'excitement', 'enjoyment', 'jubilant', 'ecstatic', 'euphoric',
  ],
  sad: [
    'sad', 'sadness', 'unhappy', 'unhappiness', 'sorrow', 'sorrowful', 'sorrowfully', 'grief', 'grieving',
    'grief stricken', 'mournful', 'mourning', 'melancholy', 'melancholic', 'gloomy', 'gloom', 'downcast', 'dejected',
    'dejection', 'despondent', 'despondency', 'depressed', 'depression', 'miserable', 'misery', 'heartbroken',
    'tearful', 'teary', 'in tears', 'crying', 'cries', 'weeping', 'upset', 'disappointed', 'disappointment',
    'distressed', 'distress', 'sorrowing', 'forlorn', 'woeful', 'despair', 'hopeless',
  ],
  surprise: [
    'surprise', 'surprised', 'astonished', 'astonishment', 'amazed', 'amazement', 'astounded', 'shocked', 'shock',
    'startled', 'stunned', 'taken aback', 'in disbelief', 'dumbfounded', 'flabbergasted', 'awestruck', 'awe struck',
    'wide eyed in surprise',
  ],
  fear: [
    'fear', 'fearful', 'fearfully', 'afraid', 'scared', 'frightened', 'fright', 'terrified', 'terror', 'horrified',
    'horror', 'panic', 'panicked', 'panicking', 'anxious', 'anxiety', 'nervous', 'nervousness', 'worried', 'worry',
    'apprehensive', 'apprehension', 'alarmed', 'dread', 'dreading', 'petrified', 'uneasy', 'unease',
  ],
  disgust: [
    'disgust', 'disgusted', 'disgusting', 'repulsed', 'repulsion', 'repelled', 'revulsion', 'revolted', 'grossed out',
    'aversion', 'loathing', 'nauseated', 'nausea', 'distaste', 'sickened', 'repugnance',
  ],
  angry: [
    'angry', 'anger', 'angrily', 'furious', 'fury', 'rage', 'enraged', 'raging', 'irate', 'irritated', 'irritation',
    'irritable', 'annoyed', 'annoyance', 'frustrated', 'frustration', 'hostile', 'hostility', 'livid', 'outraged',
    'outrage', 'resentful', 'resentment', 'indignant', 'indignation', 'agitated', 'aggressive', 'aggression',
    'scowling', 'scowl', 'scowls', 'glaring', 'glare', 'infuriated', 'seething', 'wrath', 'exasperated',
  ],
  contempt: [
    'contempt', 'contemptuous', 'contemptuously', 'scorn', 'scornful', 'scornfully', 'disdain', 'disdainful',
    'disdainfully', 'derision', 'derisive', 'sneer', 'sneering', 'smirk', 'smirking', 'smirks', 'condescending',
    'condescension', 'mocking', 'mockery', 'dismissive', 'haughty',
  ],
};

const LOOKUP = buildLookup(EXPRESSION_SYNONYMS);

export function isExpression(word: string): word is Expression {
  return (EXPRESSIONS as readonly string[]).includes(word);
}

/** The class a dataset label or single word names ("Anger", "sadness", "Happiness" …), or null if none does. */
export function toExpression(word: string): Expression | null {
  return LOOKUP.get(normalizePhrase(word)) ?? null;
}
