// Import of TensorFlow.js models into the engine: a graph model (`modelTopology.node`, a frozen GraphDef) or a
// layers model (a Keras config) with its weights manifest — float32, or quantized uint8/uint16/float16 — is
// rebuilt as a Graph of our ops in NCHW (see tfjs-import/convert.ts for the op mapping), and runs on
// onnxruntime like any other graph. face-api.js networks, which ship weights without a topology, are described
// by tfjs-import/faceapi.ts and go through the same path.
//
//   const model = await loadTfjsModel('node_modules/@vladmandic/human/models/faceres.json');
//   const imported = importTfjsModel(model, { outputs: ['conv_pw_13_relu/clip_by_value', 'global_pooling/Mean'] });
//   const session = await compileImported(imported);
//   const out = await session.run({ [imported.inputs[0].name]: pixels }); // NHWC float32, as tfjs takes it
import type { Dim } from './graph.js';
import type { Graph } from './graph.js';
import { compile, type Session } from './session.js';
import {
  TfjsImportError,
  decodeWeights,
  readTfjsModel,
  type TfjsArtifacts,
  type TfNodeDef,
} from './tfjs-import/artifacts.js';
import { convertGraphDef, type ConvertOptions } from './tfjs-import/convert.js';
import { layersToGraphDef } from './tfjs-import/layers.js';

export { TfjsImportError, decodeWeights, readTfjsModel, readWeightsManifest, type TfjsArtifacts, type TfNodeDef, type TfWeightSpec } from './tfjs-import/artifacts.js';
export { SUPPORTED_TF_OPS, type ConvertOptions } from './tfjs-import/convert.js';
export { SUPPORTED_KERAS_LAYERS } from './tfjs-import/layers.js';
export { FACEAPI_MEAN_RGB, FACEAPI_NETS, readFaceApiModel, type FaceApiModel, type FaceApiNet } from './tfjs-import/faceapi.js';

/** Reads a TF.js `model.json` and its weight shards. */
export const loadTfjsModel = readTfjsModel;

export interface ImportedTfjsModel {
  graph: Graph;
  /** Graph inputs: the TF placeholder, the graph input's name, and its shape (NHWC unless `inputLayout: 'nchw'`). */
  inputs: { tfName: string; name: string; shape: Dim[] }[];
  /** Graph outputs, named as requested (TF node names), with TF (NHWC) and graph shapes. */
  outputs: { name: string; tfShape: Dim[]; shape: Dim[] }[];
  /** The TF ops the requested outputs needed, with counts. */
  opCounts: Record<string, number>;
}

/** The GraphDef nodes of a model (a layers model's are synthesized), for listing candidate output layers. */
export function tfjsNodes(artifacts: TfjsArtifacts): TfNodeDef[] {
  if (artifacts.format === 'graph-model') return (artifacts.modelTopology.node as TfNodeDef[] | undefined) ?? [];
  return layersToGraphDef(artifacts.modelTopology, decodeWeights(artifacts.weightSpecs, artifacts.weightData)).nodes;
}

function signatureOutputs(artifacts: TfjsArtifacts): string[] | undefined {
  const outs = artifacts.signature?.outputs;
  if (!outs) return undefined;
  return Object.values(outs).map((o) => o.name.replace(/:0$/, ''));
}

/**
 * Rebuilds a TF.js model as a Graph. `outputs` may name any node (e.g. the last spatial feature map); by default
 * the signature's outputs (graph model) or the model's output layers (layers model).
 */
export function importTfjsModel(artifacts: TfjsArtifacts, options: ConvertOptions = {}): ImportedTfjsModel {
  const weights = decodeWeights(artifacts.weightSpecs, artifacts.weightData);
  if (artifacts.format === 'graph-model') {
    const nodes = artifacts.modelTopology.node as TfNodeDef[] | undefined;
    if (!Array.isArray(nodes)) throw new TfjsImportError('graph model without modelTopology.node');
    if ((artifacts.modelTopology.library as { function?: unknown[] } | undefined)?.function?.length) {
      // Control flow (While/If bodies) lives in the function library; none of it is supported.
      const calls = nodes.filter((n) => /While|If|PartitionedCall/.test(n.op));
      if (calls.length) throw new TfjsImportError(`control flow ops are not supported (${calls.map((n) => `${n.op} ${n.name}`).slice(0, 3).join(', ')})`);
    }
    return convertGraphDef(nodes, weights, { ...options, defaultOutputs: signatureOutputs(artifacts) });
  }
  const layers = layersToGraphDef(artifacts.modelTopology, weights);
  return convertGraphDef(layers.nodes, layers.weights, { ...options, defaultOutputs: layers.outputs });
}

/** Compiles an imported model (weights baked in as initializers). */
export function compileImported(model: ImportedTfjsModel, options: { threads?: number; outputs?: readonly string[] } = {}): Promise<Session> {
  return compile(model.graph, { params: 'initializers', threads: options.threads, outputs: options.outputs, noCache: true });
}
