import { describe, expect, it } from 'vitest';
import { grad } from '../src/graph/autodiff.js';
import { Graph, compile, f32, hostTensor, i64, maxAbsDiff, type HostTensor } from '../src/graph/index.js';
import { LlamaRunner } from '../src/model/kv-cache.js';
import { causalLmLoss, countParams, decoderForward, embedTokens, IGNORE_INDEX, llamaParamShapes, parseLlamaConfig, VICUNA_7B_V1_5, type LlamaConfig } from '../src/model/llama.js';
import { applyRotary, inverseFrequencies, rotaryCosSin, rotaryTables } from '../src/model/rope.js';
import { inputsOf, loadGolden, outputsOf, weightsOf } from './helpers/golden.js';

const golden = loadGolden('llama');
const cfg = parseLlamaConfig(golden.config);
const weights = weightsOf(golden);
const lookup = (name: string) => weights.get(name);
const V = cfg.vocab_size;
const goldenIds = inputsOf(golden).get('input_ids')!; // [2, 7]
const goldenLogits = outputsOf(golden).get('logits')!; // [2, 7, V]
const idRow = (b: number) => Array.from((goldenIds.data as BigInt64Array).subarray(b * 7, b * 7 + 7), Number);
/** Golden logits of row b at position t. */
const goldenAt = (b: number, t: number) => (goldenLogits.data as Float32Array).subarray((b * 7 + t) * V, (b * 7 + t + 1) * V);

function diff(a: Float32Array, b: Float32Array): number {
  return maxAbsDiff(f32([a.length], a), f32([b.length], b));
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** The uncached decoder: logits [B, S, V] of ids [B, S] through decoderForward, optionally with padding. */
async function uncached(config: LlamaConfig, w: (name: string) => HostTensor | undefined, padded = false) {
  const g = new Graph('llama');
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const options = padded ? { attentionMask: g.input('mask', 'int64', ['batch', 'seq']), positionIds: g.input('positions', 'int64', ['batch', 'seq']) } : {};
  g.output('logits', decoderForward(g, config, embedTokens(g, config, ids), options));
  return compile(g, { params: 'initializers', weights: w });
}

describe('LLaMA decoder: the golden case', () => {
  it('decoderForward reproduces the reference logits', async () => {
    const session = await uncached(cfg, lookup);
    const out = await session.run({ ids: goldenIds });
    expect(out.logits.shape).toEqual([2, 7, V]);
    expect(maxAbsDiff(out.logits, goldenLogits)).toBeLessThan(1e-4);
  });

  it('left padding with attention mask and position ids leaves the real positions unchanged', async () => {
    const session = await uncached(cfg, lookup, true);
    // Row 1 holds only its first 4 tokens, after 3 pads; causality makes its golden logits there the reference.
    const ids = [...idRow(0), 0, 0, 0, ...idRow(1).slice(0, 4)];
    const mask = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1];
    const positions = [0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 1, 2, 3];
    const out = await session.run({ ids: i64([2, 7], ids), mask: i64([2, 7], mask), positions: i64([2, 7], positions) });
    const logits = out.logits.data as Float32Array;
    for (let t = 0; t < 7; t++) expect(diff(logits.subarray(t * V, (t + 1) * V), goldenAt(0, t))).toBeLessThan(1e-4);
    for (let t = 0; t < 4; t++) expect(diff(logits.subarray((7 + 3 + t) * V, (7 + 4 + t) * V), goldenAt(1, t))).toBeLessThan(1e-4);
  });
});

