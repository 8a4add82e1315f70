// Golden cases from ../shared/golden: `<case>.json` (config and tensor descriptions) and `<case>.safetensors`
// (weights under checkpoint names, plus `input.*` and `output.*`).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { HostTensor } from '../../src/graph/host.js';
import { openSafetensors } from '../../src/graph/safetensors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const GOLDEN_DIR = path.resolve(repoRoot, '../shared/golden');

const CaseJsonSchema = z.object({
  case: z.string(),
  config: z.record(z.string(), z.unknown()),
  tensors: z.record(z.string(), z.string()),
});

export interface GoldenCase {
  readonly name: string;
  readonly config: Record<string, unknown>;
  /** What each described tensor means, by full tensor name (e.g. `output.logits`). */
  readonly description: Record<string, string>;
  /** Every tensor of the case, by full name. */
  readonly tensors: Map<string, HostTensor>;
}

/** The names of the cases present (`frgca`, `llama`, …). */
export function goldenCaseNames(): string[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .sort();
}

export function loadGolden(caseName: string): GoldenCase {
  const jsonPath = path.join(GOLDEN_DIR, `${caseName}.json`);
  const json = CaseJsonSchema.parse(JSON.parse(readFileSync(jsonPath, 'utf8')));
  const tensors = openSafetensors(path.join(GOLDEN_DIR, `${caseName}.safetensors`)).loadAll();
  return { name: caseName, config: json.config, description: json.tensors, tensors };
}

/** The weights: every tensor that is neither an `input.` nor an `output.`, under its checkpoint name. */
export function weightsOf(g: GoldenCase): Map<string, HostTensor> {
  return new Map([...g.tensors].filter(([name]) => !name.startsWith('input.') && !name.startsWith('output.')));
}

/** The `input.*` tensors, keyed without the prefix (`input.landmarks` → `landmarks`). */
export function inputsOf(g: GoldenCase): Map<string, HostTensor> {
  return withPrefix(g, 'input.');
}

/** The `output.*` tensors, keyed without the prefix (`output.logits` → `logits`). */
export function outputsOf(g: GoldenCase): Map<string, HostTensor> {
  return withPrefix(g, 'output.');
}

function withPrefix(g: GoldenCase, prefix: string): Map<string, HostTensor> {
  return new Map(
    [...g.tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]),
  );
}
