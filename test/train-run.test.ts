// Real training runs on a tiny Face-LLaVA: FaceInstruct-style JSONL over synthetic face crops, a frozen encoder,
// the stages of the recipe. The loss falls; a run killed part-way and resumed ends with the same weights and the
// same log as a run that was never interrupted.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { trainCommand } from '../src/cli/train.js';
import { f32 } from '../src/graph/host.js';
import type { Tensor } from '../src/graph/graph.js';
import * as ops from '../src/graph/ops.js';
import { openCheckpoint } from '../src/graph/safetensors.js';
import { parseFaceLlavaConfig } from '../src/model/config.js';
import { loadPretrained, modelParams, savePretrained, type ModelDirConfigInput, type ResolvedEncoder } from '../src/model/pretrained.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { relativeError } from './helpers/error.js';
import { expressionFolder, readLog } from './helpers/train-data.js';
import { standardizeModel } from '../src/model/standardize.js';
import { mulberry32 } from '../src/util/random.js';
import { initialWeight } from '../src/train/init.js';
import { answerVocabulary } from '../src/train/output-vocab.js';
import { moduleOf } from '../src/train/stages.js';
import type { LogEntry } from '../src/train/log.js';
import { train, type TrainEvent, type TrainOptions } from '../src/train/trainer.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'face-llava-run-'));
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A frozen "encoder": 8×8 average pooling of a 16×16 input to a 2×2 grid, mixed to 4 channels. */
const MIX = f32([4, 3, 1, 1], [0.9, -0.4, 0.3, 0.2, 0.8, -0.5, -0.6, 0.1, 0.7, 0.5, 0.5, 0.5]);
const resolveEncoder = (): ResolvedEncoder => ({
  network: { inputShape: [3, 16, 16], build: (x) => ops.conv(ops.avgPool(x, { kernel: [8, 8] }), x.graph.constant(MIX, 'mix'), null) },
});

const FACE_LLAVA = {
  vision: { type: 'feature_map', channels: 4, grid: 2 },
  cross_attn: { cross_attn_type: 'frgca', num_heads: 2 },
  llm: { vocab_size: 32000, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, tie_word_embeddings: true, max_position_embeddings: 128 },
} as const;

const CONFIG: Omit<ModelDirConfigInput, 'tasks'> = {
  face_llava: FACE_LLAVA,
  preprocess: { image_size: 16, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], crop: 'none' },
  encoder: { kind: 'npm', package: 'test', model: 'pool', layer: 'pool', input_size: 16 },
};

/** 68 points of a face-like layout, moved a little per sample. */
function landmarks(k: number): number[][] {
  return Array.from({ length: 68 }, (_, i) => {
    const angle = (2 * Math.PI * i) / 68;
    return [0.5 + 0.3 * Math.cos(angle) + 0.01 * Math.sin(k + i), 0.5 + 0.35 * Math.sin(angle) + 0.01 * Math.cos(k * i)];
  });
}

/** A folder of FaceInstruct records: warm crops are `happy`, cool ones `sad`; every fifth record is `val`. */
const faceInstruct = (n: number): Promise<string> =>
  expressionFolder(n, async (k, happy, media) => {
    const tone = 20 + 10 * (k % 7);
    const background = happy ? { r: 200 + tone, g: 150 + tone, b: 40 } : { r: 40, g: 60 + tone, b: 150 + tone };
    await sharp({ create: { width: 256, height: 256, channels: 3, background } }).jpeg().toFile(path.join(media, `${k}.jpg`));
    const answer = happy ? 'The person looks happy: the lip corners are raised.' : 'The person looks sad: the lip corners are lowered.';
    return { image: `${k}.jpg`, answer, landmarks: landmarks(k) };
  });

let data: string;
beforeAll(async () => {
  data = await faceInstruct(20);
});

const steps = (log: readonly LogEntry[]) => log.filter((e) => e.type === 'step');
/** The log without its timings, which differ from run to run. */
const losses = (log: readonly LogEntry[]) => log.map((e) => (e.type === 'step' ? { ...e, tokens_per_s: 0, elapsed_s: 0 } : e));