describe('LLaMA decoder: KV-cached inference', () => {
  it('reproduces the uncached logits position by position, for prompts of different lengths', async () => {
    const runner = await LlamaRunner.create(cfg, lookup);
    const rows = [idRow(0), idRow(1)];
    const promptLengths = [2, 5];
    const logits = await runner.prefill(rows.map((ids, b) => ({ ids: ids.slice(0, promptLengths[b]) })));
    logits.forEach((l, b) => expect(diff(l, goldenAt(b, promptLengths[b] - 1))).toBeLessThan(1e-4));
    // Feed the rest of each row; row 1 runs out after 2 steps and leaves the batch.
    for (let t = 0; t < 5; t++) {
      const batch = rows.map((ids, b) => ({ sequence: b, token: ids[promptLengths[b] + t] })).filter((s) => s.token !== undefined);
      const stepped = await runner.step(batch);
      expect(stepped).toHaveLength(batch.length);
      stepped.forEach((l, i) => expect(diff(l, goldenAt(batch[i].sequence, promptLengths[batch[i].sequence] + t))).toBeLessThan(1e-4));
    }
    await runner.release();
  });

  it('a batch equals running each prompt alone', async () => {
    const prompts = [idRow(0).slice(0, 3), idRow(1), idRow(0).slice(2, 7)];
    const continuation = [[5, 17, 42], [9, 9, 1], [63, 0, 88]];
    const trace = async (indices: number[]) => {
      const runner = await LlamaRunner.create(cfg, lookup);
      const out = [await runner.prefill(indices.map((i) => ({ ids: prompts[i] })))];
      for (let t = 0; t < 3; t++) out.push(await runner.step(indices.map((i, sequence) => ({ sequence, token: continuation[i][t] }))));
      await runner.release();
      return out.map((step) => step.map((l) => Float32Array.from(l)));
    };
    const together = await trace([0, 1, 2]);
    for (const i of [0, 1, 2]) {
      const alone = await trace([i]);
      alone.forEach((step, t) => expect(diff(together[t][i], step[0])).toBeLessThan(1e-5));
    }
  });

  it('greedy decoding gives the ids of a full recompute', async () => {
    const session = await uncached(cfg, lookup);
    const prompt = idRow(0).slice(0, 4);
    const recomputed = [...prompt];
    for (let n = 0; n < 8; n++) {
      const out = await session.run({ ids: i64([1, recomputed.length], recomputed) });
      recomputed.push(argmax((out.logits.data as Float32Array).subarray((recomputed.length - 1) * V)));
    }
    const runner = await LlamaRunner.create(cfg, lookup);
    const cached = [...prompt];
    let [logits] = await runner.prefill([{ ids: prompt }]);
    for (let n = 0; n < 8; n++) {
      cached.push(argmax(logits));
      if (n < 7) [logits] = await runner.step([{ sequence: 0, token: cached[cached.length - 1] }]);
    }
    expect(cached).toEqual(recomputed);
    await runner.release();
  });

  it('extend gives the log-probabilities after each token of continuations of a running sequence, and leaves it as it was', async () => {
    const logSoftmaxRow = (row: Float32Array) => {
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
      return row.map((x) => x - lse);
    };
    const session = await uncached(cfg, lookup);
    const prompts = [idRow(0).slice(0, 3), idRow(1).slice(0, 5)];
    const continuations = [[5, 9, 2], [7], [3, 3, 3, 3], [11, 4]].map((c) => c.map((id) => id % V));
    const runner = await LlamaRunner.create(cfg, lookup);
    await runner.prefill(prompts.map((ids) => ({ ids })));
    const after = await runner.step([0, 1].map((s) => ({ sequence: s, token: 6 })));
    // Sequence 1 (the second row of the cache), one step past its prompt.
    const base = [...prompts[1], 6];
    const scored = await runner.extend(1, continuations);
    for (const [c, ids] of continuations.entries()) {
      const whole = [...base, ...ids];
      const reference = (await session.run({ ids: i64([1, whole.length], whole) })).logits.data as Float32Array;
      expect(scored[c]).toHaveLength(ids.length);
      ids.forEach((_, t) => expect(diff(scored[c][t], logSoftmaxRow(reference.subarray((base.length + t) * V, (base.length + t + 1) * V)))).toBeLessThan(1e-4));
    }
    // The sequences go on as if nothing had been scored.
    const next = await runner.step([{ sequence: 1, token: 8 }]);
    const whole = [...base, 8];
    const reference = (await session.run({ ids: i64([1, whole.length], whole) })).logits.data as Float32Array;
    expect(diff(next[0], reference.subarray((whole.length - 1) * V, whole.length * V))).toBeLessThan(1e-4);
    expect(after).toHaveLength(2);
    await expect(runner.extend(0, [[1]])).rejects.toThrow(/sequence 0 is not running/);
    await expect(runner.extend(1, [[]])).rejects.toThrow(/continuation is empty/);
    await runner.release();
  });

  it('grows the cache past its first chunk and drops finished sequences', async () => {
    const session = await uncached(cfg, lookup);
    const sequences = [250, 120].map((n, s) => Array.from({ length: n + 12 }, (_, t) => (t * 7 + s * 13 + 1) % V));
    const references = await Promise.all(sequences.map(async (ids) => (await session.run({ ids: i64([1, ids.length], ids) })).logits.data as Float32Array));
    const expectAt = (l: Float32Array, s: number, t: number) => expect(diff(l, references[s].subarray(t * V, (t + 1) * V))).toBeLessThan(1e-4);
    const runner = await LlamaRunner.create(cfg, lookup);
    const prompts = [250, 120];
    (await runner.prefill(prompts.map((n, s) => ({ ids: sequences[s].slice(0, n) })))).forEach((l, s) => expectAt(l, s, prompts[s] - 1));
    for (let t = 0; t < 12; t++) {
      const live = t < 4 ? [0, 1] : [0]; // sequence 1 finishes after 4 steps; sequence 0 crosses 256 positions
      const logits = await runner.step(live.map((s) => ({ sequence: s, token: sequences[s][prompts[s] + t] })));
      logits.forEach((l, i) => expectAt(l, live[i], prompts[live[i]] + t));
    }
    await runner.release();
  });

  it('works at any size: odd head size, 3 query heads per key/value head, tied embeddings', async () => {
    const small = parseLlamaConfig({ vocab_size: 40, hidden_size: 36, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2, intermediate_size: 50, tie_word_embeddings: true, max_position_embeddings: 32 });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.6;
    const w = new Map([...llamaParamShapes(small)].map(([name, shape]) => [name, f32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, random))]));
    const session = await uncached(small, (n) => w.get(n));
    const ids = [3, 14, 15, 9, 26, 5, 35];
    const full = (await session.run({ ids: i64([1, 7], ids) })).logits.data as Float32Array;
    const runner = await LlamaRunner.create(small, (n) => w.get(n));
    const steps = [...(await runner.prefill([{ ids: ids.slice(0, 3) }]))];
    for (let t = 3; t < 7; t++) steps.push(...(await runner.step([{ sequence: 0, token: ids[t] }])));
    steps.forEach((l, i) => expect(diff(l, full.subarray((2 + i) * 40, (3 + i) * 40))).toBeLessThan(1e-5));
    await runner.release();
  });

  it('computes an output vocabulary only: the same logits there, −∞ elsewhere; extend renormalises over it', async () => {
    const outputIds = [V - 1, 2, 9, 5, 0, 7]; // any order: the runner sorts them
    const keep = new Set(outputIds);
    const [full, trimmed] = [await LlamaRunner.create(cfg, lookup), await LlamaRunner.create(cfg, lookup, { outputIds })];
    const expectSame = (t: Float32Array, f: Float32Array, shift = 0) => {
      expect(t).toHaveLength(V);
      for (let v = 0; v < V; v++) {
        if (keep.has(v)) expect(Math.abs(t[v] - (f[v] - shift))).toBeLessThan(1e-4);
        else expect(t[v]).toBe(-Infinity);
      }
    };
    const prompts = [idRow(0).slice(0, 3), idRow(1).slice(0, 5)].map((ids) => ({ ids }));
    const [a, b] = [await full.prefill(prompts), await trimmed.prefill(prompts)];
    a.forEach((f, i) => expectSame(b[i], f));
    const step = [0, 1].map((sequence) => ({ sequence, token: 6 }));
    const [c, d] = [await full.step(step), await trimmed.step(step)];
    c.forEach((f, i) => expectSame(d[i], f));
    // Log-probabilities over the output vocabulary: the full model's, less the log of the mass the list holds.
    const continuation = [[5, 9, 2]];
    const [e, t] = [(await full.extend(1, continuation))[0], (await trimmed.extend(1, continuation))[0]];
    e.forEach((f, i) => expectSame(t[i], f, Math.log(outputIds.reduce((sum, id) => sum + Math.exp(f[id]), 0))));
    await Promise.all([full.release(), trimmed.release()]);
    await expect(LlamaRunner.create(cfg, lookup, { outputIds: [2, V] })).rejects.toThrow(`output id ${V} is outside the vocabulary`);
    await expect(LlamaRunner.create(cfg, lookup, { outputIds: [2, 3, 2] })).rejects.toThrow('output id 2 is listed twice');
  });

  it('takes prompt embeddings: the pipeline golden case, visual tokens spliced between text', async () => {
    const pipeline = loadGolden('pipeline');
    const llm = parseLlamaConfig(pipeline.config.llm);
    const w = weightsOf(pipeline);
    const inputs = inputsOf(pipeline);
    const outputs = outputsOf(pipeline);
    const D = llm.hidden_size;
    const table = w.get('model.embed_tokens.weight')!.data as Float32Array;
    const rowsOf = (ids: HostTensor) => Array.from(ids.data as BigInt64Array, (id) => table.subarray(Number(id) * D, (Number(id) + 1) * D));
    const parts = [...rowsOf(inputs.get('ids_before_image')!), outputs.get('visual_tokens')!.data as Float32Array, ...rowsOf(inputs.get('ids_after_image')!)];
    const embeds = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (embeds.set(p, at), at + p.length), 0);
    const positions = embeds.length / D; // 3 + 16 + 4

    const runner = await LlamaRunner.create(llm, (n) => w.get(n));
    let [logits] = await runner.prefill([{ ids: [], embeds }]);
    const reference = outputs.get('logits')!.data as Float32Array;
    expect(diff(logits, reference.subarray((positions - 1) * llm.vocab_size))).toBeLessThan(1e-4);
    const ids: number[] = [];
    for (let n = 0; n < 8; n++) {
      ids.push(argmax(logits));
      if (n < 7) [logits] = await runner.step([{ sequence: 0, token: ids[n] }]);
    }
    expect(ids).toEqual(Array.from(outputs.get('greedy_ids')!.data as BigInt64Array, Number));
    await runner.release();
  });

  it('reports misuse clearly', async () => {
    const short = parseLlamaConfig({ ...golden.config, max_position_embeddings: 3 });
    const runner = await LlamaRunner.create(short, lookup);
    await expect(runner.step([{ sequence: 0, token: 1 }])).rejects.toThrow(/call prefill first/);
    await expect(runner.prefill([{ ids: [1, 2, 3, 4] }])).rejects.toThrow(/prompt of 4 positions exceeds max_position_embeddings 3/);
    await expect(runner.prefill([{ ids: [] }])).rejects.toThrow(/prompt 0 is empty/);
    await expect(runner.prefill([{ ids: [], embeds: new Float32Array(cfg.hidden_size + 1) }])).rejects.toThrow(/not a positive multiple of hidden_size/);
    await runner.prefill([{ ids: [1, 2] }, { ids: [3] }]);
    await expect(runner.step([{ sequence: 1, token: 1 }, { sequence: 0, token: 1 }])).rejects.toThrow(/prefill order/);
    await expect(runner.step([{ sequence: 0, token: V }])).rejects.toThrow(/outside the vocabulary/);
    await runner.step([{ sequence: 0, token: 1 }]); // sequence 1 has finished
    await expect(runner.step([{ sequence: 1, token: 1 }])).rejects.toThrow(/sequence 1 is not running/);
    await expect(runner.step([{ sequence: 0, token: 1 }])).rejects.toThrow(/reached 3 positions, the most this batch may hold/);
    await runner.release();
    const bounded = await LlamaRunner.create(cfg, lookup, { maxNewTokens: 1 });
    await bounded.prefill([{ ids: [1, 2] }, { ids: [3] }]);
    await bounded.step([{ sequence: 0, token: 1 }, { sequence: 1, token: 1 }]); // sequence 1 may still grow
    await bounded.step([{ sequence: 1, token: 1 }]);
    await expect(bounded.step([{ sequence: 1, token: 1 }])).rejects.toThrow(/reached 3 positions/);
    await bounded.release();
    await expect(LlamaRunner.create(cfg, () => undefined)).rejects.toThrow(/needs model.embed_tokens.weight as float32/);
  });
});

