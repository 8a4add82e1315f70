import { describe, expect, it } from 'vitest';
import { generate, type DecoderStepper, type PromptInput, type StepInput } from '../src/text/generate.js';
import { mulberry32 } from '../src/util/random.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';

const tokenizer = llamaTokenizer();
const EOS = tokenizer.eosId;

/** A toy language model: next-token logits from a sequence's prompt and the ids generated so far. */
type ToyModel = (prompt: readonly number[], generated: readonly number[]) => Float32Array;

/**
 * Test double for the engine: runs a toy model per sequence. It records which sequences each call covered,
 * and enforces the contract that a sequence left out of a step is never stepped again.
 */
class ToyStepper implements DecoderStepper {
  readonly calls: number[][] = [];
  private sequences = new Map<number, { prompt: readonly number[]; generated: number[] }>();

  constructor(private readonly model: ToyModel) {}

  async prefill(batch: readonly PromptInput[]): Promise<Float32Array[]> {
    this.calls.push(batch.map((_, i) => i));
    this.sequences = new Map(batch.map((prompt, i) => [i, { prompt: prompt.ids, generated: [] }]));
    return batch.map((prompt) => this.model(prompt.ids, []));
  }

  async step(batch: readonly StepInput[]): Promise<Float32Array[]> {
    this.calls.push(batch.map(({ sequence }) => sequence));
    const live = new Map<number, { prompt: readonly number[]; generated: number[] }>();
    const logits = batch.map(({ sequence, token }) => {
      const state = this.sequences.get(sequence);
      if (state === undefined) throw new Error(`sequence ${sequence} stepped after it finished`);
      state.generated.push(token);
      live.set(sequence, state);
      return this.model(state.prompt, state.generated);
    });
    this.sequences = live;
    return logits;
  }
}

const oneHot = (id: number) => {
  const logits = new Float32Array(tokenizer.vocabSize);
  logits[id] = 10;
  return logits;
};

/** A model that answers each prompt (told apart by its last id) with a fixed text, then </s>. */
function scripted(answers: Record<number, string>): ToyModel {
  return (prompt, generated) => {
    const answer = tokenizer.encode(answers[prompt[prompt.length - 1]], { bos: false });
    return oneHot(answer[generated.length] ?? EOS);
  };
}

/** A bigram model with random logits: they depend on the last id only, through a generator seeded by it. */
const randomBigram: ToyModel = (prompt, generated) => {
  const random = mulberry32(generated.at(-1) ?? prompt[prompt.length - 1]);
  return Float32Array.from({ length: tokenizer.vocabSize }, () => random() * 8);
};

/** Collects the streamed deltas of each sequence. */
function recorder() {
  const deltas = new Map<number, string[]>();
  const onText = (sequence: number, delta: string) => deltas.set(sequence, [...(deltas.get(sequence) ?? []), delta]);
  return { deltas, onText };
}

// Prompt ids ending in distinct tokens, so that each starts its own script.
const PROMPT_A = { ids: [1, 3148, 1001, 29901, 1000] };
const PROMPT_B = { ids: [1, 3148, 1001, 29901, 2000] };
const PROMPT_C = { ids: [1, 3148, 1001, 29901, 3000] };

