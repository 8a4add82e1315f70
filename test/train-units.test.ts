// The parts of `face-llava train` one by one: the recipe, the data order, FaceInstruct records as examples, the
// guarded loss, checkpoints that survive a kill at any point, the log, the chart and the progress line.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '../src/graph/graph.js';
import { f32, type HostTensor, i64 } from '../src/graph/host.js';
import { compile } from '../src/graph/session.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { parseFaceLlavaConfig } from '../src/model/config.js';
import { IO, spliceEmbeddings, spliceLayout, visualTokens } from '../src/model/face-llava.js';
import { causalLmLoss, decoderForward, embedTokens } from '../src/model/llama.js';
import { IGNORE_INDEX, IMAGE_TOKEN_INDEX } from '../src/text/chat.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { epochSteps, stepsPerEpoch } from '../src/train/batches.js';
import { lossChart } from '../src/train/chart.js';
import { dropFeatures } from '../src/train/collate.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { listJsonl, loadExamples } from '../src/train/data.js';
import { ANSWER_LABELS, ANSWER_POSITIONS, answerTargets, ENCODER_TOKENS, buildTrainingGraph } from '../src/train/graph.js';
import { initialWeight } from '../src/train/init.js';
import { type LogEntry, TrainLog } from '../src/train/log.js';
import { duration, Progress } from '../src/train/progress.js';
import { checkMix, epochPool, epochSize, sourceCounts, sourceQuota } from '../src/train/mixing.js';
import { moduleOf, parseStages } from '../src/train/stages.js';
import { seededRandom } from '../src/util/random.js';

/** A float tensor's values. */
const values = (t: HostTensor) => Array.from(t.data as Float32Array);
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'face-llava-train-'));

const TINY = parseFaceLlavaConfig({
  vision: { type: 'feature_map', channels: 4, grid: 2 },
  cross_attn: { cross_attn_type: 'frgca', num_heads: 2 },
  llm: { vocab_size: 32000, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, tie_word_embeddings: true, max_position_embeddings: 128 },
});