describe('LLaMA decoder: training loss', () => {
  it('is the mean next-token cross-entropy over counted labels', async () => {
    const g = new Graph('loss');
    const logits = g.input('logits', 'float32', ['batch', 'seq', 4]);
    const labels = g.input('labels', 'int64', ['batch', 'seq']);
    g.output('loss', causalLmLoss(logits, labels));
    const session = await compile(g, { params: 'inputs' });
    const x = Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i * 1.7) * 3);
    const y = [IGNORE_INDEX, 1, 2, 3, IGNORE_INDEX, 0];
    const out = await session.run({ logits: f32([2, 3, 4], x), labels: i64([2, 3], y) });
    // Position t of row b predicts label t + 1: (0,0)→1, (0,1)→2, (1,0)→ignored, (1,1)→0.
    const nll = (b: number, t: number, target: number) => {
      const row = x.slice((b * 3 + t) * 4, (b * 3 + t + 1) * 4);
      return Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[target];
    };
    const expected = (nll(0, 0, 1) + nll(0, 1, 2) + nll(1, 1, 0)) / 3;
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(expected, 5);
  });
});

describe('LLaMA decoder: differentiable', () => {
  it('the training graph has the gradients of finite differences (float64)', async () => {
    const tiny = parseLlamaConfig({ vocab_size: 11, hidden_size: 12, num_hidden_layers: 2, num_attention_heads: 3, num_key_value_heads: 1, intermediate_size: 10, max_position_embeddings: 16 });
    const g = new Graph('train');
    const x = g.input('x', 'float64', [2, 'seq', 12]);
    const mask = g.input('mask', 'int64', [2, 'seq']);
    const labels = g.input('labels', 'int64', [2, 'seq']);
    const loss = causalLmLoss(decoderForward(g, tiny, x, { attentionMask: mask }), labels);
    g.output('loss', loss);
    const wrt = [...g.params, x];
    grad(loss, wrt).forEach((t, i) => g.output(`grad${i}`, t));
    const session = await compile(g, { params: 'inputs' });

    let seed = 3;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
    const values = new Map<string, HostTensor>();
    for (const [name, shape] of llamaParamShapes(tiny)) {
      values.set(name, hostTensor('float64', shape, Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (shape.length === 1 ? 1 + random() * 0.2 : random()))));
    }
    values.set('x', hostTensor('float64', [2, 5, 12], Float64Array.from({ length: 120 }, random)));
    values.set('mask', i64([2, 5], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]));
    values.set('labels', i64([2, 5], [IGNORE_INDEX, 3, 4, 5, 6, IGNORE_INDEX, 2, 9, IGNORE_INDEX, IGNORE_INDEX]));
    const feeds = Object.fromEntries(values);
    const out = await session.run(feeds);
    const lossAt = async () => ((await session.run(feeds, { outputs: ['loss'] })).loss.data as Float64Array)[0];
    for (const [i, t] of wrt.entries()) {
      const data = values.get(t.name)!.data as Float64Array;
      for (const j of [0, data.length >> 1, data.length - 1]) {
        const saved = data[j];
        const h = 1e-6;
        data[j] = saved + h;
        const up = await lossAt();
        data[j] = saved - h;
        const down = await lossAt();
        data[j] = saved;
        expect((out[`grad${i}`].data as Float64Array)[j]).toBeCloseTo((up - down) / (2 * h), 6);
      }
    }
  });
});

