// Weight averaging of fine-tuned models ("model soups", Wortsman et al. 2022): models trained from one starting
// point sit in one basin of the loss, and the weighted mean of their weights, θ = Σᵢ wᵢ·θᵢ / Σᵢ wᵢ, is often
// better than any of them — one model, so it answers at the cost of one. Only models that compute the same
// function of their weights may be averaged: the same config (but the training record), the same tensors.
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { openCheckpoint } from '../graph/safetensors.js';
import { hostTensor, type HostTensor } from '../graph/host.js';
import { type ModelDirConfig, readModelDirConfig, type ResolvedEncoder, savePretrained } from './pretrained.js';
import { TOKEN_NORM_MEAN, TOKEN_NORM_STD } from './token-norm.js';

/** What a model's config records of how it was made: these may differ between the models averaged. */
const RECORD_KEYS = new Set(['training', 'widened_from', 'standardized_from', 'tuned_from', 'averaged_from']);

/** Weights that are measured, not learned: they must agree, since the learned weights were fitted to them. */
const FROZEN_STATISTICS = new Set([TOKEN_NORM_MEAN, TOKEN_NORM_STD]);

/** Tensors copied rather than averaged, which must then agree: frozen statistics, and any that are not float. */
const isKept = (name: string, t: HostTensor) => FROZEN_STATISTICS.has(name) || t.dtype !== 'float32';

export interface AverageOptions {
  /** Each model's share, in the order of `from` (default equal); positive, normalized to sum 1. */
  readonly weights?: readonly number[];
  readonly dtype?: 'float16' | 'bfloat16';
  /** The models' npm encoder, resolved (needed for one outside the registry). */
  readonly encoder?: ResolvedEncoder;
}

/** The config without its records: what the models averaged must share. */
function comparable(config: ModelDirConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !RECORD_KEYS.has(k)));
}

/** The config's records alone (training, widened_from, …), kept per source in the result's `averaged_from`. */
function records(config: ModelDirConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k, v]) => RECORD_KEYS.has(k) && v !== undefined));
}

/**
 * Writes to `to` the weighted mean of the models in `from`. The config is the one they share, with
 * `averaged_from` listing each model, its share and its records (training, widened_from, …). No model card: no source card
 * describes the result. Errors: fewer than two models, shares that are not positive numbers, configs that differ
 * beyond their records, tensors missing from one model or differing in shape, frozen statistics that differ.
 */
export async function averageModels(from: readonly string[], to: string, options: AverageOptions = {}): Promise<string> {
  if (from.length < 2) throw new Error(`average: needs two models or more, got ${from.length}`);
  const shares = options.weights ?? from.map(() => 1);
  if (shares.length !== from.length) throw new Error(`average: ${shares.length} weights for ${from.length} models`);
  const bad = shares.find((w) => !Number.isFinite(w) || w <= 0);
  if (bad !== undefined) throw new Error(`average: each model's weight must be a positive number, not ${bad}`);
  const total = shares.reduce((s, w) => s + w, 0);
  const dirs = from.map((d) => resolve(d));
  const configs = await Promise.all(dirs.map((d) => readModelDirConfig(d)));
  configs.forEach((c, i) => {
    if (i > 0 && !isDeepStrictEqual(comparable(c), comparable(configs[0]))) {
      const keys = Object.keys({ ...comparable(c), ...comparable(configs[0]) }).filter((k) => !isDeepStrictEqual(comparable(c)[k], comparable(configs[0])[k]));
      throw new Error(`average: ${dirs[i]} differs from ${dirs[0]} in ${keys.join(', ')}: only models of one configuration can be averaged`);
    }
  });

  let sum: Map<string, HostTensor> | undefined;
  for (const [i, dir] of dirs.entries()) {
    const weights = openCheckpoint(dir).loadAll({ toFloat32: true });
    const share = shares[i] / total;
    if (!sum) {
      sum = new Map([...weights].map(([name, t]) => [name, isKept(name, t) ? t : scaled(t, share)]));
      continue;
    }
    for (const name of sum.keys()) if (!weights.has(name)) throw new Error(`average: ${dir} has no ${name}, which ${dirs[0]} has`);
    for (const [name, t] of weights) {
      const acc = sum.get(name);
      if (!acc) throw new Error(`average: ${dir} has ${name}, which ${dirs[0]} has not`);
      if (!isDeepStrictEqual(acc.shape, t.shape)) throw new Error(`average: ${name} is [${t.shape.join(', ')}] in ${dir} but [${acc.shape.join(', ')}] in ${dirs[0]}`);
      const a = acc.data as Float32Array;
      const b = t.data as Float32Array;
      if (isKept(name, t) || isKept(name, acc)) {
        if (acc.dtype !== t.dtype || !acc.data.every((v, j) => v === t.data[j])) throw new Error(`average: ${name} (not a learned float weight) differs between ${dirs[0]} and ${dir}`);
        continue;
      }
      for (let j = 0; j < a.length; j++) a[j] += share * b[j];
    }
  }
  return savePretrained(to, {
    config: {
      ...(comparable(configs[0]) as ModelDirConfig),
      averaged_from: dirs.map((model, i) => ({ model, weight: shares[i] / total, ...records(configs[i]) })),
    },
    weights: sum!,
    dtype: options.dtype,
    encoder: options.encoder,
  });
}

function scaled(t: HostTensor, by: number): HostTensor {
  const data = Float32Array.from(t.data as Float32Array, (v) => v * by);
  return hostTensor('float32', t.shape, data);
}
