import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACTION_UNITS, ATTRIBUTES, AU_PHRASES, BP4D_AUS, CELEBA_ATTRIBUTES, CKPLUS_AUS, DISFA_AUS, EXPRESSIONS,
  EXPRESSION_SYNONYMS, auName, isActionUnit, parseAgeLabel, parseAuList, toAttribute, toAuthenticity, toExpression,
} from '../src/data/labels/index.js';
import { buildLookup, normalizePhrase } from '../src/data/labels/lexicon.js';

describe('expression vocabulary', () => {
  it('has the eight classes', () => {
    expect(EXPRESSIONS).toEqual(['neutral', 'happy', 'sad', 'surprise', 'fear', 'disgust', 'angry', 'contempt']);
  });

  it.each([
    // FER2013 and DFEW
    ['angry', 'angry'], ['disgust', 'disgust'], ['fear', 'fear'], ['happy', 'happy'], ['neutral', 'neutral'],
    ['sad', 'sad'], ['surprise', 'surprise'],
    // CK+
    ['anger', 'angry'], ['sadness', 'sad'], ['contempt', 'contempt'],
    // RAF-DB and AffectNet spellings
    ['Happiness', 'happy'], ['Surprised', 'surprise'], ['Fearful', 'fear'], ['Disgusted', 'disgust'], ['ANGER', 'angry'],
    // model words
    ['joyful', 'happy'], ['smiling', 'happy'], ['furious', 'angry'], ['irritated', 'angry'], ['annoyed', 'angry'],
    ['scared', 'fear'], ['afraid', 'fear'], ['terrified', 'fear'], ['astonished', 'surprise'], ['shocked', 'surprise'],
    ['repulsed', 'disgust'], ['calm', 'neutral'], ['expressionless', 'neutral'], ['unhappy', 'sad'],
    ['sorrowful', 'sad'], ['scornful', 'contempt'], ['disdainful', 'contempt'], ['grossed-out', 'disgust'],
  ])('%s → %s', (word, expected) => {
    expect(toExpression(word)).toBe(expected);
  });

  it('knows no class for words it should not guess on', () => {
    for (const word of ['content', 'mad', 'frown', 'tense', 'face', '']) expect(toExpression(word)).toBeNull();
  });

  it('lists every synonym under one class only, and its own name under each class', () => {
    expect(() => buildLookup(EXPRESSION_SYNONYMS)).not.toThrow();
    for (const cls of EXPRESSIONS) expect(EXPRESSION_SYNONYMS[cls]).toContain(cls);
    expect(() => buildLookup({ a: ['x y'], b: ['X-Y'] })).toThrow(/"X-Y" is listed under both a and b/);
    expect(() => buildLookup({ a: ['x y', 'x_y'] })).toThrow(/"x_y" is listed twice under a/);
  });

  it('normalises case, hyphens, underscores and curly apostrophes', () => {
    expect(normalizePhrase('  Clean-Shaven__Look ')).toBe('clean shaven look');
    expect(normalizePhrase('5 o\u2019clock')).toBe("5 o'clock");
  });
});