describe('the recipe', () => {
  it('names the stages, and `both` is stage 1 then stage 2', () => {
    expect(parseStages('both')).toEqual(['1', '2']);
    expect(parseStages('pretrain,1,2')).toEqual(['pretrain', '1', '2']);
    expect(() => parseStages('3')).toThrow(/unknown stage/);
  });

  it('sorts weights into the modules the stages train', () => {
    expect(moduleOf('model.landmarks_projector.region_layers.face.weight')).toBe('landmarks');
    expect(moduleOf('model.global_landmarks_projector.bias')).toBe('landmarks');
    expect(moduleOf('model.landmarks_cross_attn.q_proj.weight')).toBe('landmarks');
    expect(moduleOf('model.mm_projector.0.weight')).toBe('projector');
    expect(moduleOf('model.layers.0.mlp.up_proj.weight')).toBe('decoder');
    expect(moduleOf('lm_head.weight')).toBe('decoder');
  });

  it('initializes from scratch as LLaMA and nn.Linear do, FRGCA starting as the identity', () => {
    const embed = initialWeight('model.embed_tokens.weight', [1000, 16], 0).data as Float32Array;
    const std = Math.sqrt(embed.reduce((s, v) => s + v * v, 0) / embed.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    const frlp = initialWeight('model.landmarks_projector.region_layers.face.weight', [16, 34], 0).data as Float32Array;
    expect(Math.max(...frlp.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(34));
    expect(initialWeight('model.landmarks_cross_attn.out_proj.weight', [16, 16], 0).data.every((v) => v === 0)).toBe(true);
    expect(values(initialWeight('model.norm.weight', [3], 0))).toEqual([1, 1, 1]);
    expect(values(initialWeight('model.mm_projector.0.bias', [2], 0))).toEqual([0, 0]);
    // The same name and seed give the same values, whatever else is initialized.
    expect(initialWeight('model.layers.0.mlp.up_proj.weight', [4, 4], 7).data).toEqual(initialWeight('model.layers.0.mlp.up_proj.weight', [4, 4], 7).data);
  });
});

describe('the data order', () => {
  const lengths = Array.from({ length: 53 }, (_, i) => 10 + ((i * 37) % 50));
  const o = { batch: 4, accum: 3, seed: 5 };

  it('visits every example once per epoch, in steps of `accum` micro-batches of `batch`', () => {
    const steps = epochSteps(lengths, 0, o);
    expect(steps).toHaveLength(stepsPerEpoch(lengths.length, o));
    const seen = steps.flat(2).sort((a, b) => a - b);
    expect(seen).toEqual([...lengths.keys()]);
    expect(steps.slice(0, -1).every((s) => s.length === 3)).toBe(true);
    expect(steps.flat().filter((m) => m.length < 4)).toHaveLength(1);
  });

  it('is a function of the seed and the epoch', () => {
    expect(epochSteps(lengths, 1, o)).toEqual(epochSteps(lengths, 1, o));
    expect(epochSteps(lengths, 1, o)).not.toEqual(epochSteps(lengths, 2, o));
    expect(epochSteps(lengths, 1, o)).not.toEqual(epochSteps(lengths, 1, { ...o, seed: 6 }));
  });

  it('groups sequences of similar length, so that little is padding', () => {
    const padding = (micro: number[][]) => micro.reduce((n, m) => n + m.length * Math.max(...m.map((i) => lengths[i])) - m.reduce((s, i) => s + lengths[i], 0), 0);
    const bucketed = padding(epochSteps(lengths, 0, { ...o, accum: 1 }).flat());
    const scrambled = [...lengths.keys()].map((i) => (i * 17) % lengths.length);
    const random = padding(Array.from({ length: 14 }, (_, k) => scrambled.slice(4 * k, 4 * k + 4)));
    expect(bucketed).toBeLessThan(random / 3);
  });
});

describe('mixing the sources of an epoch', () => {
  // Three sources: 3 examples, 10 examples, 40 examples.
  const sources = [...Array(3).fill(0), ...Array(10).fill(1), ...Array(40).fill(2)] as number[];
  const count = (pool: number[], s: number) => pool.filter((i) => sources[i] === s).length;

  it('clamps each source to [min, max] examples an epoch', () => {
    expect(sourceCounts(sources)).toEqual([3, 10, 40]);
    expect(sourceQuota(3, { min: 8, max: 20 })).toBe(8);
    expect(sourceQuota(40, { min: 8, max: 20 })).toBe(20);
    expect(sourceQuota(0, { min: 8 })).toBe(0);
    expect(epochSize([3, 10, 40], { min: 8, max: 20 })).toBe(38);
    const pool = epochPool(sources, 0, 1, { min: 8, max: 20 });
    expect(pool).toHaveLength(38);
    expect([0, 1, 2].map((s) => count(pool, s))).toEqual([8, 10, 20]);
    // The small source is repeated whole (twice) before any of it a third time.
    for (const i of [0, 1, 2]) expect(pool.filter((j) => j === i).length).toBeGreaterThanOrEqual(2);
    // The large source is subsampled without repeats.
    expect(new Set(pool.filter((i) => sources[i] === 2)).size).toBe(20);
  });

  it('without limits, is every example once in order, as before mixing existed', () => {
    expect(epochPool(sources, 3, 1, {})).toEqual([...sources.keys()]);
    expect(epochSize([3, 10, 40], {})).toBe(53);
  });

  it('draws a fresh subset each epoch, the same for the same seed and epoch', () => {
    const o = { max: 20 };
    const big = (epoch: number, seed = 1) => epochPool(sources, epoch, seed, o).filter((i) => sources[i] === 2);
    expect(big(0)).toEqual(big(0));
    expect(big(0)).not.toEqual(big(1));
    expect(big(0)).not.toEqual(big(0, 2));
    // Two epochs of a source subsampled to half cover most of it.
    expect(new Set([...big(0), ...big(1)]).size).toBeGreaterThan(25);
  });

  it('with balanceLabels, spreads a single-label source equally over its labels', () => {
    // Source 0: 30 `real`, 10 `fake`; source 1: no single labels (left as it is).
    const srcs = [...Array(40).fill(0), ...Array(6).fill(1)] as number[];
    const labels = [...Array(30).fill('real'), ...Array(10).fill('fake'), ...Array(6).fill(undefined)] as (string | undefined)[];
    const pool = epochPool(srcs, 0, 1, { min: 60, balanceLabels: true }, labels);
    const of = (label: string) => pool.filter((i) => labels[i] === label).length;
    expect([of('real'), of('fake')]).toEqual([30, 30]);
    expect(pool.filter((i) => srcs[i] === 1)).toHaveLength(60);
    // Every fake example three times; 30 of the 30 real ones once.
    for (let i = 30; i < 40; i++) expect(pool.filter((j) => j === i)).toHaveLength(3);
    expect(new Set(pool.filter((i) => labels[i] === 'real')).size).toBe(30);
    // An odd quota: the first labels (sorted) get the extra example.
    const odd = epochPool(srcs.slice(0, 40), 0, 1, { max: 21, balanceLabels: true }, labels);
    expect([odd.filter((i) => labels[i] === 'fake').length, odd.filter((i) => labels[i] === 'real').length]).toEqual([11, 10]);
    // Without the option, the labels change nothing.
    expect(epochPool(srcs, 0, 1, { min: 60 }, labels)).toEqual(epochPool(srcs, 0, 1, { min: 60 }));
  });

  it('refuses limits that are not whole numbers or out of order', () => {
    expect(() => checkMix({ min: 0 })).toThrow(/whole number/);
    expect(() => checkMix({ max: 2.5 })).toThrow(/whole number/);
    expect(() => checkMix({ min: 10, max: 5 })).toThrow(/above source max/);
    expect(() => checkMix({ min: 5, max: 5 })).not.toThrow();
  });
});

describe('FaceInstruct records as examples', () => {
  const lm = Array.from({ length: 68 }, (_, i) => [i / 68, 1 - i / 68]);
  const turns = (question: string, answer: string) => [
    { from: 'human', value: question },
    { from: 'gpt', value: answer },
  ];

  async function load(records: object[], split: 'train' | 'val' = 'train', maxLength?: number) {
    const dir = tmp();
    writeFileSync(path.join(dir, 'shard-00000.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return { dir, ...(await loadExamples([{ path: path.join(dir, 'shard-00000.jsonl') }], { tokenizer: llamaTokenizer(), config: TINY, split, maxLength })) };
  }

  it('tokenizes the Vicuna conversation with one placeholder per frame and labels on the answer only', async () => {
    const { dir, examples, tasks } = await load([
      { id: 'a', image: 'media/a.jpg', conversations: turns('<image>\nWhat is the expression?', 'Happy.'), landmarks_2d: lm, task: 'expression', label: 'happy', split: 'train' },
      { id: 'v', video: 'media/v.mp4', conversations: turns('<video>\nWhat is the expression?', 'Sad.'), landmarks_2d: [lm, lm, lm], task: 'expression', label: ['sad'], split: 'train' },
      { id: 'x', image: 'media/x.jpg', conversations: turns('<image>\nHow old?', '30.'), landmarks_2d: lm, task: 'age', split: 'val' },
    ]);
    expect(examples.map((e) => e.id)).toEqual(['a', 'v']);
    expect(tasks).toEqual(['expression']);
    // A single class label is kept for per-label balancing; others (AU lists, attribute lists) are not.
    expect(examples.map((e) => e.label)).toEqual(['happy', undefined]);
    const [image, video] = examples;
    expect(image.frames).toEqual([{ file: path.join(dir, 'media/a.jpg') }]);
    expect(video.frames).toEqual([0, 1, 2].map((index) => ({ clip: path.join(dir, 'media/v.mp4'), index })));
    expect(Array.from(video.ids).filter((t) => t === IMAGE_TOKEN_INDEX)).toHaveLength(3);
    expect(video.landmarks).toHaveLength(3 * 68 * 2);
    expect(image.length).toBe(image.ids.length - 1 + 4);
    const answer = llamaTokenizer().decode(Array.from(image.labels).filter((l) => l !== IGNORE_INDEX));
    expect(answer).toBe('Happy.');
    expect(image.answerTokens).toBe(Array.from(image.labels).filter((l) => l !== IGNORE_INDEX).length);
  });

  it("marks the answer's first sentence, where a FaceInstruct answer states its label", async () => {
    const tokenizer = llamaTokenizer();
    const { examples } = await load(
      [
        'This face shows fear. The inner brows are raised.',
        'Happy',
        'The person looks about 2.5 years old! Small face.',
        'Surprise.',
      ].map((answer) => ({ image: 'a.jpg', conversations: turns('<image>\nQ', answer), landmarks_2d: lm })),
    );
    const lead = examples.map((e) => tokenizer.decode(Array.from(e.labels).filter((l) => l !== IGNORE_INDEX).slice(0, e.leadTokens)));
    expect(lead).toEqual(['This face shows fear.', 'Happy', 'The person looks about 2.5 years old!', 'Surprise.']);
    // A one-sentence answer without a stop is all lead, its </s> included; a stop before </s> leaves the </s> out.
    expect(examples[1].leadTokens).toBe(examples[1].answerTokens);
    expect(examples[3].leadTokens).toBe(examples[3].answerTokens - 1);
  });

  it('cuts sequences to the maximum length and skips those left without an answer', async () => {
    const long = 'word '.repeat(200);
    const { examples, skipped } = await load([
      { image: 'a.jpg', conversations: turns('<image>\nDescribe.', long), landmarks_2d: lm },
      { image: 'b.jpg', conversations: turns(`<image>\n${long}`, 'Yes.'), landmarks_2d: lm },
    ], 'train', 100);
    expect(examples).toHaveLength(1);
    expect(examples[0].length).toBe(100);
    expect(skipped).toEqual({ no_answer: 1 });
  });

  it("reads a FaceInstruct build's shards up to its last checkpoint", async () => {
    const dir = tmp();
    const record = JSON.stringify({ image: 'a.jpg', conversations: turns('<image>\nQ', 'A'), landmarks_2d: lm });
    writeFileSync(path.join(dir, 'shard-00000.jsonl'), `${record}\n${record}\n{"image": "b.j`); // a build still writing
    writeFileSync(path.join(dir, 'rejected.jsonl'), '');
    const shards = [{ file: 'shard-00000.jsonl', bytes: record.length + 1, lines: 1 }];
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'faceinstruct/1', shards }));
    const files = await listJsonl([dir]);
    expect(files).toEqual([{ path: path.join(dir, 'shard-00000.jsonl'), bytes: record.length + 1 }]);
    expect((await loadExamples(files, { tokenizer: llamaTokenizer(), config: TINY, split: 'train' })).examples).toHaveLength(1);
  });

  it('names the line of a malformed record', async () => {
    await expect(load([{ image: 'a.jpg', conversations: turns('<image>\nQ', 'A'), landmarks_2d: lm.slice(1) }])).rejects.toThrow(/shard-00000\.jsonl:1 .*68 landmarks/);
    await expect(load([{ image: 'a.jpg', conversations: turns('Q', 'A'), landmarks_2d: lm }])).rejects.toThrow(/0 media placeholders for 1 frame/);
  });
});

describe('the loss', () => {
  const weights = (g: Graph) => (name: string) => initialWeight(name, g.params.find((p) => p.name === name)!.shape as number[], 0);
  const batch = (labels: number[][]) => {
    const ids = [
      [1, IMAGE_TOKEN_INDEX, 5, 6, 7],
      [1, 8, IMAGE_TOKEN_INDEX, 9],
    ];
    const layout = spliceLayout(ids, { tokensPerFrame: 4, imageTokenIndex: IMAGE_TOKEN_INDEX }, labels);
    const targets = answerTargets(layout.labels!);
    const feeds: Record<string, HostTensor> = {
      [ENCODER_TOKENS]: f32([2, 4, 4], Array.from({ length: 32 }, (_, i) => (i % 9) / 9)),
      [IO.landmarks]: f32([2, 68, 2], Array.from({ length: 272 }, (_, i) => (i % 17) / 17)),
      [IO.textIds]: layout.textIds,
      [IO.rows]: layout.rows,
      [IO.attentionMask]: layout.attentionMask,
      [ANSWER_POSITIONS]: targets.positions,
      [ANSWER_LABELS]: targets.labels,
    };
    return { feeds, layout };
  };
  const X = IGNORE_INDEX;

  it("is the causal-LM loss over the answer tokens, with lm_head run on the answers' positions only", async () => {
    const { feeds, layout } = batch([
      [X, X, X, 6, 7],
      [X, X, X, 9],
    ]);
    const { graph } = buildTrainingGraph(TINY);
    const ours = await compile(graph, { params: 'initializers', weights: weights(graph), noCache: true });
    // The reference: logits at every position, Hugging Face's shifted cross-entropy.
    const g = new Graph();
    const n = 4;
    const visual = visualTokens(TINY, { frameShape: [n, 4], width: 4, grid: { size: 2, cls: false }, unusedParams: [], encode: (t) => t }, g.input(ENCODER_TOKENS, 'float32', ['f', n, 4]), g.input(IO.landmarks, 'float32', ['f', 68, 2]));
    const embeds = spliceEmbeddings(embedTokens(g, TINY.llm, g.input(IO.textIds, 'int64', ['b', 't'])), visual, g.input(IO.rows, 'int64', ['b', 's']));
    const logits = decoderForward(g, TINY.llm, embeds, { attentionMask: g.input(IO.attentionMask, 'int64', ['b', 's']) });
    g.output(IO.loss, causalLmLoss(logits, g.input(IO.labels, 'int64', ['b', 's'])));
    const reference = await compile(g, { params: 'initializers', weights: weights(g), noCache: true });
    const { [ANSWER_POSITIONS]: _, [ANSWER_LABELS]: __, ...common } = feeds;
    const expected = (await reference.run({ ...common, [IO.labels]: layout.labels! }))[IO.loss].data[0] as number;
    expect((await ours.run(feeds))[IO.loss].data[0]).toBeCloseTo(expected, 5);
    // Position b·S + t predicts the label at t + 1: "6" and "7" of the first sequence, "9" of the second.
    const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
    expect(ints(feeds[ANSWER_POSITIONS])).toEqual([5, 6, 8 + 5]);
    expect(ints(feeds[ANSWER_LABELS])).toEqual([6, 7, 9]);
  });

  it('counts the lead tokens --lead-weight times: the mean becomes Σ wᵢ·ℓᵢ / Σ wᵢ', async () => {
    const { feeds, layout } = batch([
      [X, X, X, 6, 7],
      [X, X, X, 9],
    ]);
    const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
    // Row 0's first answer token and row 1's first are lead tokens; row 0's second is not.
    const weighted = answerTargets(layout.labels!, { tokens: [1, 1], weight: 3 });
    expect(ints(weighted.positions)).toEqual([5, 5, 5, 6, 13, 13, 13]);
    expect(ints(weighted.labels)).toEqual([6, 6, 6, 7, 9, 9, 9]);
    const { graph } = buildTrainingGraph(TINY);
    const session = await compile(graph, { params: 'initializers', weights: weights(graph), noCache: true });
    const lossOf = async (positions: number[], labels: number[]) =>
      (await session.run({ ...feeds, [ANSWER_POSITIONS]: i64([positions.length], positions), [ANSWER_LABELS]: i64([labels.length], labels) }))[IO.loss].data[0] as number;
    const [l6, l7, l9] = [await lossOf([5], [6]), await lossOf([6], [7]), await lossOf([13], [9])];
    const expected = (3 * l6 + l7 + 3 * l9) / 7;
    expect(await lossOf(ints(weighted.positions), ints(weighted.labels))).toBeCloseTo(expected, 5);
    expect(Math.abs(expected - (l6 + l7 + l9) / 3)).toBeGreaterThan(1e-4); // the weighting changes the number
  });

  it('is 0, with zero gradients, for a batch without a single answer token', async () => {
    const { graph, loss } = buildTrainingGraph(TINY);
    const none = batch([
      [X, X, X, X, X],
      [X, X, X, X],
    ]).feeds;
    const step = await createTrainStep(graph, { loss, weights: weights(graph), lr: 1e-2, threads: 1 });
    const result = await step.step([none]);
    expect(result.loss).toBe(0);
    expect(result.gradNorm).toBe(0);
    // With an answer token the same batch has a loss.
    const one = batch([
      [X, X, X, X, 7],
      [X, X, X, X],
    ]).feeds;
    expect((await step.step([one])).loss).toBeGreaterThan(5);
    await step.release();
  });
});

describe('feature dropout', () => {
  const tokens = () => f32([4, 49, 64], Array.from({ length: 4 * 49 * 64 }, (_, i) => 1 + (i % 13) / 13));

  it('zeroes about p of the values and scales the rest by 1 / (1 − p), the same for the same stream', () => {
    const original = tokens();
    const t = tokens();
    dropFeatures(t, 0.25, seededRandom(3, 0x2000_0000));
    const [a, b] = [original.data as Float32Array, t.data as Float32Array];
    const zeroed = b.filter((v) => v === 0).length / b.length;
    expect(zeroed).toBeGreaterThan(0.23);
    expect(zeroed).toBeLessThan(0.27);
    b.forEach((v, i) => {
      if (v !== 0) expect(v).toBeCloseTo(a[i] / 0.75, 6);
    });
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    expect(Math.abs(mean(b) / mean(a) - 1)).toBeLessThan(0.02); // the expectation is kept
    const again = tokens();
    dropFeatures(again, 0.25, seededRandom(3, 0x2000_0000));
    expect(Array.from(again.data as Float32Array)).toEqual(Array.from(b));
    const other = tokens();
    dropFeatures(other, 0.25, seededRandom(3, 0x2000_0001));
    expect(Array.from(other.data as Float32Array)).not.toEqual(Array.from(b));
  });

  it('leaves the tokens as they are at 0 and refuses a share outside [0, 1)', () => {
    const t = tokens();
    dropFeatures(t, 0, seededRandom(1, 1));
    expect(Array.from(t.data as Float32Array)).toEqual(Array.from(tokens().data as Float32Array));
    expect(() => dropFeatures(t, 1, Math.random)).toThrow(/\[0, 1\)/);
    expect(() => dropFeatures(t, -0.1, Math.random)).toThrow(/\[0, 1\)/);
  });
});

describe('checkpoints', () => {
  const state = (v: number) => ({ step: 3, params: { w: f32([2], [v, v]) }, m: { w: f32([2], [0.5, 0.5]) }, v: { w: f32([2], [0.25, 0.25]) } });
  const position = { stage: 1, stageName: '2', step: 3, epoch: 0, stepInEpoch: 3, seed: 7, logBytes: 42 };

  it('round-trips the weights, the moments and the position', () => {
    const dir = tmp();
    expect(loadCheckpoint(dir)).toBeNull();
    saveCheckpoint(dir, { position, state: state(1) });
    saveCheckpoint(dir, { position: { ...position, step: 4 }, state: state(2) });
    const loaded = loadCheckpoint(dir)!;
    expect(loaded.position).toEqual({ ...position, step: 4 });
    expect(values(loaded.state.params.w)).toEqual([2, 2]);
    expect(values(loaded.state.v.w)).toEqual([0.25, 0.25]);
  });

  it('survives a kill at any point of writing one', () => {
    // Killed while writing checkpoint.tmp: the previous checkpoint stands.
    const a = tmp();
    saveCheckpoint(a, { position, state: state(1) });
    mkdirSync(path.join(a, 'checkpoint.tmp'));
    writeFileSync(path.join(a, 'checkpoint.tmp', 'state.json'), '{"trunc');
    expect(values(loadCheckpoint(a)!.state.params.w)).toEqual([1, 1]);
    expect(existsSync(path.join(a, 'checkpoint.tmp'))).toBe(false);
    // Killed between moving the old checkpoint aside and moving the new one in.
    const b = tmp();
    saveCheckpoint(b, { position, state: state(1) });
    renameSync(path.join(b, 'checkpoint'), path.join(b, 'checkpoint.old'));
    expect(values(loadCheckpoint(b)!.state.params.w)).toEqual([1, 1]);
  });

  it('cuts the log back to the checkpointed length', () => {
    const dir = tmp();
    const file = path.join(dir, 'log.jsonl');
    const entry = (step: number): LogEntry => ({ type: 'val', stage: '1', step, global_step: step, val_loss: 1 / step, answer_tokens: 10 });
    const log = TrainLog.open(file, 0);
    log.append(entry(1));
    const bytes = log.durableLength();
    log.append(entry(2));
    log.close();
    const resumed = TrainLog.open(file, bytes);
    expect(resumed.entries).toEqual([entry(1)]);
    resumed.append(entry(3));
    resumed.close();
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([1, 3]);
  });
});

describe('what the run shows', () => {
  it('draws the loss curve with stage boundaries and validation points', () => {
    const entries: LogEntry[] = [];
    for (let s = 1; s <= 20; s++) {
      const stage = s <= 10 ? '1' : '2';
      entries.push({ type: 'step', stage, step: s, global_step: s, epoch: 0, loss: 10 / s, lr: 1e-4, grad_norm: 1, tokens: 100, answer_tokens: 10, tokens_per_s: 100, elapsed_s: s });
    }
    entries.push({ type: 'val', stage: '2', step: 10, global_step: 20, val_loss: 0.7, answer_tokens: 50 });
    const svg = lossChart(entries, 'a <run>');
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('stage 1');
    expect(svg).toContain('stage 2');
    expect(svg.match(/<circle/g)).toHaveLength(1);
    expect(svg).toContain('a &lt;run&gt;');
  });

  it('logs a progress line with loss, tokens/s and time left, now and then when not on a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new Progress({ write: (t: string) => lines.push(t), isTTY: false }, () => now);
    const step = (n: number) =>
      progress.onEvent({
        type: 'step',
        steps: 100,
        secondsLeft: 725,
        entry: { type: 'step', stage: '1', step: n, global_step: n, epoch: 0, loss: 2.31449, lr: 1e-4, grad_norm: 1, tokens: 10, answer_tokens: 5, tokens_per_s: 1830.4, elapsed_s: 1 },
      });
    now = 20_000;
    step(41);
    now = 21_000;
    step(42); // within the interval: not logged
    step(100); // the last update always is
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^stage 1 {2}━+─+ {2}41\/100 {2}41% {2}loss 2\.314 {2}1,830 tok\/s {2}12m05s left\n$/);
    expect(duration(3 * 3600 + 240)).toBe('3h04m');
  });
});
