// Synthetic FaceInstruct records, a tiny model to train on them, and run-log reading shared by the training tests.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { f32 } from '../../src/graph/host.js';
import * as ops from '../../src/graph/ops.js';
import type { ModelDirConfigInput, ResolvedEncoder } from '../../src/model/pretrained.js';
import type { LogEntry } from '../../src/train/log.js';

/** 3 → 4 channels, applied to 8×8 averages of a 16×16 frame: a 2×2 grid of tokens, 4 channels each. */
export const MIX = f32([4, 3, 1, 1], [0.9, -0.4, 0.3, 0.2, 0.8, -0.5, -0.6, 0.1, 0.7, 0.5, 0.5, 0.5]);

/** Average pooling then a 1×1 convolution (MIX): it reads a face and its mirror alike, cell for mirrored cell. */
export const poolingEncoder = (): ResolvedEncoder => ({
  network: { inputShape: [3, 16, 16], build: (x) => ops.conv(ops.avgPool(x, { kernel: [8, 8] }), x.graph.constant(MIX, 'mix'), null) },
});

/** A model small enough to train in seconds, behind a 16 px `npm` encoder (poolingEncoder or another 2×2×4 one). */
export const TINY_MODEL_CONFIG: Omit<ModelDirConfigInput, 'tasks'> = {
  face_llava: {
    vision: { type: 'feature_map', channels: 4, grid: 2 },
    cross_attn: { cross_attn_type: 'none' },
    llm: { vocab_size: 32000, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, tie_word_embeddings: true, max_position_embeddings: 128 },
  },
  preprocess: { image_size: 16, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], crop: 'none' },
  encoder: { kind: 'npm', package: 'test', model: 'pool', layer: 'pool', input_size: 16 },
};

/** 68 landmarks on a circle: records need them, the models here do not read them. */
export const LANDMARKS = Array.from({ length: 68 }, (_, i) => [0.5 + 0.3 * Math.cos(i / 10.8), 0.5 + 0.3 * Math.sin(i / 10.8)]);

/**
 * Record k of a synthetic two-class expression folder: `happy` or `sad`, answered with `answer`; every fifth
 * record is `val`.
 */
function expressionRecord(k: number, o: { image: string; happy: boolean; answer: string; landmarks: number[][] }): string {
  return JSON.stringify({
    id: `s${k}`,
    image: o.image,
    conversations: [
      { from: 'human', value: '<image>\nWhat emotion does this face show?' },
      { from: 'gpt', value: o.answer },
    ],
    landmarks_2d: o.landmarks,
    task: 'expression',
    label: o.happy ? 'happy' : 'sad',
    source: 'synthetic',
    split: k % 5 === 4 ? 'val' : 'train',
    subject: null,
  });
}

/**
 * A new folder of n synthetic expression records (record k is `happy` when k is even), each with the image `make`
 * writes into `<dir>/media/` and the answer and landmarks it gives.
 */
export async function expressionFolder(
  n: number,
  make: (k: number, happy: boolean, media: string) => Promise<{ image: string; answer: string; landmarks: number[][] }>,
): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'face-llava-data-'));
  mkdirSync(path.join(dir, 'media'));
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    const happy = k % 2 === 0;
    const { image, answer, landmarks } = await make(k, happy, path.join(dir, 'media'));
    lines.push(expressionRecord(k, { image: `media/${image}`, happy, answer, landmarks }));
  }
  writeFileSync(path.join(dir, 'shard-00000.jsonl'), lines.join('\n') + '\n');
  return dir;
}

/** The entries of a run folder's log.jsonl. */
export const readLog = (run: string): LogEntry[] =>
  readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogEntry);
