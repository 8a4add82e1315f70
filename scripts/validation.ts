// The model card's validation protocol, shared by scripts/validate.ts (the model card's table) and
// scripts/ablation.ts (the same evals on smaller fixed samples): which `face-llava eval` runs score a model, and
// how one is run and read back. Every run is resumable: its metrics.json is kept beside it and not recomputed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Task } from '../src/data/build/types.js';
import type { EvalMetrics } from '../src/eval/report.js';

const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'face-llava.js');

export interface ValidationRun {
  /** File-name-safe key of the run. */
  readonly name: string;
  readonly task: Task;
  /** `face-llava eval` arguments besides --model, --split val, --json, --out and --threads. */
  readonly args: readonly string[];
  /** The headline metric's key in metrics.json. */
  readonly metric: 'war' | 'mean_f1' | 'mean_accuracy' | 'mae' | 'accuracy';
  readonly label: string;
}

const run = (name: string, task: Task, pack: string, extra: string[], metric: ValidationRun['metric'], label: string): ValidationRun => ({
  name,
  task,
  args: ['--pack', pack, '--task', task, ...extra],
  metric,
  label,
});

/**
 * The model card's evals: every pack's validation split (CK+: the 20 % of subjects the build's `--val-fraction 0.2`
 * kept out), FER2013 and UTKFace on the same fixed hash sample of 1,500 images for every model.
 */
export const MODEL_CARD_RUNS: readonly ValidationRun[] = [
  run('fer2013', 'expression', 'fer2013', ['--limit', '1500'], 'war', 'FER2013 WAR ↑'),
  run('ckplus-expr', 'expression', 'ckplus', ['--val-fraction', '0.2'], 'war', 'CK+ expr. WAR ↑'),
  run('ckplus-au', 'au', 'ckplus', ['--val-fraction', '0.2'], 'mean_f1', 'CK+ AU F1 ↑'),
  run('celeba', 'attributes', 'celeba', [], 'mean_accuracy', 'CelebA mAcc ↑'),
  run('utkface', 'age', 'utkface', ['--limit', '1500'], 'mae', 'UTKFace MAE ↓'),
  run('realorfake', 'deepfake', 'realorfake', [], 'accuracy', 'real/fake acc. ↑'),
];

/** The same runs with `--limit n` for the named ones (smaller fixed samples where a study needs many models). */
export function withLimits(runs: readonly ValidationRun[], limits: Readonly<Record<string, number>>): ValidationRun[] {
  return runs.map((r) => {
    const limit = limits[r.name];
    if (limit === undefined) return r;
    const args = [...r.args];
    const at = args.indexOf('--limit');
    if (at >= 0) args.splice(at, 2);
    return { ...r, args: [...args, '--limit', String(limit)] };
  });
}

/** The same run with faces framed by `--crop` (detect: as in training; whole: the pack image as it is). */
export const withCrop = (r: ValidationRun, crop: 'detect' | 'whole'): ValidationRun =>
  crop === 'detect' ? r : { ...r, args: [...r.args, '--crop', crop] };

/** The sample a run scores, as the model card names it: its --limit or --val-fraction, else "all". */
export const sampleOf = (r: ValidationRun): string => r.args.slice(4).join(' ') || 'all';

/** Runs the CLI from dist/ (npm run build first); resolves with its stdout when captured. */
export function runCli(args: readonly string[], captureStdout = false): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', captureStdout ? 'pipe' : 'inherit', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      if (code === 0) done(stdout);
      else fail(new Error(`face-llava ${args.slice(0, 3).join(' ')} … ended with ${signal ?? code}`));
    });
  });
}

/**
 * Scores `model` with one run (eval `options` added to the run's): `<dir>/<name>.json` holds its metrics.json
 * (reused when present), `<dir>/<name>/` the eval's report and predictions.
 */
export async function validate(model: string, r: ValidationRun, dir: string, threads: string, options: readonly string[] = []): Promise<EvalMetrics> {
  const file = join(dir, `${r.name}.json`);
  if (!existsSync(file)) {
    const args = ['eval', '--model', model, ...r.args, ...options, '--split', 'val', '--json', '--threads', threads, '--out', join(dir, r.name)];
    await writeFile(file, await runCli(args, true));
  }
  return JSON.parse(await readFile(file, 'utf8')) as EvalMetrics;
}
