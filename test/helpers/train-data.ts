// Synthetic FaceInstruct records and run-log reading shared by the training-run tests.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogEntry } from '../../src/train/log.js';

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
