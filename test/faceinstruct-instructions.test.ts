// The instruction pools and the answers constrained instructions ask for.
import { describe, expect, it } from 'vitest';
import { drawInstruction, instructionPool, renderInstruction } from '../src/data/instructions/index.js';
import { answerFor } from '../src/data/build/answers.js';
import { rngFor } from '../src/data/build/random.js';
import { TASKS } from '../src/data/build/types.js';

const normal = (text: string): string => text.toLowerCase().replace(/[^a-z0-9{}]+/g, ' ').trim();

describe('instruction pools', () => {
  it.each(TASKS)('%s: at least 100 distinct instructions, open and constrained', (task) => {
    const pool = instructionPool(task);
    expect(pool.length).toBeGreaterThanOrEqual(100);
    expect(new Set(pool.map((i) => normal(i.text))).size).toBe(pool.length);
    expect(new Set(pool.map((i) => i.id)).size).toBe(pool.length);
    expect(pool.filter((i) => i.form === 'free').length).toBeGreaterThanOrEqual(50);
    expect(pool.filter((i) => i.form !== 'free').length).toBeGreaterThanOrEqual(25);
    for (const i of pool) {
      expect(i.task).toBe(task);
      expect(i.text).not.toMatch(/<image>|<video>/);
      if (i.form === 'codes') expect(task).toBe('au');
      if (i.form === 'yes-no') expect(['real', 'fake']).toContain(i.yes);
    }
  });

  it('renders {media} as image or video', () => {
    const instruction = instructionPool('expression').find((i) => i.text.includes('{media}'))!;
    expect(renderInstruction(instruction, 'video')).toContain('video');
    expect(renderInstruction(instruction, 'image')).not.toContain('{media}');
  });

  it('draws deterministically per seed and sample, over the whole pool', () => {
    const draw = (id: string): string => drawInstruction('age', rngFor('seed', 'instruction', id)).id;
    expect(draw('utkface/1.jpg')).toBe(draw('utkface/1.jpg'));
    const used = new Set(Array.from({ length: 3000 }, (_, i) => draw(`utkface/${i}.jpg`)));
    expect(used.size).toBe(instructionPool('age').length);
  });
});

describe('answers', () => {
  const pick = (task: (typeof TASKS)[number], form: string, yes?: string) =>
    instructionPool(task).find((i) => i.form === form && (yes === undefined || i.yes === yes))!;

  it('gives the description to open questions and the bare label to constrained ones', () => {
    const happy = { task: 'expression', value: 'happy' } as const;
    expect(answerFor(pick('expression', 'free'), happy, 'A long description.')).toBe('A long description.');
    expect(answerFor(pick('expression', 'label'), happy, 'x')).toBe('Happy');
    const aus = { task: 'au', value: [6, 12] } as const;
    expect(answerFor(pick('au', 'label'), aus, 'x')).toBe('AU6 (cheek raiser), AU12 (lip corner puller)');
    expect(answerFor(pick('au', 'codes'), aus, 'x')).toBe('AU6, AU12');
    expect(answerFor(pick('au', 'codes'), { task: 'au', value: [] }, 'x')).toBe('None');
    expect(answerFor(pick('age', 'label'), { task: 'age', value: 33.6 }, 'x')).toBe('34');
    const attributes = { task: 'attributes', value: ['Eyeglasses', 'Wavy_Hair'] } as const;
    expect(answerFor(pick('attributes', 'label'), attributes, 'x')).toBe('Wearing eyeglasses, wavy hair');
  });

  it('answers yes/no questions by the question’s polarity', () => {
    const fake = { task: 'deepfake', value: 'fake' } as const;
    expect(answerFor(pick('deepfake', 'yes-no', 'fake'), fake, 'x')).toBe('Yes');
    expect(answerFor(pick('deepfake', 'yes-no', 'real'), fake, 'x')).toBe('No');
    expect(answerFor(pick('deepfake', 'label'), fake, 'x')).toBe('Fake');
  });
});