describe('LLaMA decoder: configuration', () => {
  it('has the Vicuna-7B v1.5 preset with its 6.74B parameters', () => {
    expect(VICUNA_7B_V1_5).toMatchObject({ hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, intermediate_size: 11008, vocab_size: 32000, rms_norm_eps: 1e-5, max_position_embeddings: 4096, pad_token_id: 0 });
    expect(countParams(VICUNA_7B_V1_5)).toBe(6_738_415_616);
    expect(countParams({ ...VICUNA_7B_V1_5, tie_word_embeddings: true })).toBe(6_738_415_616 - 32000 * 4096);
  });

  it('fills Hugging Face defaults and ignores unknown fields', () => {
    const c = parseLlamaConfig({ vocab_size: 10, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, architectures: ['LlamaForCausalLM'] });
    expect(c).toMatchObject({ num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 2048, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, pad_token_id: null });
  });

  it('names every problem with its field', () => {
    const base = { ...golden.config };
    const bad = (patch: Record<string, unknown>) => () => parseLlamaConfig({ ...base, ...patch });
    expect(bad({ hidden_size: 66 })).toThrow(/invalid LLaMA config: num_attention_heads: hidden_size 66 is not divisible by num_attention_heads 4/);
    expect(bad({ num_key_value_heads: 3 })).toThrow(/num_key_value_heads: num_attention_heads 4 is not a multiple of num_key_value_heads 3/);
    expect(bad({ hidden_size: 36 })).toThrow(/num_attention_heads: head size hidden_size \/ num_attention_heads = 9 must be even/);
    expect(bad({ vocab_size: undefined })).toThrow(/vocab_size:/);
    expect(bad({ num_hidden_layers: 0 })).toThrow(/num_hidden_layers:/);
    expect(bad({ hidden_act: 'gelu' })).toThrow(/hidden_act:/);
    expect(bad({ rope_scaling: { type: 'linear', factor: 2 } })).toThrow(/rope_scaling:/);
    expect(bad({ eos_token_id: 96 })).toThrow(/eos_token_id: eos_token_id 96 is outside the vocabulary/);
    expect(bad({ vocab_size: -1, intermediate_size: 1.5 })).toThrow(/vocab_size: .*; intermediate_size: /);
  });
});

