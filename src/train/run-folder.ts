// The run folder and run.json, the settings that decide a run's result. A run is continued only with the same
// settings (same data, bit for bit), so that a resumed run ends where the uninterrupted one would have.
//
//   <run>/run.json           these settings
//   <run>/log.jsonl          one line per update and per validation (log.ts)
//   <run>/loss.svg           the loss curve (chart.ts), redrawn at every checkpoint and at the end
//   <run>/checkpoint/        the last checkpoint (checkpoint.ts)
//   <run>/stage-<name>/      the model after each stage but the last (a model directory)
//   <run>/model/             the trained model (a model directory, see model/pretrained.ts)
//   <run>/cache/             encoder features (features.ts), unless --cache puts them elsewhere
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { join } from 'node:path';
import { type JsonlFile, readJsonl } from './data.js';

export const RUN_FORMAT = 'face-llava-run/1';

export const runPaths = (dir: string) => ({
  settings: join(dir, 'run.json'),
  log: join(dir, 'log.jsonl'),
  chart: join(dir, 'loss.svg'),
  model: join(dir, 'model'),
  stage: (name: string) => join(dir, `stage-${name}`),
  cache: join(dir, 'cache'),
});

export interface RunSettings {
  format: typeof RUN_FORMAT;
  /** The data and validation files or folders, as given. */
  data: string[];
  /** SHA-256 over the data files' records, in order (a build still being written must not have grown since). */
  data_sha256: string;
  val: string[];
  val_sha256: string | null;
  stages: string[];
  init: string | null;
  /** The model directory config the run trains (and writes into its model directories). */
  config: unknown;
  epochs: number;
  batch: number;
  accum: number;
  lr: number | null;
  max_steps: number | null;
  seed: number;
  val_every: number | null;
  /** Per-source mixing limits (mixing.ts); null: none. */
  source_min: number | null;
  source_max: number | null;
  /** Each single-label source's quota spread equally over its labels (mixing.ts); null: off. */
  balance_labels: true | null;
  /** The split encoder tail's share of the learning rate; null: the default (stages.ts ENCODER_LR_SCALE). */
  encoder_lr_scale: number | null;
  /** Times each answer's first sentence counts in the loss; null: once, like every token. */
  lead_weight: number | null;
  /** The share of the encoder's tokens dropped in training (collate.ts dropFeatures); null: none. */
  feature_dropout: number | null;
  /** Training examples read mirrored views of their crops at even odds (collate.ts); null: never. */
  mirror_views: true | null;
}

export async function filesSha256(files: readonly JsonlFile[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) hash.update(await readJsonl(file));
  return hash.digest('hex');
}

/** The settings a run was started with, or null when `dir` holds no run. */
export async function readRunSettings(dir: string): Promise<RunSettings | null> {
  const path = runPaths(dir).settings;
  if (!existsSync(path)) return null;
  const settings = JSON.parse(await readFile(path, 'utf8')) as RunSettings;
  if (settings.format !== RUN_FORMAT) throw new Error(`${path}: not a ${RUN_FORMAT} run`);
  return settings;
}

/**
 * Records the settings of a new run, or checks that a resumed run has the settings it was started with. A
 * folder that already holds a run is continued only when `resume` is set.
 */
export async function claimRunFolder(dir: string, settings: RunSettings, resume: boolean): Promise<void> {
  const path = runPaths(dir).settings;
  if (!existsSync(path)) {
    await writeFileAtomic(path, JSON.stringify(settings, null, 2) + '\n');
    return;
  }
  if (!resume) throw new Error(`${dir} already holds a run: --resume continues it, or choose another --out`);
  const stored = (await readRunSettings(dir)) as unknown as Record<string, unknown>;
  // A setting added after the run began is missing from its run.json: null, its "off", matches it.
  const differ = Object.keys(settings).filter((k) => JSON.stringify(stored[k] ?? null) !== JSON.stringify(settings[k as keyof RunSettings]));
  if (differ.length) throw new Error(`${dir} was started with other settings (${differ.join(', ')}): resume it with the settings in ${path}`);
}
