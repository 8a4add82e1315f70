// Frozen face networks that ship inside installed npm packages, as the `npm` encoders of model directories
// (model/pretrained.ts uses this registry unless the caller passes its own resolver):
//
//   encoder:    { kind: 'npm', package: '@vladmandic/human', model: 'faceres', layer: 'conv_pw_13_relu/clip_by_value', input_size: 224 }
//   preprocess: npmPreprocess(224)   — the crop stretched to 224×224 (bilinear), RGB in 0..255
//   vision:     { type: 'feature_map', channels: 1024, grid: 7 }
//
// The network's TF.js files are read from node_modules (nothing is downloaded), imported by graph/tfjs-import.ts
// once per process, and copied into whichever graph the frames are in. Its weights become parameters named
// `<model>.<tensor>` that the resolved encoder's weight source supplies, so they are never written into a model's
// checkpoint, yet their bytes are part of what identifies the encoder (the trainer's feature cache hashes them).
//
// Extra spec field `concat`: networks whose maps share the grid are appended along the channels, each fed the
// frames average-pooled down to its own input size, e.g. faceres ⊕ face_expression = 7×7×1280 (see
// docs/encoder-probes.md).
import { join } from 'node:path';
import { z } from 'zod';
import type { Dim, Tensor } from '../../graph/graph.js';
import type { HostTensor } from '../../graph/host.js';
import * as ops from '../../graph/ops.js';
import { importTfjsModel, loadTfjsModel, readFaceApiModel, type ImportedTfjsModel, type TfjsArtifacts } from '../../graph/tfjs-import.js';
import { tensorSource } from '../checkpoint.js';
import type { NpmEncoderSpec, ResolvedEncoder } from '../pretrained.js';
import { PreprocessSchema, type Preprocess } from '../preprocess.js';
import { packageRoot } from '../../util/package-root.js';
import type { FrozenNetwork } from './encoder.js';

/** One network of the registry: where its files are and which of its feature maps becomes the tokens. */
export interface NpmNetwork {
  readonly package: string;
  readonly model: string;
  readonly layer: string;
  readonly input_size: number;
  /** The network's TF.js artifacts, read from the package's root folder. */
  read(root: string): Promise<TfjsArtifacts>;
}

/** The networks this registry builds: the encoder study's recommendation and its expression specialist. */
export const NPM_NETWORKS: readonly NpmNetwork[] = [
  {
    // HSE MobileNetV1 (age, gender, descriptor), float16 weights; its last pointwise block after ReLU6: 7×7×1024.
    package: '@vladmandic/human',
    model: 'faceres',
    layer: 'conv_pw_13_relu/clip_by_value',
    input_size: 224,
    read: (root) => loadTfjsModel(join(root, 'models', 'faceres.json')),
  },
  {
    // face-api's expression net (weights only; tfjs-import/faceapi.ts writes out its graph): dense3, 7×7×256.
    package: '@vladmandic/face-api',
    model: 'face_expression',
    layer: 'dense3/out',
    input_size: 112,
    read: async (root) => (await readFaceApiModel(join(root, 'model'), 'face_expression')).artifacts,
  },
];

/** The default model's encoder (docs/encoder-probes.md). */
export const FACERES_ENCODER = {
  kind: 'npm',
  package: '@vladmandic/human',
  model: 'faceres',
  layer: 'conv_pw_13_relu/clip_by_value',
  input_size: 224,
} as const satisfies NpmEncoderSpec;

/**
 * How every network here is fed, in preprocess.ts's terms: the crop stretched to the square input with a bilinear
 * filter (human and face-api resize bilinearly, and the crops are square already), RGB in 0..255 — `pixel / 255`
 * divided by a std of 1/255. Both libraries feed 0..255; face-api's mean subtraction and scaling are in its graph.
 */
export function npmPreprocess(inputSize: number): Preprocess {
  const std = 1 / 255;
  return PreprocessSchema.parse({ image_size: inputSize, mean: [0, 0, 0], std: [std, std, std], resize: 'bilinear', crop: 'none', channels_order: 'rgb' });
}

const NetworkRefSchema = z.object({
  package: z.string().min(1),
  model: z.string().min(1),
  layer: z.string().min(1),
  input_size: z.number().int().positive(),
});
type NetworkRef = z.output<typeof NetworkRefSchema>;

const ConcatSchema = z.array(NetworkRefSchema).optional();

const describe = (r: NetworkRef) => `${r.package} ${r.model} at ${r.layer} (${r.input_size} px)`;

/** The registry's network for a spec, if it has one (package, model, layer and input size must all match). */
export function findNpmNetwork(ref: NetworkRef): NpmNetwork | undefined {
  return NPM_NETWORKS.find((n) => n.package === ref.package && n.model === ref.model && n.layer === ref.layer && n.input_size === ref.input_size);
}

/** Whether the registry can build this encoder, `concat` included. */
export function isRegisteredNpmEncoder(spec: NpmEncoderSpec): boolean {
  const concat = ConcatSchema.safeParse(spec.concat);
  return concat.success && [spec, ...(concat.data ?? [])].every((r) => findNpmNetwork(r) !== undefined);
}

/** The registry's networks, one line each, for error messages. */
export function describeNpmNetworks(): string {
  return NPM_NETWORKS.map(describe).join('; ');
}

/** The symbolic batch of the imported graph, replaced by the frames' own dimension when it is copied. */
const IMPORT_BATCH = 'npm_encoder_frames';