describe('rotary embeddings', () => {
  it('uses θ_i = base^(−2i/d) and tables of cos/sin(p·θ_i)', () => {
    expect(Array.from(inverseFrequencies(4, 100))).toEqual([1, 0.1]);
    const { cos, sin } = rotaryTables(4, 100, 3);
    expect(cos.shape).toEqual([3, 2]);
    expect(Array.from(cos.data as Float32Array)).toEqual(Array.from(Float32Array.from([1, 1, Math.cos(1), Math.cos(0.1), Math.cos(2), Math.cos(0.2)])));
    expect((sin.data as Float32Array)[5]).toBeCloseTo(Math.sin(0.2), 7);
  });

  it('rotates channel pairs (i, i + d/2) by p·θ_i (rotate-half convention)', async () => {
    const d = 4;
    const base = 100;
    const g = new Graph('rope');
    const x = g.input('x', 'float32', [1, 3, 1, d]); // [B, S, heads, d]
    const positions = g.input('positions', 'int64', [1, 3]);
    const { cos, sin } = rotaryCosSin(g, rotaryTables(d, base, 8), positions);
    g.output('y', applyRotary(x, cos, sin));
    const session = await compile(g, { params: 'inputs' });
    const values = [1, 2, 3, 4, -1, 0.5, 2, -3, 0.25, 1, -2, 1];
    const pos = [0, 3, 7];
    const out = await session.run({ x: f32([1, 3, 1, d], values), positions: i64([1, 3], pos) });
    const expected = pos.flatMap((p, s) => {
      const v = values.slice(s * d, (s + 1) * d);
      const theta = Array.from(inverseFrequencies(d, base), (f) => p * f);
      // [x₁, x₂] ↦ [x₁·cos − x₂·sin, x₂·cos + x₁·sin] per pair (x[i], x[i + d/2]).
      return [0, 1, 2, 3].map((c) => {
        const i = c % (d / 2);
        const [a, b] = [v[i], v[i + d / 2]];
        return c < d / 2 ? a * Math.cos(theta[i]) - b * Math.sin(theta[i]) : b * Math.cos(theta[i]) + a * Math.sin(theta[i]);
      });
    });
    expect(maxAbsDiff(out.y, f32([1, 3, 1, d], expected))).toBeLessThan(1e-6);
  });
});