describe('generate', () => {
  it('stops at </s>, which is not part of the output', async () => {
    const answer = 'The person looks happy.';
    const stepper = new ToyStepper(scripted({ 1000: answer }));
    const [result] = await generate(stepper, [PROMPT_A], { tokenizer });
    expect(result).toEqual({ ids: tokenizer.encode(answer, { bos: false }), text: answer, finishReason: 'stop' });
  });

  it('stops at the length limit without computing a step it would not use', async () => {
    const stepper = new ToyStepper(scripted({ 1000: 'The person looks happy.' }));
    const [result] = await generate(stepper, [PROMPT_A], { tokenizer, maxNewTokens: 3 });
    expect(result.finishReason).toBe('length');
    expect(result.ids).toEqual(tokenizer.encode('The person looks happy.', { bos: false }).slice(0, 3));
    expect(result.text).toBe(tokenizer.decode(result.ids));
    expect(stepper.calls).toHaveLength(3); // prefill + 2 steps
  });

  it('cuts the output at a stop string spanning several tokens, and never streams any of it', async () => {
    const stepper = new ToyStepper(scripted({ 1000: 'It is happy. USER: and more' }));
    const { deltas, onText } = recorder();
    const [result] = await generate(stepper, [PROMPT_A], { tokenizer, stop: ['USER:'], onText });
    expect(result.text).toBe('It is happy. ');
    expect(result.finishReason).toBe('stop');
    expect(tokenizer.decode(result.ids)).toBe('It is happy. USER:');
    expect(deltas.get(0)!.join('')).toBe(result.text);
    expect(deltas.get(0)!.some((delta) => delta.includes('US'))).toBe(false);
  });

  it('releases held-back text that turns out not to be a stop string', async () => {
    const stepper = new ToyStepper(scripted({ 1000: 'USA is big' }));
    const { deltas, onText } = recorder();
    const [result] = await generate(stepper, [PROMPT_A], { tokenizer, stop: ['USER:', 'Z'], onText });
    expect(result).toMatchObject({ text: 'USA is big', finishReason: 'stop' });
    expect(deltas.get(0)!.join('')).toBe('USA is big');
  });

  it('streams multi-byte characters whole', async () => {
    const answer = 'Smile 😀 — 中文 👩‍👩‍👧!';
    const stepper = new ToyStepper(scripted({ 1000: answer }));
    const { deltas, onText } = recorder();
    const [result] = await generate(stepper, [PROMPT_A], { tokenizer, onText });
    expect(result.text).toBe(answer);
    expect(deltas.get(0)!.join('')).toBe(answer);
    expect(deltas.get(0)!.some((delta) => delta.includes('\uFFFD'))).toBe(false);
  });

  it('runs a batch whose sequences finish at different times', async () => {
    const answers = ['Happy.', 'The person looks surprised: the brows are raised high and the mouth is wide open.', 'Sad, 😢 clearly.'];
    const stepper = new ToyStepper(scripted({ 1000: answers[0], 2000: answers[1], 3000: answers[2] }));
    const { deltas, onText } = recorder();
    const results = await generate(stepper, [PROMPT_A, PROMPT_B, PROMPT_C], { tokenizer, onText, maxNewTokens: 12 });

    expect(results.map((r) => r.text)).toEqual([answers[0], tokenizer.decode(tokenizer.encode(answers[1], { bos: false }).slice(0, 12)), answers[2]]);
    expect(results.map((r) => r.finishReason)).toEqual(['stop', 'length', 'stop']);
    results.forEach((result, i) => expect(deltas.get(i)!.join('')).toBe(result.text));
    // The batch shrinks as sequences end.
    const sizes = stepper.calls.map((call) => call.length);
    expect(sizes[0]).toBe(3);
    expect(sizes.at(-1)).toBe(1);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
  });

  it('samples reproducibly per sequence, whatever the batch around it', async () => {
    const sampling = { temperature: 1, topK: 20, seed: 11 };
    const run = (prompts: PromptInput[]) =>
      generate(new ToyStepper(randomBigram), prompts, { tokenizer, maxNewTokens: 15, sampling });
    const [alone] = await run([PROMPT_A]);
    const [inBatch] = await run([PROMPT_A, PROMPT_B]);
    expect(inBatch).toEqual(alone);
    expect(await run([PROMPT_A])).toEqual([alone]);
    const [otherSeed] = await generate(new ToyStepper(randomBigram), [PROMPT_A], {
      tokenizer,
      maxNewTokens: 15,
      sampling: { ...sampling, seed: 12 },
    });
    expect(otherSeed.ids).not.toEqual(alone.ids);
  });

  it('applies the repetition penalty over the prompt too', async () => {
    // The model prefers 1000, the prompt's last id (logit 10), over 500 (logit 9).
    const model: ToyModel = () => {
      const logits = new Float32Array(tokenizer.vocabSize);
      [logits[1000], logits[500]] = [10, 9];
      return logits;
    };
    const [plain] = await generate(new ToyStepper(model), [PROMPT_A], { tokenizer, maxNewTokens: 1 });
    const [penalized] = await generate(new ToyStepper(model), [PROMPT_A], {
      tokenizer,
      maxNewTokens: 1,
      sampling: { repetitionPenalty: 1.5 },
    });
    expect(plain.ids).toEqual([1000]);
    expect(penalized.ids).toEqual([500]);
  });

  it('stops at custom stop ids', async () => {
    const answer = 'Happy. Done';
    const stopId = tokenizer.encode(answer, { bos: false }).at(-1)!;
    const [result] = await generate(new ToyStepper(scripted({ 1000: answer })), [PROMPT_A], {
      tokenizer,
      stopIds: [stopId],
    });
    expect(result).toMatchObject({ text: 'Happy.', finishReason: 'stop' });
  });

  it('says when prefill is done: once, after the prompts ran and before the first token is chosen', async () => {
    const events: string[] = [];
    const toy = new ToyStepper(scripted({ 1000: 'Happy.', 2000: 'Sad, clearly.' }));
    const stepper: DecoderStepper = {
      prefill: async (batch) => (events.push('prefill'), toy.prefill(batch)),
      step: async (batch) => (events.push('step'), toy.step(batch)),
    };
    const results = await generate(stepper, [PROMPT_A, PROMPT_B], {
      tokenizer,
      onPrefilled: () => events.push('prefilled'),
      onText: () => events.push('text'),
    });
    expect(results.map((r) => r.text)).toEqual(['Happy.', 'Sad, clearly.']);
    expect(events.slice(0, 3)).toEqual(['prefill', 'prefilled', 'text']);
    expect(events.filter((e) => e === 'prefilled')).toHaveLength(1);
    const none: string[] = [];
    await generate(stepper, [], { tokenizer, onPrefilled: () => none.push('prefilled') });
    expect(none).toEqual([]);
  });

  it('validates its options and the engine', async () => {
    const stepper = new ToyStepper(scripted({ 1000: 'x' }));
    await expect(generate(stepper, [PROMPT_A], { tokenizer, maxNewTokens: 0 })).rejects.toThrow();
    await expect(generate(stepper, [PROMPT_A], { tokenizer, stop: [''] })).rejects.toThrow();
    expect(await generate(stepper, [], { tokenizer })).toEqual([]);
    const broken: DecoderStepper = { prefill: async () => [], step: async () => [] };
    await expect(generate(broken, [PROMPT_A], { tokenizer })).rejects.toThrow(/0 logit rows for 1/);
  });
});