describe('action unit vocabulary', () => {
  it('names the FACS AUs', () => {
    expect(auName(1)).toBe('inner brow raiser');
    expect(auName(4)).toBe('brow lowerer');
    expect(auName(12)).toBe('lip corner puller');
    expect(auName(25)).toBe('lips part');
    expect(auName(43)).toBe('eyes closed');
    expect(auName(3)).toBeUndefined();
    expect(new Set(ACTION_UNITS.map((unit) => unit.au)).size).toBe(ACTION_UNITS.length);
  });

  it('has the benchmark subsets of SPEC §1, all FACS codes', () => {
    expect(DISFA_AUS).toEqual([1, 2, 4, 6, 9, 12, 25, 26]);
    expect(BP4D_AUS).toEqual([1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]);
    for (const au of [...DISFA_AUS, ...BP4D_AUS, ...CKPLUS_AUS]) expect(isActionUnit(au)).toBe(true);
  });

  it('maps names and variants to their AU, one AU per phrase', () => {
    expect(AU_PHRASES.get('lip corner puller')).toBe(12);
    expect(AU_PHRASES.get('raised cheeks')).toBe(6);
    expect(AU_PHRASES.get('furrowed brows')).toBe(4);
    const phrases = ACTION_UNITS.flatMap((unit) => [unit.name, ...unit.aliases]);
    expect(AU_PHRASES.size).toBe(phrases.length);
  });

  it.each([
    ['9 17', [9, 17]],
    ['1 2 5 25 27', [1, 2, 5, 25, 27]],
    ['AU6+AU12', [6, 12]],
    ['au 12, au 6', [6, 12]],
    ['12C 6B', [6, 12]],
    ['', []],
  ])('parseAuList(%j) → %j', (cell, expected) => {
    expect(parseAuList(cell)).toEqual(expected);
  });

  it('rejects cells that are not AU lists', () => {
    expect(parseAuList('1 3')).toBeNull(); // AU3 is not a FACS code
    expect(parseAuList('smile')).toBeNull();
    expect(parseAuList('1 99')).toBeNull();
  });
});

describe('attribute vocabulary', () => {
  const header = join(process.cwd(), '../shared/data/celeba/labels.csv');
  it.skipIf(!existsSync(header))("names the 40 attributes exactly as CelebA's CSV columns", () => {
    const columns = readFileSync(header, 'utf8').split(/\r?\n/)[0].split(',').slice(2);
    expect([...CELEBA_ATTRIBUTES]).toEqual(columns);
  });

  it('gives each a phrase, and reads column names and phrases back', () => {
    expect(ATTRIBUTES.Eyeglasses.phrase).toBe('wearing eyeglasses');
    expect(ATTRIBUTES.Bangs.phrase).toBe('bangs');
    expect(ATTRIBUTES.Blond_Hair.phrase).toBe('blond hair');
    expect(ATTRIBUTES['5_o_Clock_Shadow'].phrase).toBe("5 o'clock shadow");
    expect(toAttribute('Big_Lips')).toBe('Big_Lips');
    expect(toAttribute('big lips')).toBe('Big_Lips');
    expect(toAttribute('Wearing a hat')).toBe('Wearing_Hat');
    expect(toAttribute('5 o clock shadow')).toBe('5_o_Clock_Shadow');
    expect(toAttribute('freckles')).toBeNull();
    for (const name of CELEBA_ATTRIBUTES) expect(toAttribute(ATTRIBUTES[name].phrase)).toBe(name);
  });

  it('lists each word once per attribute, as synonym or antonym', () => {
    for (const name of CELEBA_ATTRIBUTES) {
      const { synonyms, antonyms } = ATTRIBUTES[name];
      expect(() => buildLookup({ present: synonyms, absent: antonyms }), name).not.toThrow();
    }
  });

  it('treats silence as absence, except for No_Beard', () => {
    const silentTrue = CELEBA_ATTRIBUTES.filter((name) => ATTRIBUTES[name].unmentioned);
    expect(silentTrue).toEqual(['No_Beard']);
    expect(ATTRIBUTES.No_Beard.antonyms).toContain('beard');
  });
});

describe('deepfake and age labels', () => {
  it.each([
    ['real', 'real'], ['REAL', 'real'], ['authentic', 'real'], ['genuine', 'real'], ['fake', 'fake'],
    ['manipulated', 'fake'], ['synthetic', 'fake'], ['AI-generated', 'fake'], ['GAN generated', 'fake'],
    ['forged', 'fake'], ['deepfake', 'fake'], ['deep-fake', 'fake'],
  ])('%s → %s', (word, expected) => {
    expect(toAuthenticity(word)).toBe(expected);
  });

  it('reads age cells in years', () => {
    expect(parseAgeLabel('35')).toBe(35);
    expect(parseAgeLabel(' 4.5 ')).toBe(4.5);
    expect(parseAgeLabel('0')).toBe(0);
    for (const cell of ['', '-3', '121', 'thirty', '3 years']) expect(parseAgeLabel(cell)).toBeNull();
  });
});
