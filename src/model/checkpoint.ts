// Binding checkpoint tensors to the parameters built graphs declare. Sources are safetensors checkpoints
// (single or sharded, read lazily: only declared tensors are loaded) or tensors already in memory; a model may
// draw on several (the released Face-LLaVA keeps its vision tower apart from the LLM checkpoint). Names must
// match exactly; float16 and bfloat16 tensors become the float32 the graphs declare.
import type { DType } from '../graph/dtype.js';
import type { Graph } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import { decodeBfloat16, decodeFloat16 } from '../graph/safetensors.js';

/** What a graph expects of one weight. */
export interface ParamSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Anything that lists tensors and loads them by name (a safetensors `Checkpoint` is one). */
export interface WeightSource {
  readonly tensors: ReadonlyMap<string, { readonly dtype: DType; readonly shape: readonly number[] }>;
  load(name: string): HostTensor;
}

/** Tensors in memory as a weight source. */
export function tensorSource(tensors: ReadonlyMap<string, HostTensor>): WeightSource {
  return {
    tensors,
    load(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`no tensor "${name}"`);
      return t;
    },
  };
}

/** The parameters of one or more graphs (sharing weights by name), each declared with one dtype and shape. */
export function declaredParams(...graphs: Graph[]): ParamSpec[] {
  const byName = new Map<string, ParamSpec>();
  for (const g of graphs) {
    for (const p of g.params) {
      const spec = { name: p.name, dtype: p.dtype, shape: p.shape as readonly number[] };
      const seen = byName.get(p.name);
      if (seen && (seen.dtype !== spec.dtype || !sameShape(seen.shape, spec.shape))) {
        throw new Error(`parameter ${p.name} is declared as ${describe(seen)} and as ${describe(spec)}`);
      }
      byName.set(p.name, spec);
    }
  }
  return [...byName.values()];
}

export interface LoadReport {
  /** Declared parameters that no source holds. */
  readonly missing: readonly string[];
  /** Source tensors that nothing declares and that were not listed as knowingly unused. */
  readonly unexpected: readonly string[];
  /** Source tensors listed as knowingly unused (e.g. ViT blocks after the selected layer), not loaded. */
  readonly unused: readonly string[];
}

export interface BindOptions {
  /** Throw on missing or unexpected keys (default); when false they are only reported. */
  readonly strict?: boolean;
  /** Checkpoint keys the model knowingly does not read. */
  readonly unused?: Iterable<string>;
}

export class CheckpointMismatchError extends Error {
  override name = 'CheckpointMismatchError';
  constructor(readonly report: LoadReport) {
    const parts = [];
    if (report.missing.length) parts.push(`missing ${report.missing.length}: ${listing(report.missing)}`);
    if (report.unexpected.length) parts.push(`unexpected ${report.unexpected.length}: ${listing(report.unexpected)}`);
    super(`checkpoint does not match the model: ${parts.join('; ')}`);
  }
}

/**
 * Load the tensors for `params` from `sources`. Shape or dtype mismatches always throw (listing every one);
 * missing and unexpected keys throw a CheckpointMismatchError unless `strict` is false.
 */
export function loadWeights(
  params: readonly ParamSpec[],
  sources: WeightSource | readonly WeightSource[],
  options: BindOptions = {},
): { weights: Map<string, HostTensor>; report: LoadReport } {
  const located = locate(Array.isArray(sources) ? sources : [sources as WeightSource]);
  const declared = new Set(params.map((p) => p.name));
  const knownUnused = new Set(options.unused);
  const names = [...located.keys()];
  const report: LoadReport = {
    missing: params.filter((p) => !located.has(p.name)).map((p) => p.name),
    unexpected: names.filter((n) => !declared.has(n) && !knownUnused.has(n)),
    unused: names.filter((n) => !declared.has(n) && knownUnused.has(n)),
  };

  const problems: string[] = [];
  for (const p of params) {
    const info = located.get(p.name)?.tensors.get(p.name);
    if (info && (!sameShape(info.shape, p.shape) || !convertible(info.dtype, p.dtype))) {
      problems.push(`${p.name}: the model declares ${describe(p)}, the checkpoint holds ${describe(info)}`);
    }
  }
  if (problems.length) throw new Error(`checkpoint tensors do not fit the model:\n  ${problems.join('\n  ')}`);
  if ((options.strict ?? true) && (report.missing.length || report.unexpected.length)) throw new CheckpointMismatchError(report);

  const weights = new Map<string, HostTensor>();
  for (const p of params) {
    const source = located.get(p.name);
    if (source) weights.set(p.name, toDtype(source.load(p.name), p.dtype));
  }
  return { weights, report };
}

/** Which source holds each name; a name in two sources is ambiguous. */
function locate(sources: readonly WeightSource[]): Map<string, WeightSource> {
  const located = new Map<string, WeightSource>();
  for (const s of sources) {
    for (const name of s.tensors.keys()) {
      if (located.has(name)) throw new Error(`checkpoint tensor "${name}" is in more than one source`);
      located.set(name, s);
    }
  }
  return located;
}

function convertible(from: DType, to: DType): boolean {
  return from === to || (to === 'float32' && (from === 'float16' || from === 'bfloat16'));
}

function toDtype(t: HostTensor, dtype: DType): HostTensor {
  if (t.dtype === dtype) return t;
  const data = t.dtype === 'float16' ? decodeFloat16(t.data as Uint16Array) : decodeBfloat16(t.data as Uint16Array);
  return { dtype: 'float32', shape: t.shape, data };
}

function sameShape(a: readonly (number | string)[], b: readonly (number | string)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describe(t: { dtype: DType; shape: readonly (number | string)[] }): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

/** The first names of a list, so a wholly wrong checkpoint gives a readable message (all are in the report). */
function listing(names: readonly string[], shown = 20): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head}, … (${names.length - shown} more)` : head;
}