describe('a training run', () => {
  it('lowers the loss, and ends with a model directory that loads', async () => {
    const out = path.join(tmp(), 'run');
    const events: TrainEvent[] = [];
    const result = await train({ data: [data], val: [data], out, stages: ['pretrain'], config: CONFIG, resolveEncoder, epochs: 8, batch: 4, lr: 1e-2, threads: 2, onEvent: (e) => events.push(e) });
    expect(result).toEqual({ model: path.join(out, 'model'), interrupted: false });
    const log = readLog(out);
    const curve = steps(log).map((e) => (e.type === 'step' ? e.loss : NaN));
    expect(curve).toHaveLength(32); // 16 training records, 4 per update, 8 epochs
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(curve.slice(-4))).toBeLessThan(mean(curve.slice(0, 4)) - 2);
    const val = log.filter((e) => e.type === 'val');
    expect(val).toHaveLength(1);
    expect(readFileSync(path.join(out, 'loss.svg'), 'utf8')).toContain('<polyline');
    // The encoder ran once per distinct crop, before the first update.
    expect(events.filter((e) => e.type === 'encode').at(-1)).toEqual({ type: 'encode', done: 20, total: 20 });

    const model = await loadPretrained(result.model!, { resolveEncoder });
    try {
      expect(model.config.tasks).toEqual(['expression']);
      expect(model.config.face_llava.llm.hidden_size).toBe(16);
    } finally {
      await model.dispose();
    }
  });

  it('refuses stage 1 on a model without a landmark branch, before touching the output folder', async () => {
    const out = path.join(tmp(), 'run');
    const none = { ...CONFIG, face_llava: { ...FACE_LLAVA, cross_attn: { cross_attn_type: 'none' } } };
    await expect(train({ data: [data], out, stages: ['pretrain', '1'], config: none, resolveEncoder, epochs: 1, batch: 4, threads: 2 })).rejects.toThrow(
      /stage 1 trains only FRLP and FRGCA, and this model has no landmark branch/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses videos for a model that reads them as the mean of their frames (video_tokens frame_mean)', async () => {
    const dir = tmp();
    const record = {
      id: 'clip0',
      video: 'clip0.mp4',
      conversations: [
        { from: 'human', value: '<video>\nWhat emotion does this face show?' },
        { from: 'gpt', value: 'The person looks happy.' },
      ],
      landmarks_2d: [landmarks(0), landmarks(1)],
      task: 'expression',
      label: 'happy',
      source: 'synthetic',
      split: 'train',
      subject: null,
    };
    writeFileSync(path.join(dir, 'shard-00000.jsonl'), JSON.stringify(record) + '\n');
    const out = path.join(tmp(), 'run');
    const meanVideo = { ...CONFIG, video_tokens: 'frame_mean' as const };
    await expect(train({ data: [data, dir], out, stages: ['pretrain'], config: meanVideo, resolveEncoder, epochs: 1, batch: 4, threads: 2 })).rejects.toThrow(
      /clip0 is a video \(2 frames\).*set "video_tokens": "per_frame"/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('mixes its --data sources: the small one repeated up to --source-min, the large one cut to --source-max', async () => {
    const small = await faceInstruct(5); // 4 training records
    const out = path.join(tmp(), 'run');
    // Sources of 4 and 16 training records, clamped to [8, 12]: 20 examples an epoch, 5 updates of 4.
    await train({ data: [small, data], out, stages: ['pretrain'], config: CONFIG, resolveEncoder, epochs: 2, batch: 4, mix: { min: 8, max: 12 }, threads: 2 });
    expect(steps(readLog(out))).toHaveLength(10);
    const settings = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect([settings.source_min, settings.source_max]).toEqual([8, 12]);
    const config = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8')) as { training: Record<string, unknown> };
    expect(config.training).toMatchObject({ examples: 20, examples_per_epoch: 20, source_min: 8, source_max: 12 });
    // Other limits are other settings: the run is not resumed with them.
    await expect(train({ data: [small, data], out, stages: ['pretrain'], config: CONFIG, resolveEncoder, epochs: 2, batch: 4, mix: { min: 4 }, resume: true, threads: 2 })).rejects.toThrow(/other settings \(source_min, source_max\)/);
  });

  it('stops while caching encoder features when asked, keeping what it encoded for --resume', async () => {
    const out = path.join(tmp(), 'run');
    const abort = new AbortController();
    const o: TrainOptions = { data: [data], val: [data], out, stages: ['pretrain'], config: CONFIG, resolveEncoder, batch: 4, threads: 2, signal: abort.signal };
    const firstEncodes: TrainEvent[] = [];
    const first = await train({ ...o, onEvent: (e) => e.type === 'encode' && (firstEncodes.push(e), abort.abort()) });
    expect(first).toEqual({ model: null, interrupted: true });
    expect(existsSync(path.join(out, 'log.jsonl'))).toBe(false);
    const encodes: TrainEvent[] = [];
    const second = await train({ ...o, signal: undefined, resume: true, onEvent: (e) => e.type === 'encode' && encodes.push(e) });
    expect(second.interrupted).toBe(false);
    // 20 crops (16 train, 4 val): the first chunk of 16 was cached before the stop; the resumed run encodes only
    // those of the other 4 whose content was not among them.
    expect(firstEncodes).toEqual([{ type: 'encode', done: 0, total: 20 }]);
    const last = encodes.at(-1) as Extract<TrainEvent, { type: 'encode' }>;
    expect(last.done).toBe(last.total);
    expect(last.total).toBeGreaterThan(0);
    expect(last.total).toBeLessThanOrEqual(4);
  });

  it('killed at any point and resumed, ends as the uninterrupted run does', async () => {
    const root = tmp();
    const cache = path.join(root, 'cache');
    const options = (out: string, onEvent?: (e: TrainEvent) => void): TrainOptions => ({
      data: [data],
      val: [data],
      valEvery: 2,
      out,
      cache,
      stages: ['pretrain', '1'],
      config: CONFIG,
      resolveEncoder,
      epochs: 3,
      maxSteps: 5,
      batch: 3,
      accum: 2,
      lr: 5e-3,
      checkpointEvery: 2,
      featureDropout: 0.2, // drawn per update: the resumed run must drop what the uninterrupted one did
      threads: 2,
      onEvent,
    });
    const whole = path.join(root, 'whole');
    await train(options(whole));

    // A child process training the same run is killed (SIGKILL) as soon as its first checkpoint exists — wherever
    // it then is — and the run is resumed here; killed again after update 5 of stage 1 (between its last update
    // and the end of the stage), and resumed to the end.
    const killed = path.join(root, 'killed');
    await killWhenCheckpointed(killed, options(killed));
    expect(existsSync(path.join(killed, 'model'))).toBe(false);
    const killAt = (stage: string, step: number) => (e: TrainEvent) => {
      if (e.type === 'step' && e.entry.stage === stage && e.entry.step === step) throw new Error('killed');
    };
    const encodes: TrainEvent[] = [];
    await expect(train({ ...options(killed, killAt('1', 5)), resume: true })).rejects.toThrow('killed');
    await train({ ...options(killed, (e) => e.type === 'encode' && encodes.push(e)), resume: true });
    expect(encodes).toEqual([]); // every feature came from the cache

    for (const file of ['model/model.safetensors', 'stage-pretrain/model.safetensors']) {
      expect(readFileSync(path.join(killed, file)).equals(readFileSync(path.join(whole, file)))).toBe(true);
    }
    const log = readLog(killed);
    expect(steps(log)).toHaveLength(10);
    expect(losses(log)).toEqual(losses(readLog(whole)));

    // A finished run resumed has nothing left to do; one started again without --resume is refused.
    expect(await train({ ...options(killed), resume: true })).toEqual({ model: path.join(killed, 'model'), interrupted: false });
    await expect(train(options(killed))).rejects.toThrow(/already holds a run/);
    await expect(train({ ...options(killed), seed: 1, resume: true })).rejects.toThrow(/other settings \(seed\)/);
    await expect(train({ ...options(killed), featureDropout: 0.3, resume: true })).rejects.toThrow(/other settings \(feature_dropout\)/);
    await expect(train({ ...options(path.join(root, 'bad')), featureDropout: 1 })).rejects.toThrow(/featureDropout must be in \[0, 1\)/);

    // The dropout is applied: without it the same run's first update sees other tokens, so another loss; the
    // validation loss reads the tokens whole, so before any update it is the same.
    const plain = path.join(root, 'plain');
    await train({ ...options(plain), featureDropout: undefined, maxSteps: 1, stages: ['pretrain'] });
    const [first, firstPlain] = [steps(readLog(whole))[0], steps(readLog(plain))[0]];
    expect(first.type === 'step' && firstPlain.type === 'step' && Math.abs(first.loss - firstPlain.loss)).toBeGreaterThan(1e-6);
  });
});

describe('the answer vocabulary (output_vocab)', () => {
  it("is every token the loss trained on, the end of sequence included, from the train split's records", async () => {
    const tokenizer = llamaTokenizer();
    const { ids, uses, answers } = await answerVocabulary([data], { config: parseFaceLlavaConfig(FACE_LLAVA), tokenizer });
    expect(answers).toBe(16); // every fifth of the 20 records is val
    const answerIds = ['happy: the lip corners are raised', 'sad: the lip corners are lowered'].flatMap((a) => tokenizer.encode(`The person looks ${a}.`, { bos: false }));
    expect(ids).toEqual([...new Set([...answerIds, tokenizer.eosId])].sort((a, b) => a - b));
    expect(uses.get(tokenizer.eosId)).toBe(16);
    expect(uses.get(tokenizer.encode('The person looks happy', { bos: false }).at(-1)!)).toBe(8);
  });
});

describe('standardized encoder tokens (standardize_tokens)', () => {
  const plain = { ...CONFIG, face_llava: { ...FACE_LLAVA, cross_attn: { cross_attn_type: 'none' } } } as const;
  const standardized = { ...plain, face_llava: { ...plain.face_llava, standardize_tokens: true } } as const;
  const load = (dir: string, name: string) => Array.from(openCheckpoint(path.join(dir, 'model')).load(name).data as Float32Array);

  it('from scratch: measures each channel over the training crops, then keeps the statistics frozen', async () => {
    const root = tmp();
    const out = path.join(root, 'run');
    const events: TrainEvent[] = [];
    await train({ data: [data], out, cache: path.join(root, 'cache'), stages: ['pretrain'], config: standardized, resolveEncoder, epochs: 2, batch: 4, lr: 1e-2, threads: 2, onEvent: (e) => events.push(e) });
    expect(events).toContainEqual({ type: 'info', message: 'standardize_tokens: channel statistics of 16 training crops' });
    // The crops are flat colours, so each of the 4 tokens of a crop is MIX·((rgb/255 − 0.5) / 0.5): the expected
    // statistics over the 16 training records (every fifth record is val), up to the JPEG's rounding.
    const tokens = Array.from({ length: 20 }, (_, k) => k)
      .filter((k) => k % 5 !== 4)
      .map((k) => {
        const tone = 20 + 10 * (k % 7);
        const rgb = (k % 2 === 0 ? [200 + tone, 150 + tone, 40] : [40, 60 + tone, 150 + tone]).map((v) => (v / 255 - 0.5) / 0.5);
        return [0, 1, 2, 3].map((c) => rgb.reduce((sum, v, i) => sum + (MIX.data as Float32Array)[c * 3 + i] * v, 0));
      });
    const mean = [0, 1, 2, 3].map((c) => tokens.reduce((sum, t) => sum + t[c], 0) / tokens.length);
    const std = [0, 1, 2, 3].map((c) => Math.sqrt(tokens.reduce((sum, t) => sum + (t[c] - mean[c]) ** 2, 0) / tokens.length));
    load(out, 'model.token_norm.mean').forEach((m, c) => expect(m).toBeCloseTo(mean[c], 1));
    load(out, 'model.token_norm.std').forEach((s, c) => expect(s).toBeCloseTo(std[c], 1));
    expect(Math.min(...std)).toBeGreaterThan(0.1); // so the check above tells σ from the fallback σ = 1

    // Trained on from that model, the statistics do not move, while the projector does.
    const next = path.join(root, 'next');
    await train({ data: [data], out: next, cache: path.join(root, 'cache'), stages: ['2'], init: path.join(out, 'model'), resolveEncoder, epochs: 1, batch: 4, lr: 1e-2, threads: 2 });
    for (const name of ['model.token_norm.mean', 'model.token_norm.std']) expect(load(next, name)).toEqual(load(out, name));
    expect(load(next, 'model.mm_projector.0.weight')).not.toEqual(load(out, 'model.mm_projector.0.weight'));
  });

  it('turned on in a trained model (standardizeModel), the model answers as before and trains on', async () => {
    const root = tmp();
    const first = path.join(root, 'first');
    await train({ data: [data], out: first, stages: ['pretrain'], config: plain, resolveEncoder, epochs: 1, batch: 4, lr: 1e-2, threads: 2 });
    const stats = { mean: f32([4], [0.3, -1.2, 0.05, 2]), std: f32([4], [0.01, 3.5, 0.4, 1]) };
    const std = await standardizeModel(path.join(first, 'model'), path.join(root, 'std'), stats, { encoder: resolveEncoder() });
    const random = mulberry32(9);
    const frames = f32([2, 3, 16, 16], Array.from({ length: 2 * 3 * 16 * 16 }, () => 2 * random() - 1));
    const [before, after] = [await loadPretrained(path.join(first, 'model'), { resolveEncoder }), await loadPretrained(std, { resolveEncoder })];
    try {
      expect(after.config.face_llava.standardize_tokens).toBe(true);
      const [a, b] = [await before.model.encodeMedia(frames), await after.model.encodeMedia(frames)];
      expect(relativeError(b.data as Float32Array, a.data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await before.dispose();
      await after.dispose();
    }
    await expect(standardizeModel(std, path.join(root, 'twice'), stats, { encoder: resolveEncoder() })).rejects.toThrow(/reads standardized tokens already/);

    const out = path.join(root, 'run');
    await train({ data: [data], out, stages: ['2'], init: std, resolveEncoder, epochs: 1, batch: 4, threads: 2 });
    expect(load(out, 'model.token_norm.std')).toEqual(Array.from(stats.std.data as Float32Array));
    const saved = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8')) as { training: Record<string, unknown>; standardized_from?: unknown };
    expect(saved.training).toMatchObject({ init: std, init_standardized: { model: path.join(first, 'model') } });
    expect(saved.standardized_from).toBeUndefined();
  });

  it('refuses a trained model that sets standardize_tokens without its statistics, before training', async () => {
    const root = tmp();
    const first = path.join(root, 'first');
    await train({ data: [data], out: first, stages: ['pretrain'], config: plain, resolveEncoder, epochs: 1, batch: 4, threads: 2 });
    const initConfig = path.join(first, 'model', 'config.json');
    const config = JSON.parse(readFileSync(initConfig, 'utf8')) as { face_llava: Record<string, unknown> };
    writeFileSync(initConfig, JSON.stringify({ ...config, face_llava: { ...config.face_llava, standardize_tokens: true } }));
    const out = path.join(root, 'run');
    await expect(train({ data: [data], out, stages: ['2'], init: path.join(first, 'model'), resolveEncoder, epochs: 1, batch: 4, threads: 2 })).rejects.toThrow(
      /sets standardize_tokens but has no model\.token_norm\.mean.*standardize-tokens/,
    );
    expect(existsSync(path.join(out, 'log.jsonl'))).toBe(false);
  });
});

describe('an encoder trained from a split (train_from)', () => {
  /** The test encoder cut in two: the frozen pooling as the prefix, a trainable 1×1 convolution `pool.tail` after it. */
  const TAIL = f32([4, 4, 1, 1], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  const prefix = { inputShape: [3, 16, 16], build: (x: Tensor) => ops.conv(ops.avgPool(x, { kernel: [8, 8] }), x.graph.constant(MIX, 'mix'), null) };
  const tail = (map: Tensor) => ops.relu(ops.conv(map, map.graph.param('pool.tail', 'float32', [4, 4, 1, 1]), null));
  const splitEncoder = (): ResolvedEncoder => ({
    network: { inputShape: [3, 16, 16], build: (x) => tail(prefix.build(x)) },
    split: { prefix, channels: 4, grid: 2, tail, initial: new Map([['pool.tail', TAIL]]) },
  });
  const config = { ...CONFIG, encoder: { kind: 'npm', package: 'test', model: 'pool', layer: 'pool', input_size: 16, train_from: 'pool' } } as const;

  it('trains the tail with the model from its shipped weights, stores it in the checkpoint, and loads it back', async () => {
    const out = path.join(tmp(), 'run');
    const events: TrainEvent[] = [];
    await train({ data: [data], out, stages: ['pretrain'], config, resolveEncoder: splitEncoder, epochs: 2, batch: 4, lr: 1e-2, threads: 2, onEvent: (e) => events.push(e) });
    const stage = events.find((e) => e.type === 'stage');
    const plain = modelParams(parseFaceLlavaConfig(FACE_LLAVA), resolveEncoder().network).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(stage?.type === 'stage' && stage.trainableParams).toBe(plain + 16);
    const tuned = openCheckpoint(path.join(out, 'model')).load('pool.tail');
    expect(Array.from(tuned.data as Float32Array)).not.toEqual(Array.from(TAIL.data as Float32Array));
    // Its first update moved it away from the identity it started at, not from a random start.
    expect(Math.max(...Array.from(tuned.data as Float32Array).map((v, i) => Math.abs(v - (TAIL.data as Float32Array)[i])))).toBeLessThan(0.5);
    const model = await loadPretrained(path.join(out, 'model'), { resolveEncoder: splitEncoder });
    try {
      expect(model.config.encoder).toMatchObject({ train_from: 'pool' });
    } finally {
      await model.dispose();
    }
    // The prefix ran once per training crop, before the first update; the tail runs in every step.
    expect(events.filter((e) => e.type === 'encode').at(-1)).toEqual({ type: 'encode', done: 16, total: 16 });
  });

  it('trains the tail at its own share of the learning rate (--encoder-lr-scale)', async () => {
    const tuned = async (encoderLrScale: number) => {
      const out = path.join(tmp(), 'run');
      await train({ data: [data], out, stages: ['pretrain'], config, resolveEncoder: splitEncoder, epochs: 1, batch: 4, lr: 1e-2, encoderLrScale, threads: 2 });
      const t = Array.from(openCheckpoint(path.join(out, 'model')).load('pool.tail').data as Float32Array);
      return Math.max(...t.map((v, i) => Math.abs(v - (TAIL.data as Float32Array)[i])));
    };
    const [still, slow, full] = [await tuned(1e-9), await tuned(0.1), await tuned(1)];
    expect(still).toBeLessThan(1e-6);
    expect(slow).toBeGreaterThan(1e-4);
    expect(full).toBeGreaterThan(3 * slow);
  });

  it('keeps the tail frozen in stage 1', async () => {
    const first = path.join(tmp(), 'first');
    await train({ data: [data], out: first, stages: ['pretrain'], config, resolveEncoder: splitEncoder, epochs: 1, batch: 4, lr: 1e-2, threads: 2 });
    // As if widen-encoder and then tune-network had made the init: their `widened_from` and `tuned_from` belong to the
    // init, in the new run's record. Its output vocabulary (scripts/output-vocab.ts) listed its own data's tokens,
    // which the new data may exceed.
    const initConfig = path.join(first, 'model', 'config.json');
    const widened = { widened_from: { model: 'narrow', channels: 8 }, tuned_from: { model: 'widened', network: 'emotion' }, output_vocab: [2, 5] };
    writeFileSync(initConfig, JSON.stringify({ ...JSON.parse(readFileSync(initConfig, 'utf8')), ...widened }));
    const out = path.join(tmp(), 'second');
    await train({ data: [data], out, stages: ['1'], init: path.join(first, 'model'), resolveEncoder: splitEncoder, epochs: 1, batch: 4, threads: 2 });
    const [a, b] = [first, out].map((dir) => openCheckpoint(path.join(dir, 'model')).load('pool.tail'));
    expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Float32Array));
    // The model says what it was trained from, and how that was trained.
    const saved = JSON.parse(readFileSync(path.join(out, 'model', 'config.json'), 'utf8')) as { training: Record<string, unknown>; widened_from?: unknown; tuned_from?: unknown; output_vocab?: unknown };
    expect(saved.training).toMatchObject({
      run: out,
      stages: ['1'],
      init: path.join(first, 'model'),
      init_training: { run: first, stages: ['pretrain'], lr: 1e-2 },
      init_widened: { model: 'narrow', channels: 8 },
      init_tuned: { model: 'widened', network: 'emotion' },
    });
    expect(saved.widened_from).toBeUndefined();
    expect(saved.tuned_from).toBeUndefined();
    expect(saved.output_vocab).toBeUndefined();
  });
});

/** A model directory with a (tiny) CLIP vision tower, whose weights a run keeps frozen, and the given cross-attention. */
async function clipModel(crossAttn: object) {
  const config = {
    ...CONFIG,
    face_llava: { ...FACE_LLAVA, cross_attn: crossAttn, vision: { type: 'clip_vit', image_size: 16, patch_size: 8, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16 } },
    preprocess: { image_size: 16 },
    encoder: { kind: 'clip_vit' },
    tasks: ['expression'],
  } as ModelDirConfigInput;
  const init = path.join(tmp(), 'init');
  const params = modelParams(parseFaceLlavaConfig(config.face_llava));
  await savePretrained(init, { config, weights: new Map(params.map((p) => [p.name, initialWeight(p.name, p.shape, 3)])) });
  return { init, params };
}

/** Runs `fn` with process.stdout and process.stderr captured (spies that print nothing), restored after. */
async function quietly(fn: (io: { stdout: MockInstance; stderr: MockInstance }) => Promise<void>): Promise<void> {
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await fn({ stdout, stderr });
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('face-llava train', () => {
  it('runs the paper\'s two stages on a model directory: stage 1 moves only FRLP and FRGCA', async () => {
    const { init, params } = await clipModel(FACE_LLAVA.cross_attn);

    const out = path.join(tmp(), 'run');
    await quietly(async ({ stdout, stderr }) => {
      const args = ['--data', data, '--out', out, '--init', init, '--stage', 'both', '--max-steps', '2', '--batch', '4', '--lr', '1e-2', '--threads', '2'];
      await buildProgram().parseAsync(['node', 'face-llava', 'train', ...args]);
      expect(stdout).toHaveBeenLastCalledWith(`${path.join(out, 'model')}\n`);
      // Resuming a finished run needs only its folder.
      await buildProgram().parseAsync(['node', 'face-llava', 'train', '--out', out, '--resume']);
      expect(stdout).toHaveBeenLastCalledWith(`${path.join(out, 'model')}\n`);
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(/stage 1 \(1\/2\): face-region pre-training: 2 updates over 16 examples/);
    });

    const [before, afterStage1, after] = [init, path.join(out, 'stage-1'), path.join(out, 'model')].map((dir) => openCheckpoint(dir));
    const bytes = (dir: typeof before, name: string) => {
      const { data } = dir.load(name);
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    };
    const same = (a: typeof before, b: typeof before, name: string) => bytes(a, name).equals(bytes(b, name));
    for (const { name } of params) {
      const module = name.startsWith('vision_model.') ? 'encoder' : moduleOf(name);
      expect([name, same(before, afterStage1, name)]).toEqual([name, module !== 'landmarks']);
      if (module === 'encoder') expect(same(before, after, name)).toBe(true);
    }
    expect(same(before, after, 'model.layers.0.mlp.up_proj.weight')).toBe(false);
    expect(same(before, after, 'model.mm_projector.0.weight')).toBe(false);
  });
});

describe('face-llava train --feature-dropout', () => {
  it('records the share in run.json, which --resume reads back, and refuses 1', async () => {
    const { init } = await clipModel({ cross_attn_type: 'none' });
    const out = path.join(tmp(), 'run');
    await quietly(async ({ stdout }) => {
      const args = ['--data', data, '--out', out, '--init', init, '--max-steps', '1', '--batch', '4', '--threads', '2', '--feature-dropout', '0.3'];
      await buildProgram().parseAsync(['node', 'face-llava', 'train', ...args]);
      expect(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).feature_dropout).toBe(0.3);
      await buildProgram().parseAsync(['node', 'face-llava', 'train', '--out', out, '--resume']); // the stored share matches
      expect(stdout).toHaveBeenLastCalledWith(`${path.join(out, 'model')}\n`);
      const refused = trainCommand().exitOverride().configureOutput({ writeErr: () => undefined });
      await expect(refused.parseAsync(['--data', data, '--out', path.join(tmp(), 'x'), '--feature-dropout', '1'], { from: 'user' })).rejects.toThrow(
        /--feature-dropout <p>' argument '1' is invalid/,
      );
    });
  });
});

describe('face-llava train without --stage', () => {
  it('trains the paper\'s stage 2 alone on a model without a landmark branch (stage 1 would train nothing)', async () => {
    const { init } = await clipModel({ cross_attn_type: 'none' });
    const out = path.join(tmp(), 'run');
    await quietly(async ({ stdout, stderr }) => {
      await buildProgram().parseAsync(['node', 'face-llava', 'train', '--data', data, '--out', out, '--init', init, '--max-steps', '1', '--batch', '4', '--threads', '2']);
      expect(stdout).toHaveBeenLastCalledWith(`${path.join(out, 'model')}\n`);
      const progress = stderr.mock.calls.map(([text]) => String(text)).join('');
      expect(progress).toMatch(/stage 2 \(1\/1\): fine-tuning/);
      expect(progress).not.toMatch(/stage 1/);
    });
  });
});

/**
 * Starts `options` in a child process and kills it with SIGKILL once its first checkpoint is on disk. The child
 * builds the test encoder itself (functions do not cross processes).
 */
async function killWhenCheckpointed(out: string, options: TrainOptions): Promise<void> {
  const { resolveEncoder: _, onEvent: __, ...plain } = options;
  const script = path.join(tmp(), 'child.mts');
  writeFileSync(
    script,
    [
      `import { f32 } from ${JSON.stringify(path.join(REPO, 'src/graph/host.ts'))};`,
      `import * as ops from ${JSON.stringify(path.join(REPO, 'src/graph/ops.ts'))};`,
      `import { train } from ${JSON.stringify(path.join(REPO, 'src/train/trainer.ts'))};`,
      `const mix = f32(${JSON.stringify(MIX.shape)}, ${JSON.stringify(Array.from(MIX.data as Float32Array))});`,
      `const network = { inputShape: [3, 16, 16], build: (x) => ops.conv(ops.avgPool(x, { kernel: [8, 8] }), x.graph.constant(mix, 'mix'), null) };`,
      `await train({ ...${JSON.stringify(plain)}, resolveEncoder: () => ({ network }) });`,
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const checkpoint = path.join(out, 'checkpoint', 'state.json');
  while (!existsSync(checkpoint)) {
    if (child.exitCode !== null) throw new Error(`the child exited (${child.exitCode}) before its first checkpoint: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  await exited;
}
