import { describe, expect, it } from 'vitest';
import { labelGuide } from '../src/pipeline/label-guides.js';
import { generate, type DecoderStepper, type PromptInput, type StepInput } from '../src/text/generate.js';
import { ClassGuide, continuationIds, digitIds, distinguishing, ListGuide, logSoftmax, MedianNumberGuide, pooledClasses, pooledOdds, scoreContinuations, type DecodingGuide, type GuideState } from '../src/text/guide.js';
import { authenticityOpenings, expressionOpenings } from '../src/data/annotators/offline.js';
import type { LabelHead } from '../src/model/label-heads.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';

const tokenizer = llamaTokenizer();
const V = tokenizer.vocabSize;
const EOS = tokenizer.eosId;

/**
 * An exact autoregressive model of a finite distribution over answers: the next token's probability is the mass
 * of the answers that continue the ids so far with it (end of sequence where an answer is complete). Each answer's
 * ids are its text as the tokenizer splits it whole, so a guide's tokens are the answers' own.
 */
class AnswerDistribution implements DecoderStepper {
  private readonly answers: { ids: number[]; p: number }[];
  private generated: number[] = [];

  constructor(answers: ReadonlyMap<string, number>) {
    this.answers = [...answers].map(([text, p]) => ({ ids: tokenizer.encode(text, { bos: false }), p }));
  }

  logits(ids: readonly number[]): Float32Array {
    const mass = new Float64Array(V);
    for (const a of this.answers) {
      if (ids.length > a.ids.length || ids.some((id, i) => a.ids[i] !== id)) continue;
      mass[ids.length === a.ids.length ? EOS : a.ids[ids.length]] += a.p;
    }
    const total = mass.reduce((a, b) => a + b, 0);
    return Float32Array.from(mass, (m) => (m > 0 ? Math.log(m / total) : -1e4)); // log-probabilities, as extend gives
  }

  async prefill(batch: readonly PromptInput[]): Promise<Float32Array[]> {
    this.generated = [];
    return batch.map(() => this.logits([]));
  }

  async step(batch: readonly StepInput[]): Promise<Float32Array[]> {
    this.generated.push(batch[0].token);
    return [this.logits(this.generated)];
  }

  async extend(_sequence: number, continuations: readonly (readonly number[])[]): Promise<Float32Array[][]> {
    return continuations.map((c) => c.map((_, t) => this.logits([...this.generated, ...c.slice(0, t + 1)])));
  }
}

async function answer(answers: ReadonlyMap<string, number>, guide?: DecodingGuide): Promise<string> {
  const [g] = await generate(new AnswerDistribution(answers), [{ ids: [1] }], { tokenizer, maxNewTokens: 200, guides: [guide] });
  return g.text;
}

/** Every subset of the items, listed in order, with independent presence probabilities `p`. */
function independentLists(p: readonly number[], write: (items: number[]) => string): Map<string, number> {
  const lists = new Map<string, number>();
  for (let mask = 1; mask < 1 << p.length; mask++) {
    const items = p.map((_, i) => i).filter((i) => mask & (1 << i));
    const probability = p.reduce((prod, pi, i) => prod * (mask & (1 << i) ? pi : 1 - pi), 1);
    lists.set(write(items), probability);
  }
  return lists;
}

const ATTRIBUTES = ['arched eyebrows', 'bangs', 'big lips', 'big nose', 'black hair', 'young'];
const attributeList = (items: number[]) => `Visible attributes of this face: ${items.map((i) => ATTRIBUTES[i]).join(', ')}. The eyes are open.`;
const AUS = ['AU1 (inner brow raiser)', 'AU2 (outer brow raiser)', 'AU4 (brow lowerer)', 'AU12 (lip corner puller)', 'AU15 (lip corner depressor)'];
const auList = (items: number[]) => {
  const names = items.map((i) => AUS[i]);
  const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `The active action units are ${list}. The brows are raised.`;
};

