// TensorFlow.js model files: `model.json` (a graph model's GraphDef, or a layers model's Keras config) plus the
// weight shards its manifest names. Weights are decoded to float32/int32 host tensors here, dequantizing the
// converter's uint8/uint16 affine quantization (`q · scale + min`) and its float16 storage exactly as tfjs does.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hostTensor, type HostTensor } from '../host.js';
import { decodeFloat16 } from '../safetensors.js';

/** Error raised while a TF.js model is read or rebuilt, naming the node and op at fault. */
export class TfjsImportError extends Error {
  override name = 'TfjsImportError';
}

// ---- the JSON formats (the subset this importer reads) ----

/** A TF AttrValue as the converter writes it to JSON (proto3 JSON mapping: int64 as strings, bytes as base64). */
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  tensor?: { dtype?: string; tensorShape?: { dim?: { size?: string | number }[] } };
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
}

/** A GraphDef node. `input` entries are `name`, `name:k` (k-th output) or `^name` (a control dependency). */
export interface TfNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
  device?: string;
}

export interface TfWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number; original_dtype?: string };
}

export interface TfWeightsGroup {
  paths: string[];
  weights: TfWeightSpec[];
}

export interface TfSignatureEntry {
  name: string;
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[] };
}

/** A model held in memory, in the shape of tfjs' `ModelArtifacts` (so tfjs can load the same object). */
export interface TfjsArtifacts {
  format: 'graph-model' | 'layers-model';
  /** Graph model: `{ node: TfNodeDef[], library?, versions? }`. Layers model: a Keras model config. */
  modelTopology: Record<string, unknown>;
  weightSpecs: TfWeightSpec[];
  weightData: Uint8Array;
  signature?: { inputs?: Record<string, TfSignatureEntry>; outputs?: Record<string, TfSignatureEntry> };
  userDefinedMetadata?: Record<string, unknown>;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** Reads a `model.json` and the weight files its manifest lists (paths relative to the JSON's folder). */
export async function readTfjsModel(modelJsonPath: string): Promise<TfjsArtifacts> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as {
    format?: string;
    modelTopology?: Record<string, unknown>;
    weightsManifest?: TfWeightsGroup[];
    signature?: TfjsArtifacts['signature'];
    userDefinedMetadata?: Record<string, unknown>;
    generatedBy?: string;
    convertedBy?: string | null;
  };
  if (!json.modelTopology) throw new TfjsImportError(`${modelJsonPath}: no modelTopology (is this a TF.js model.json?)`);
  const topology = json.modelTopology;
  const format: TfjsArtifacts['format'] =
    json.format === 'graph-model' || Array.isArray((topology as { node?: unknown }).node) ? 'graph-model' : 'layers-model';
  const { specs, data } = await readWeightsManifest(json.weightsManifest ?? [], dirname(modelJsonPath), modelJsonPath);
  return {
    format,
    modelTopology: topology,
    weightSpecs: specs,
    weightData: data,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  };
}

/** Reads the shards of a weights manifest and concatenates them, group after group, into one buffer. */
export async function readWeightsManifest(
  manifest: readonly TfWeightsGroup[],
  folder: string,
  what = folder,
): Promise<{ specs: TfWeightSpec[]; data: Uint8Array }> {
  const chunks: Buffer[] = [];
  const specs: TfWeightSpec[] = [];
  for (const group of manifest) {
    const parts = await Promise.all(group.paths.map((p) => readFile(join(folder, p))));
    const bytes = Buffer.concat(parts);
    const need = group.weights.reduce((n, w) => n + weightByteLength(w), 0);
    if (bytes.length < need) {
      throw new TfjsImportError(`${what}: weight files ${group.paths.join(', ')} hold ${bytes.length} bytes, the manifest needs ${need}`);
    }
    chunks.push(bytes.subarray(0, need));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(chunks);
  return { specs, data: new Uint8Array(all.buffer, all.byteOffset, all.byteLength) };
}

function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function weightByteLength(w: TfWeightSpec): number {
  const stored = w.quantization?.dtype ?? w.dtype;
  const bytes = STORED_BYTES[stored];
  if (bytes === undefined) throw new TfjsImportError(`weight ${w.name}: dtype ${stored} is not supported`);
  return bytes * numel(w.shape);
}

/**
 * Decodes every weight to a host tensor: float32 (dequantized where quantized) or int32; bool becomes uint8.
 * Dequantization follows tfjs' `decodeWeights` (float64 arithmetic, rounded once to float32).
 */
export function decodeWeights(specs: readonly TfWeightSpec[], data: Uint8Array): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  let offset = 0;
  for (const w of specs) {
    const n = numel(w.shape);
    const size = weightByteLength(w);
    if (offset + size > data.byteLength) throw new TfjsImportError(`weight ${w.name}: data ends before the weight (offset ${offset}, ${size} bytes)`);
    // Copy: a weight's offset need not be aligned to its element size.
    const bytes = data.slice(offset, offset + size);
    offset += size;
    const q = w.quantization;
    let host: HostTensor;
    if (q) {
      if (q.dtype === 'float16') {
        const values = decodeFloat16(new Uint16Array(bytes.buffer, 0, n));
        host = w.dtype === 'int32' ? hostTensor('int32', w.shape, Int32Array.from(values)) : hostTensor('float32', w.shape, values);
      } else {
        if (q.scale === undefined || q.min === undefined) throw new TfjsImportError(`weight ${w.name}: ${q.dtype} quantization without scale/min`);
        const words = q.dtype === 'uint8' ? new Uint8Array(bytes.buffer, 0, n) : new Uint16Array(bytes.buffer, 0, n);
        const { scale, min } = q;
        if (w.dtype === 'int32') {
          const values = new Int32Array(n);
          for (let i = 0; i < n; i++) values[i] = Math.round(words[i] * scale + min);
          host = hostTensor('int32', w.shape, values);
        } else {
          const values = new Float32Array(n);
          for (let i = 0; i < n; i++) values[i] = words[i] * scale + min;
          host = hostTensor('float32', w.shape, values);
        }
      }
    } else if (w.dtype === 'float32') {
      host = hostTensor('float32', w.shape, new Float32Array(bytes.buffer, 0, n));
    } else if (w.dtype === 'int32') {
      host = hostTensor('int32', w.shape, new Int32Array(bytes.buffer, 0, n));
    } else if (w.dtype === 'bool') {
      host = hostTensor('uint8', w.shape, new Uint8Array(bytes.buffer, 0, n));
    } else {
      throw new TfjsImportError(`weight ${w.name}: dtype ${w.dtype} is not supported`);
    }
    if (out.has(w.name)) throw new TfjsImportError(`weight ${w.name} appears twice in the manifest`);
    out.set(w.name, host);
  }
  return out;
}

// ---- attribute access ----

const decoder = new TextDecoder();

/** A `string` attribute (`s`, base64 in JSON). */
export function attrString(node: TfNodeDef, key: string, fallback?: string): string {
  const a = node.attr?.[key];
  if (a?.s !== undefined) return decoder.decode(Buffer.from(a.s, 'base64'));
  if (fallback !== undefined) return fallback;
  throw new TfjsImportError(`node ${node.name} (${node.op}): missing string attribute ${key}`);
}

export function attrStrings(node: TfNodeDef, key: string): string[] {
  const a = node.attr?.[key];
  return (a?.list?.s ?? []).map((s) => decoder.decode(Buffer.from(s, 'base64')));
}

export function attrInts(node: TfNodeDef, key: string, fallback?: number[]): number[] {
  const a = node.attr?.[key];
  if (a?.list) return (a.list.i ?? []).map(Number);
  if (fallback !== undefined) return fallback;
  throw new TfjsImportError(`node ${node.name} (${node.op}): missing integer list attribute ${key}`);
}

export function attrInt(node: TfNodeDef, key: string, fallback?: number): number {
  const a = node.attr?.[key];
  if (a?.i !== undefined) return Number(a.i);
  if (fallback !== undefined) return fallback;
  throw new TfjsImportError(`node ${node.name} (${node.op}): missing integer attribute ${key}`);
}

export function attrFloat(node: TfNodeDef, key: string, fallback?: number): number {
  const a = node.attr?.[key];
  if (a?.f !== undefined) return Number(a.f);
  if (fallback !== undefined) return fallback;
  throw new TfjsImportError(`node ${node.name} (${node.op}): missing float attribute ${key}`);
}

export function attrBool(node: TfNodeDef, key: string, fallback = false): boolean {
  const a = node.attr?.[key];
  return a?.b ?? fallback;
}

/** The shape of a Placeholder (`shape` attribute); -1 for unknown sizes; undefined for unknown rank. */
export function attrShape(node: TfNodeDef, key = 'shape'): number[] | undefined {
  const s = node.attr?.[key]?.shape;
  if (!s || s.unknownRank) return undefined;
  return (s.dim ?? []).map((d) => Number(d.size ?? -1));
}

// ---- writing JSON (for topologies this importer synthesizes: Keras layers, face-api nets) ----

const encoder = new TextEncoder();

export const tfAttr = {
  s: (v: string): TfAttr => ({ s: Buffer.from(encoder.encode(v)).toString('base64') }),
  i: (v: number): TfAttr => ({ i: String(v) }),
  f: (v: number): TfAttr => ({ f: v }),
  b: (v: boolean): TfAttr => ({ b: v }),
  type: (v: string): TfAttr => ({ type: v }),
  ints: (v: readonly number[]): TfAttr => ({ list: { i: v.map(String) } }),
  strings: (v: readonly string[]): TfAttr => ({ list: { s: v.map((x) => Buffer.from(encoder.encode(x)).toString('base64')) } }),
  shape: (v: readonly number[]): TfAttr => ({ shape: { dim: v.map((d) => ({ size: String(d) })) } }),
};
