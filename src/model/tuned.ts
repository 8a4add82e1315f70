// A model whose npm encoder holds a fine-tuned network (scripts/tune-network.ts): the network's entry in the
// encoder spec gets `"tuned": true`, and its weights join the model's checkpoint under the names the package's
// carry, so loading reads them from there (src/model/vision/npm-encoder.ts). Only the encoder changes: the
// projector still reads the channels as it learned them from the untuned network, so the result is a starting
// point for `train --init`, which caches the new tokens and trains the model to read them.
import { resolve } from 'node:path';
import type { HostTensor } from '../graph/host.js';
import { openCheckpoint } from '../graph/safetensors.js';
import { readModelDirConfig, savePretrained, type NpmEncoderSpec } from './pretrained.js';
import type { NetworkRef } from './vision/npm-encoder.js';

/** The entry of an npm encoder spec (the spec itself or one of its `concat`) for the network named `network`. */
export function encoderEntry(encoder: NpmEncoderSpec, network: string): NetworkRef | undefined {
  const spec = encoder as NpmEncoderSpec & NetworkRef & { concat?: NetworkRef[] };
  return [spec, ...(spec.concat ?? [])].find((r) => r.model === network);
}

export interface TunedOptions {
  /** Store the weights as float16 or bfloat16. */
  readonly dtype?: 'float16' | 'bfloat16';
}

/**
 * Writes to `to` the model of `from` with `network` (a `model` name of its encoder spec or of a `concat` entry)
 * tuned: its weights are `weights` (all of the network's map, none of its head), `record` is kept as the config's
 * `tuned_from`. No model card, since the card of `from` does not describe the result.
 */
export async function saveTunedModel(
  from: string,
  to: string,
  network: string,
  weights: ReadonlyMap<string, HostTensor>,
  record: Record<string, unknown>,
  options: TunedOptions = {},
): Promise<string> {
  const source = resolve(from);
  const config = await readModelDirConfig(source);
  if (config.encoder.kind !== 'npm') throw new Error(`tune: ${source} has no npm encoder`);
  const encoder = structuredClone(config.encoder) as NpmEncoderSpec;
  const entry = encoderEntry(encoder, network);
  if (!entry) throw new Error(`tune: ${source}'s encoder has no network ${network}`);
  entry.tuned = true;
  const all = openCheckpoint(source).loadAll({ toFloat32: true });
  for (const [name, value] of weights) all.set(name, value);
  // savePretrained checks that the weights fit the config exactly: a tensor of the network missing here, or one of
  // its head, is an error rather than a model that loads the package's weights for part of the network.
  return savePretrained(to, { config: { ...config, encoder, tuned_from: { model: source, network, ...record } }, weights: all, dtype: options.dtype });
}

/** The model's own weights of `network` when its entry is already tuned (the names in `names`), else none. */
export async function tunedWeights(dir: string, network: string, names: Iterable<string>): Promise<Map<string, HostTensor>> {
  const root = resolve(dir);
  const config = await readModelDirConfig(root);
  if (!encoderEntry(config.encoder as NpmEncoderSpec, network)?.tuned) return new Map();
  const checkpoint = openCheckpoint(root);
  return new Map([...names].filter((n) => checkpoint.tensors.has(n)).map((n) => [n, checkpoint.load(n, { toFloat32: true })]));
}