describe('decoding guides', () => {
  it('scores continuations by the model: log P of their tokens, from the logits after each', async () => {
    const answers = new Map([['one two', 0.25], ['one three', 0.75]]);
    const model = new AnswerDistribution(answers);
    const [logits] = await model.prefill([{ ids: [1] }]);
    const state: GuideState = { ids: [], text: '', logits, extend: (c) => model.extend(0, c) };
    const [two, three] = ['one two', 'one three'].map((t) => tokenizer.encode(t, { bos: false }));
    const scores = await scoreContinuations(state, [two, three]);
    expect(scores[0]).toBeCloseTo(Math.log(0.25), 5);
    expect(scores[1]).toBeCloseTo(Math.log(0.75), 5);
    expect(Math.exp(logSoftmax([0, Math.log(3)])[1])).toBeCloseTo(0.75, 12);
    expect(distinguishing([[1, 2, 3, 4], [1, 2, 5, 6], [7, 8], [1]])).toEqual([[1, 2, 3], [1, 2, 5], [7], [1]]);
  });

  it('splits a continuation as the tokenizer splits the whole text, and refuses one that would re-split the text', () => {
    expect(continuationIds(tokenizer, 'units:', ' AU1 (inner brow raiser')).toEqual(tokenizer.encode('units: AU1 (inner brow raiser', { bos: false }).slice(tokenizer.encode('units:', { bos: false }).length));
    // ")" then "," is the single piece "),".
    expect(continuationIds(tokenizer, 'AU1 (inner brow raiser)', ', AU2')).toBeUndefined();
    expect(digitIds(tokenizer).map((id) => tokenizer.tokenToString(id))).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('states the median of the distribution over a number, where digit-by-digit greedy decoding does not', async () => {
    // First digit: 3 is the most likely (0.5), then 5 given 3 → greedy says 35; the median is 29.
    const ages = new Map([[8, 0.05], [25, 0.2], [29, 0.25], [31, 0.2], [35, 0.3]]);
    const answers = new Map([...ages].map(([n, p]) => [`The person appears to be about ${n} years old.`, p]));
    expect(await answer(answers)).toBe('The person appears to be about 35 years old.');
    const guide = new MedianNumberGuide(digitIds(tokenizer), { min: 0, max: 116 });
    expect(await answer(answers, guide)).toBe('The person appears to be about 29 years old.');
    for (const [n, p] of ages) expect(guide.distribution!.get(n)).toBeCloseTo(p, 5);
    // One-, two- and three-digit numbers are told apart by what follows the digits.
    const wide = new MedianNumberGuide(digitIds(tokenizer), { min: 0, max: 116 });
    await answer(new Map([['About 1 year old.', 0.3], ['About 10 years old.', 0.3], ['About 104 years old.', 0.4]]), wide);
    expect([...wide.distribution!]).toEqual([[1, expect.closeTo(0.3, 5)], [10, expect.closeTo(0.3, 5)], [104, expect.closeTo(0.4, 5)]]);
  });

  it('states the median of the age distribution pooled with a head\'s, over the ages either reader gives', async () => {
    const ages = new Map([[8, 0.05], [25, 0.2], [29, 0.25], [31, 0.2], [35, 0.3]]);
    const answers = new Map([...ages].map(([n, p]) => [`The person appears to be about ${n} years old.`, p]));
    const reading = (probabilities: number[], labels = ['25', '29', '31', '35', '40']) => ({
      head: { kind: 'softmax' as const, labels, matrix: new Float32Array(5), bias: new Float32Array(5) },
      probabilities,
      weight: 0.5,
    });
    // A head sure of 35: √(p_dec·p_head) puts 35 past the middle (25: 0.10, 29: 0.11, 31: 0.14, 35: 0.46).
    const sure = labelGuide('age', tokenizer, { head: reading([0.05, 0.05, 0.1, 0.7, 0.1]) }) as MedianNumberGuide;
    expect(await answer(answers, sure)).toBe('The person appears to be about 35 years old.');
    expect(sure.distribution!.get(29)).toBeCloseTo(0.25, 5);
    // 40, which only the head gives, and 8, which only the decoder gives, are all but ruled out by the other.
    expect(sure.pooled!.get(40)).toBeLessThan(1e-4);
    expect(sure.pooled!.get(8)).toBeLessThan(1e-4);
    // A flat head over the decoder's ages leaves the median of √p_dec: 29 (0.10, 0.21, 0.23 of 0.47 … ).
    const flat = labelGuide('age', tokenizer, { head: reading([0.2, 0.2, 0.2, 0.2, 0.2], ['8', '25', '29', '31', '35']) }) as MedianNumberGuide;
    expect(await answer(answers, flat)).toBe('The person appears to be about 29 years old.');
  });

  it('lists each item the model gives better than even odds, where greedy decoding over-lists', async () => {
    // Five items at 0.3 each and "young" at 0.9: greedy takes "arched eyebrows" (0.3 beats every other next move).
    const answers = independentLists([0.3, 0.3, 0.3, 0.3, 0.3, 0.9], attributeList);
    expect(await answer(answers)).toMatch(/^Visible attributes of this face: arched eyebrows, /);
    const guide = new ListGuide(tokenizer, { items: ATTRIBUTES, starts: (s) => s.text.trimEnd().endsWith(':'), lead: ' ', separator: ', ', end: '.' });
    expect(await answer(answers, guide)).toBe(attributeList([5]));
    expect(guide.chosen).toEqual([5]);
    const mixed = new ListGuide(tokenizer, { items: ATTRIBUTES, starts: (s) => s.text.trimEnd().endsWith(':'), lead: ' ', separator: ', ', end: '.' });
    expect(await answer(independentLists([0.8, 0.2, 0.6, 0.4, 0.7, 0.55], attributeList), mixed)).toBe(attributeList([0, 2, 4, 5]));
  });

  it('writes a list that closes with " and " grammatically, though ")" and "," fuse into one token', async () => {
    const p = [0.9, 0.7, 0.2, 0.6, 0.3];
    const options = { items: AUS, lead: ' ', separator: ', ', lastSeparator: ' and ', end: '.' };
    const make = () => new ListGuide(tokenizer, { ...options, starts: (s: GuideState) => s.text.endsWith('are') });
    expect(await answer(independentLists(p, auList), make())).toBe(auList([0, 1, 3]));
    expect(await answer(independentLists([0.1, 0.2, 0.9, 0.3, 0.1], auList), make())).toBe(auList([2]));
  });

  it('guides age and attributes; classes and action units are left to the sampler', () => {
    expect(labelGuide('age', tokenizer)).toBeInstanceOf(MedianNumberGuide);
    expect(labelGuide('attributes', tokenizer)).toBeInstanceOf(ListGuide);
    for (const task of ['expression', 'deepfake', 'au'] as const) expect(labelGuide(task, tokenizer)).toBeUndefined();
  });

  it('pools a yes/no probability and class probabilities log-linearly with another reader\'s', () => {
    expect(pooledOdds(0.4, 0.9, 0)).toBeCloseTo(0.4, 12);
    expect(pooledOdds(0.4, 0.9, 1)).toBeCloseTo(0.9, 9);
    expect(pooledOdds(0.4, Number.NaN, 0.5)).toBe(0.4);
    // logit = ½·logit 0.4 + ½·logit 0.9 = ½·(−0.405 + 2.197)
    expect(pooledOdds(0.4, 0.9, 0.5)).toBeCloseTo(1 / (1 + Math.exp(-0.5 * (Math.log(0.4 / 0.6) + Math.log(0.9 / 0.1)))), 9);
    const p = pooledClasses([0.6, 0.4], [0.1, 0.9], 0.5);
    expect(p[0]).toBeCloseTo(Math.sqrt(0.06) / (Math.sqrt(0.06) + Math.sqrt(0.36)), 9);
    expect(p[0] + p[1]).toBeCloseTo(1, 12);
    expect([...pooledClasses([0.6, 0.4], [0.1, 0.9], 0)].map((v) => +v.toFixed(9))).toEqual([0.6, 0.4]);
  });

  it('opens with the class the openings sum to, where greedy decoding follows one wording; with evidence, the pooled class', async () => {
    // happy 0.35 + 0.25 = 0.6 over two wordings, sad 0.4 over one; greedy goes "This face shows" (0.65) then sadness.
    const answers = new Map([
      ['The person in this image looks happy. The lips are lifted.', 0.35],
      ['This face shows happiness. The lips are lifted.', 0.25],
      ['This face shows sadness. The lips are lowered.', 0.4],
    ]);
    const openings = (['happy', 'sad'] as const).map((x) => expressionOpenings(x, 'image'));
    expect(await answer(answers)).toBe('This face shows sadness. The lips are lowered.');
    const alone = new ClassGuide(tokenizer, { openings });
    expect(await answer(answers, alone)).toBe('The person in this image looks happy. The lips are lifted.');
    expect(alone.chosen).toBe(0);
    expect(alone.model![0]).toBeCloseTo(0.6, 5);
    // A head 0.9 sure of sad, at half the weight: √(0.6·0.1) < √(0.4·0.9).
    const pooled = new ClassGuide(tokenizer, { openings, evidence: { probabilities: [0.1, 0.9], weight: 0.5 } });
    expect(await answer(answers, pooled)).toBe('This face shows sadness. The lips are lowered.');
    expect(pooled.pooled![1]).toBeGreaterThan(0.5);
    // The head alone picks even a class the decoder gives no mass: its most probable opening is written whole.
    const forced = new ClassGuide(tokenizer, { openings: [...openings, expressionOpenings('angry', 'image')], evidence: { probabilities: [0, 0, 1], weight: 1 } });
    expect(await answer(answers, forced)).toMatch(/angry|anger/);
  });

  it('lists an item the model doubts when the evidence is sure enough, and leaves out one the evidence rules out', async () => {
    const answers = independentLists([0.4, 0.3, 0.3, 0.3, 0.3, 0.9], attributeList);
    const guide = new ListGuide(tokenizer, {
      items: ATTRIBUTES,
      starts: (s) => s.text.trimEnd().endsWith(':'),
      lead: ' ',
      separator: ', ',
      end: '.',
      // arched eyebrows: 0.4 with 0.9 → in; young: 0.9 with 0.05 → out; no evidence for the rest.
      evidence: { probabilities: [0.9, Number.NaN, Number.NaN, Number.NaN, Number.NaN, 0.05], weight: 0.5 },
    });
    expect(await answer(answers, guide)).toBe(attributeList([0]));
    // A threshold of its own per item: "bangs" at 0.3 is stated where ½ would leave it out.
    const own = new ListGuide(tokenizer, { items: ATTRIBUTES, starts: (s) => s.text.trimEnd().endsWith(':'), lead: ' ', separator: ', ', end: '.', threshold: [0.5, 0.25, 0.5, 0.5, 0.5, 0.5] });
    expect(await answer(answers, own)).toBe(attributeList([1, 5]));
  });

  it('with a label head, guides the expression, real or fake and the action units too, and pools into the age rule', () => {
    const head = (labels: string[]): { head: LabelHead; probabilities: number[]; weight: number } => ({
      head: { kind: 'softmax', labels, matrix: new Float32Array(labels.length), bias: new Float32Array(labels.length) },
      probabilities: labels.map(() => 1 / labels.length),
      weight: 0.5,
    });
    expect(labelGuide('expression', tokenizer, { head: head(['happy', 'sad']) })).toBeInstanceOf(ClassGuide);
    expect(labelGuide('au', tokenizer, { head: head(['1', '12']) })).toBeInstanceOf(ListGuide);
    expect(labelGuide('deepfake', tokenizer, { head: head(['real', 'fake']) })).toBeInstanceOf(ClassGuide);
    expect(labelGuide('age', tokenizer, { head: head(['20', '30']) })).toBeInstanceOf(MedianNumberGuide);
  });

  it('says real or fake as the decoder and a head sure of the other class agree, in the training answers\' words', async () => {
    // The decoder: real 0.7 over two wordings, fake 0.3. A head 0.97 sure of fake, at half the weight:
    // √(0.7·0.03) ≈ 0.145 < √(0.3·0.97) ≈ 0.539.
    const answers = new Map([
      ['This video shows a real face. The skin is even.', 0.4],
      ['The face in this video is real. The skin is even.', 0.3],
      ['This face is fake. The skin is too smooth.', 0.3],
    ]);
    const head = { head: { kind: 'softmax' as const, labels: ['real', 'fake'], matrix: new Float32Array(2), bias: new Float32Array(2) }, weight: 0.5 };
    const sure = labelGuide('deepfake', tokenizer, { media: 'video', head: { ...head, probabilities: [0.03, 0.97] } }) as ClassGuide;
    expect(await answer(answers, sure)).toBe('This face is fake. The skin is too smooth.');
    expect(sure.model![0]).toBeCloseTo(0.7, 5);
    // A head that agrees with the decoder keeps its answer; a video's openings speak of a recording, not a photograph.
    const agrees = labelGuide('deepfake', tokenizer, { media: 'video', head: { ...head, probabilities: [0.8, 0.2] } });
    expect(await answer(answers, agrees)).toBe('This video shows a real face. The skin is even.');
    expect(authenticityOpenings('real', 'video')).toContain('The face appears to be an authentic recording of a real person.');
  });

  it('needs an engine that can score continuations', async () => {
    const model = new AnswerDistribution(new Map([['About 30 years old.', 1]]));
    const noExtend: DecoderStepper = { prefill: (b) => model.prefill(b), step: (b) => model.step(b) };
    const guide = new MedianNumberGuide(digitIds(tokenizer), { min: 0, max: 116 });
    await expect(generate(noExtend, [{ ids: [1] }], { tokenizer, guides: [guide] })).rejects.toThrow(/cannot score continuations/);
  });
});