interface ImportedNetwork {
  readonly ref: NetworkRef;
  readonly imported: ImportedTfjsModel;
  /** Graph constant name → parameter name, for the network's weight tensors. */
  readonly paramNames: ReadonlyMap<string, string>;
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** C and G of the [F, C, G, G] map. */
  readonly channels: number;
  readonly grid: number;
}

async function importNetwork(ref: NetworkRef): Promise<ImportedNetwork> {
  const network = findNpmNetwork(ref);
  if (!network) throw new Error(`npm encoder: no network ${describe(ref)} in the registry (it has: ${describeNpmNetworks()})`);
  const artifacts = await network.read(packageRoot(network.package));
  const size = network.input_size;
  const imported = importTfjsModel(artifacts, {
    outputs: [network.layer],
    inputSize: [size, size],
    inputLayout: 'nchw',
    outputLayout: 'nchw',
    batch: IMPORT_BATCH,
    graphName: network.model,
  });
  const [input] = imported.inputs;
  const [, c, h, w] = imported.outputs[0].shape;
  if (imported.inputs.length !== 1 || input.shape.slice(1).join() !== `3,${size},${size}`) {
    throw new Error(`npm encoder ${describe(ref)}: expected one input [3, ${size}, ${size}], got ${imported.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')}`);
  }
  if (typeof c !== 'number' || typeof h !== 'number' || h !== w) throw new Error(`npm encoder ${describe(ref)}: ${network.layer} is not a square feature map [${imported.outputs[0].tfShape.join(', ')}]`);
  // The converter's weight tensors (float, rank ≥ 1) become parameters; scalars and int64 shapes stay constants.
  const paramNames = new Map<string, string>();
  const weights = new Map<string, HostTensor>();
  for (const [name, value] of imported.graph.constants) {
    if (value.dtype !== 'float32' || value.shape.length === 0) continue;
    paramNames.set(name, `${network.model}.${name}`);
    weights.set(`${network.model}.${name}`, value);
  }
  return { ref, imported, paramNames, weights, channels: c, grid: h };
}

/** Imports per process, by network (a failed import is retried on the next request). */
const imports = new Map<string, Promise<ImportedNetwork>>();

function cachedImport(ref: NetworkRef): Promise<ImportedNetwork> {
  const key = JSON.stringify([ref.package, ref.model, ref.layer, ref.input_size]);
  let pending = imports.get(key);
  if (!pending) {
    pending = importNetwork(ref);
    imports.set(key, pending);
    pending.catch(() => imports.delete(key));
  }
  return pending;
}

/**
 * Copies the imported network into the graph of `frames` [F, 3, S, S] and returns its map [F, C, G, G]: every node
 * again, weights as parameters, other constants as constants, the import's batch symbol replaced by F.
 */
function buildInto(net: ImportedNetwork, frames: Tensor): Tensor {
  const g = frames.graph;
  const source = net.imported.graph;
  const batch = frames.dim(0);
  const dim = (d: Dim): Dim => (d === IMPORT_BATCH ? batch : d);
  const copies = new Map<Tensor, Tensor>([[source.inputs[0], frames]]);
  const copy = (t: Tensor): Tensor => {
    let out = copies.get(t);
    if (out) return out;
    if (t.kind !== 'const') throw new Error(`npm encoder ${describe(net.ref)}: ${t.name} is used before it is computed`);
    const value = source.constants.get(t.name)!;
    const param = net.paramNames.get(t.name);
    out = param ? g.param(param, value.dtype, value.shape) : g.constant(value, 'npm_const');
    copies.set(t, out);
    return out;
  };
  for (const node of source.nodes) {
    const inputs = node.inputs.map((t) => (t ? copy(t) : null));
    const outputs = g.node(node.op, inputs, node.attrs, node.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape.map(dim) })), { domain: node.domain });
    node.outputs.forEach((o, i) => copies.set(o, outputs[i]));
  }
  return copy(source.outputMap.get(net.imported.outputs[0].name)!);
}

/**
 * The registry's resolver (model/pretrained.ts's default): the network, or the channel concatenation of the
 * networks, a spec names, with their weights. Throws for a network the registry does not have.
 */
export async function resolveNpmEncoder(spec: NpmEncoderSpec): Promise<ResolvedEncoder> {
  const concat = ConcatSchema.safeParse(spec.concat);
  if (!concat.success) throw new Error(`npm encoder: bad \`concat\` (${concat.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  const nets = await Promise.all([spec, ...(concat.data ?? [])].map(cachedImport));
  const size = spec.input_size;
  for (const net of nets) {
    if (size % net.ref.input_size !== 0) throw new Error(`npm encoder: ${describe(net.ref)} cannot be fed by pooling ${size}-px frames`);
    if (net.grid !== nets[0].grid) throw new Error(`npm encoder: ${describe(net.ref)} has a ${net.grid}×${net.grid} map, ${describe(nets[0].ref)} ${nets[0].grid}×${nets[0].grid}`);
  }
  const network: FrozenNetwork = {
    inputShape: [3, size, size],
    build(frames) {
      const maps = nets.map((net) => {
        const factor = size / net.ref.input_size;
        // A box average: an antialiased downscale by an integer factor (the encoder study resized crops to 112 directly).
        return buildInto(net, factor === 1 ? frames : ops.avgPool(frames, { kernel: [factor, factor] }));
      });
      return maps.length === 1 ? maps[0] : ops.concat(maps, 1);
    },
  };
  return { network, weights: tensorSource(new Map(nets.flatMap((net) => [...net.weights]))) };
}
