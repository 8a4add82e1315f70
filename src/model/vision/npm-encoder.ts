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
// docs/encoder-probes.md). An input size that does not divide the frames' is reached by an antialiased bilinear
// resize instead. A `concat` entry with `"pool": "global"` is averaged over its own grid and the one vector
// appended to every token: how a network with a coarser map joins, e.g. face_recognition's 2×2×256, whose pooled
// map is the best age and real/fake probe of the registry. A network with `"zoom": z` reads a tighter framing:
// the centre of the frames, 1/z of their side, resized to its input — face-api's age net was trained on faces cut
// close to the detector's box, where the crop frames the box ×1.4 (src/face/crop.ts), and reads age better so.
//
// A network with `"tuned": true` was fine-tuned for the model through its own classifier head
// (scripts/tune-network.ts, tunableNetwork below): its weights are read from the model's checkpoint, under the
// names the package's would have, instead of from the package.
//
// Extra spec field `train_from`: a tensor of the network (e.g. faceres's `conv_pw_12_relu/clip_by_value`) after
// which it is trained with the model. The network is then split there (EncoderSplit): the prefix stays frozen and
// its map is what the trainer caches; the tail's weights leave the encoder's weight source and become the model's,
// starting from the package's values. Loading a model so trained takes the tail's weights from its checkpoint.
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
import type { EncoderSplit, FrozenNetwork } from './encoder.js';

/** One network of the registry: where its files are and which of its feature maps becomes the tokens. */
export interface NpmNetwork {
  readonly package: string;
  readonly model: string;
  readonly layer: string;
  readonly input_size: number;
  /**
   * A network that does not take RGB in 0..255: its channel count and how frames [F, 3, s, s] in 0..255 become
   * its input [F, channels, s, s], in the graph.
   */
  readonly input?: { readonly channels: number; prepare(frames: Tensor): Tensor };
  /** The tensor of its own class scores before any softmax, where it has a classifier head (for fine-tuning it). */
  readonly head?: { readonly tensor: string; readonly classes: readonly string[] };
  /** The network's TF.js artifacts, read from the package's root folder. */
  read(root: string): Promise<TfjsArtifacts>;
}

/** The networks this registry builds: the encoder study's recommendation and the specialists that can join it. */
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
    // Its head: dense3 averaged over the grid, then one fully connected layer to face-api's 7 expressions.
    head: { tensor: 'logits', classes: ['neutral', 'happy', 'sad', 'angry', 'fear', 'disgust', 'surprise'] },
    read: async (root) => (await readFaceApiModel(join(root, 'model'), 'face_expression')).artifacts,
  },
  {
    // face-api's dlib ResNet-34-like identity net (weights only, graph written out like face_expression's): its
    // last residual block, 2×2×256 at 150 px — joins a 7×7 map only pooled (`"pool": "global"`).
    package: '@vladmandic/face-api',
    model: 'face_recognition',
    layer: 'conv256_down_out/out',
    input_size: 150,
    read: async (root) => (await readFaceApiModel(join(root, 'model'), 'face_recognition')).artifacts,
  },
  {
    // face-api's age and gender net (TinyXception; weights only, graph written out like face_expression's): its
    // exit flow after ReLU, 7×7×512 at 112 px — the grid of faceres's map.
    package: '@vladmandic/face-api',
    model: 'age_gender',
    layer: 'exit_flow/relu',
    input_size: 112,
    read: async (root) => (await readFaceApiModel(join(root, 'model'), 'age_gender')).artifacts,
  },
  {
    // human's emotion net (generated from oarriaga/face_classification: a small Xception trained on FER2013's
    // Training usage, 64×64 grayscale): its last residual module, 8×8×256 — joins a 7×7 map with `"pool": "fit"`.
    package: '@vladmandic/human',
    model: 'emotion',
    layer: 'StatefulPartitionedCall/model_1/add_2/add',
    input_size: 64,
    input: { channels: 1, prepare: grayscaleSigned },
    // Its head: a 3×3 convolution of add_2 to 7 maps, averaged over the grid (softmax follows); human's class order.
    head: {
      tensor: 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean',
      classes: ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'],
    },
    read: (root) => loadTfjsModel(join(root, 'models', 'emotion.json')),
  },
];

/**
 * Frames [F, 3, s, s] in 0..255 as human feeds its emotion net: gray = 0.2989 R + 0.587 G + 0.114 B (its rgb2gray
 * weights), then (gray / 255 − 0.5) · 2, i.e. −1..1, as [F, 1, s, s]: a 1×1 convolution, applied (as human does)
 * after the frames are resized to the net's 64 px.
 */
function grayscaleSigned(frames: Tensor): Tensor {
  const g = frames.graph;
  const k = 2 / 255;
  const weight = g.constant({ dtype: 'float32', shape: [1, 3, 1, 1], data: Float32Array.from([0.2989 * k, 0.587 * k, 0.114 * k]) }, 'gray_weight');
  const bias = g.constant({ dtype: 'float32', shape: [1], data: Float32Array.from([-1]) }, 'gray_bias');
  return ops.conv(frames, weight, bias);
}

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
  /**
   * `global`: the map averaged over its grid, the vector repeated at every cell of the first network's grid.
   * `fit`: a finer map averaged down to the first network's grid by a sliding window, stride 1, of side
   * (its grid − that grid + 1): 8×8 → 7×7 averages each 2×2 window, so every cell keeps its place on the face.
   */
  pool: z.enum(['global', 'fit']).optional(),
  /** The network reads the centre of the frames, 1/zoom of their side (a closer framing), resized to its input. */
  zoom: z.number().min(1).max(4).optional(),
  /**
   * The network was fine-tuned for the model (scripts/tune-network.ts): its weights are the model's, read from its
   * checkpoint under the same names, and the package's are not used.
   */
  tuned: z.boolean().optional(),
});
/** One network of an encoder spec: the spec itself, or an entry of its `concat`. */
export type NetworkRef = z.output<typeof NetworkRefSchema>;

const ConcatSchema = z.array(NetworkRefSchema).optional();
const TrainFromSchema = z.string().min(1).optional();

const describe = (r: Omit<NetworkRef, 'pool' | 'zoom' | 'tuned'>) => `${r.package} ${r.model} at ${r.layer} (${r.input_size} px)`;

/** A schema's complaints, one `path: message` each. */
const problems = (error: z.ZodError): string => error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

/** The registry's network for a spec, if it has one (package, model, layer and input size must all match). */
export function findNpmNetwork(ref: Omit<NetworkRef, 'pool' | 'zoom' | 'tuned'>): NpmNetwork | undefined {
  return NPM_NETWORKS.find((n) => n.package === ref.package && n.model === ref.model && n.layer === ref.layer && n.input_size === ref.input_size);
}

/** Whether the registry can build this encoder, `concat` and `train_from` included (the tensor is checked when built). */
export function isRegisteredNpmEncoder(spec: NpmEncoderSpec): boolean {
  const concat = ConcatSchema.safeParse(spec.concat);
  const trainFrom = TrainFromSchema.safeParse(spec.train_from);
  return concat.success && trainFrom.success && [spec, ...(concat.data ?? [])].every((r) => findNpmNetwork(r) !== undefined);
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
  /** With `train_from`: the tensor of the source graph the tail starts from, and its C' and G'. */
  readonly split?: { readonly tensor: Tensor; readonly channels: number; readonly grid: number };
  /** How frames in 0..255 RGB become the network's input, where they are not that already. */
  readonly prepare?: (frames: Tensor) => Tensor;
}

async function importNetwork(ref: NetworkRef, trainFrom?: string, withHead = false): Promise<ImportedNetwork> {
  const network = findNpmNetwork(ref);
  if (!network) throw new Error(`npm encoder: no network ${describe(ref)} in the registry (it has: ${describeNpmNetworks()})`);
  if (trainFrom === network.layer) throw new Error(`npm encoder ${describe(ref)}: train_from ${trainFrom} is the layer itself, not a tensor before it`);
  const artifacts = await network.read(packageRoot(network.package));
  const size = network.input_size;
  const imported = importTfjsModel(artifacts, {
    outputs: [network.layer, ...(trainFrom ? [trainFrom] : []), ...(withHead && network.head ? [network.head.tensor] : [])],
    inputSize: [size, size],
    inputLayout: 'nchw',
    outputLayout: 'nchw',
    batch: IMPORT_BATCH,
    graphName: network.model,
  });
  const [input] = imported.inputs;
  const [, c, h, w] = imported.outputs[0].shape;
  const channels = network.input?.channels ?? 3;
  if (imported.inputs.length !== 1 || input.shape.slice(1).join() !== `${channels},${size},${size}`) {
    throw new Error(`npm encoder ${describe(ref)}: expected one input [${channels}, ${size}, ${size}], got ${imported.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')}`);
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
  let split: ImportedNetwork['split'];
  if (trainFrom) {
    const tensor = imported.graph.outputMap.get(trainFrom)!;
    const [, sc, sh, sw] = imported.outputs[1].shape;
    if (typeof sc !== 'number' || typeof sh !== 'number' || sh !== sw) throw new Error(`npm encoder ${describe(ref)}: train_from ${trainFrom} is not a square feature map [${imported.outputs[1].tfShape.join(', ')}]`);
    const output = imported.graph.outputMap.get(network.layer)!;
    if (tensor === output || !upstream(output).has(tensor.producer!)) {
      throw new Error(`npm encoder ${describe(ref)}: train_from ${trainFrom} is not a tensor before ${network.layer}`);
    }
    split = { tensor, channels: sc, grid: sh };
  }
  return { ref, imported, paramNames, weights, channels: c, grid: h, split, prepare: network.input?.prepare };
}

type SourceNode = NonNullable<Tensor['producer']>;

/** The nodes of the source graph that compute `target`, from `stop` on when given (its producer excluded). */
function upstream(target: Tensor, stop?: Tensor): Set<SourceNode> {
  const nodes = new Set<SourceNode>();
  const stack = [target];
  while (stack.length) {
    const t = stack.pop()!;
    const node = t.producer;
    if (t === stop || !node || nodes.has(node)) continue;
    nodes.add(node);
    for (const input of node.inputs) if (input) stack.push(input);
  }
  return nodes;
}

/** Imports per process, by network (a failed import is retried on the next request). */
const imports = new Map<string, Promise<ImportedNetwork>>();

function cachedImport(ref: NetworkRef, trainFrom?: string, withHead = false): Promise<ImportedNetwork> {
  const key = JSON.stringify([ref.package, ref.model, ref.layer, ref.input_size, trainFrom ?? null, withHead]);
  let pending = imports.get(key);
  if (!pending) {
    pending = importNetwork(ref, trainFrom, withHead);
    imports.set(key, pending);
    pending.catch(() => imports.delete(key));
  }
  return pending;
}

/**
 * Copies part of the imported network into the graph of `input` and returns the copy of `to`: the nodes that
 * compute `to` from `from` (by default the network's input, frames [F, 3, S, S]; `to` by default its map
 * [F, C, G, G]) again, weights as parameters, other constants as constants, the import's batch symbol replaced by F.
 */
function buildInto(net: ImportedNetwork, input: Tensor, range: { from?: Tensor; to?: Tensor } = {}): Tensor {
  const source = net.imported.graph;
  return buildAll(net, input, range.from ?? source.inputs[0], [range.to ?? source.outputMap.get(net.imported.outputs[0].name)!])[0];
}

/** buildInto for several tensors of the network at once, their shared nodes copied once. */
function buildAll(net: ImportedNetwork, input: Tensor, from: Tensor, targets: readonly Tensor[]): Tensor[] {
  const g = input.graph;
  const source = net.imported.graph;
  const needed = new Set(targets.flatMap((to) => [...upstream(to, from)]));
  const batch = input.dim(0);
  const dim = (d: Dim): Dim => (d === IMPORT_BATCH ? batch : d);
  const copies = new Map<Tensor, Tensor>([[from, input]]);
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
    if (!needed.has(node)) continue;
    const inputs = node.inputs.map((t) => (t ? copy(t) : null));
    const outputs = g.node(node.op, inputs, node.attrs, node.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape.map(dim) })), { domain: node.domain });
    node.outputs.forEach((o, i) => copies.set(o, outputs[i]));
  }
  return targets.map(copy);
}

/** The parameter names the nodes from `from` to `to` read. */
function paramsBetween(net: ImportedNetwork, from: Tensor, to: Tensor): Set<string> {
  const names = new Set<string>();
  for (const node of upstream(to, from)) {
    for (const t of node.inputs) {
      const param = t?.kind === 'const' ? net.paramNames.get(t.name) : undefined;
      if (param) names.add(param);
    }
  }
  return names;
}

/** The network cut at its `train_from` tensor: the prefix's weights, and the split with the tail's. */
function splitNetwork(net: ImportedNetwork): { prefixWeights: Map<string, HostTensor>; split: EncoderSplit } {
  const { tensor, channels, grid } = net.split!;
  const source = net.imported.graph;
  const output = source.outputMap.get(net.imported.outputs[0].name)!;
  const tailNames = paramsBetween(net, tensor, output);
  const prefixNames = paramsBetween(net, source.inputs[0], tensor);
  const shared = [...tailNames].filter((n) => prefixNames.has(n));
  if (shared.length) throw new Error(`npm encoder ${describe(net.ref)}: weights used before and after train_from: ${shared.slice(0, 3).join(', ')}`);
  const size = net.ref.input_size;
  return {
    prefixWeights: new Map([...net.weights].filter(([name]) => !tailNames.has(name))),
    split: {
      prefix: { inputShape: [3, size, size], build: (frames) => buildInto(net, frames, { to: tensor }) },
      channels,
      grid,
      tail: (map) => buildInto(net, map, { from: tensor, to: output }),
      initial: new Map([...net.weights].filter(([name]) => tailNames.has(name))),
    },
  };
}

/**
 * The registry's resolver (model/pretrained.ts's default): the network, or the channel concatenation of the
 * networks, a spec names, with their weights. Throws for a network the registry does not have.
 */
export async function resolveNpmEncoder(spec: NpmEncoderSpec): Promise<ResolvedEncoder> {
  const concat = ConcatSchema.safeParse(spec.concat);
  if (!concat.success) throw new Error(`npm encoder: bad \`concat\` (${problems(concat.error)})`);
  const trainFrom = TrainFromSchema.safeParse(spec.train_from);
  if (!trainFrom.success) throw new Error('npm encoder: `train_from` must name a tensor of the network');
  if (trainFrom.data) {
    if (concat.data?.length) throw new Error('npm encoder: `train_from` is not supported with `concat`');
    if (spec.zoom !== undefined) throw new Error('npm encoder: `train_from` is not supported with `zoom`');
    if (spec.tuned) throw new Error('npm encoder: `train_from` is not supported with `tuned`');
    const net = await cachedImport(spec, trainFrom.data);
    const { prefixWeights, split } = splitNetwork(net);
    const network: FrozenNetwork = { inputShape: split.prefix.inputShape, build: (frames) => split.tail(split.prefix.build(frames)) };
    return { network, weights: tensorSource(prefixWeights), split };
  }
  const main = NetworkRefSchema.safeParse(spec);
  if (!main.success) throw new Error(`npm encoder: bad spec (${problems(main.error)})`);
  const refs: NetworkRef[] = [main.data, ...(concat.data ?? [])];
  const nets = await Promise.all(refs.map((ref) => cachedImport(ref)));
  const size = spec.input_size;
  const grid = nets[0].grid;
  nets.forEach((net, i) => {
    const pool = refs[i].pool;
    if (i === 0 && pool !== undefined) throw new Error(`npm encoder: "pool" belongs on a \`concat\` entry; ${describe(net.ref)} sets the grid`);
    if (pool === 'fit' && net.grid <= grid) {
      throw new Error(`npm encoder: "pool": "fit" needs a finer map than ${grid}×${grid}; ${describe(net.ref)} has ${net.grid}×${net.grid}`);
    }
    if (i > 0 && pool === undefined && net.grid !== grid) {
      throw new Error(`npm encoder: ${describe(net.ref)} has a ${net.grid}×${net.grid} map, ${describe(nets[0].ref)} ${grid}×${grid} (add "pool": "global" to append its pooled map to every token${net.grid > grid ? ', or "pool": "fit" to average it down to the grid' : ''})`);
    }
  });
  const network: FrozenNetwork = {
    inputShape: [3, size, size],
    build(frames) {
      const maps = nets.map((net, i) => {
        const map = buildInto(net, networkInput(net, frames, size, refs[i].zoom));
        if (refs[i].pool === 'fit') {
          const k = net.grid - grid + 1;
          return ops.avgPool(map, { kernel: [k, k], strides: [1, 1] });
        }
        if (refs[i].pool !== 'global') return map;
        // Averaged over its own cells, then the same C-vector at each of the G×G cells: [F, C, 1, 1] → [F, C, G, G].
        const pooled = ops.globalAvgPool(map);
        return ops.expand(pooled, [1, 1, grid, grid]);
      });
      return maps.length === 1 ? maps[0] : ops.concat(maps, 1);
    },
  };
  // A tuned network's weights are the model's own (its checkpoint supplies them), so this source leaves them out.
  return { network, weights: tensorSource(new Map(nets.flatMap((net, i) => (refs[i].tuned ? [] : [...net.weights])))) };
}

/** Frames [F, 3, S, S] in 0..255 as one network of the encoder reads them: their centre, at its size, in its colours. */
function networkInput(net: ImportedNetwork, frames: Tensor, size: number, zoom?: number): Tensor {
  const view = centreFrames(frames, size, zoom);
  const resized = resizeFrames(view.frames, view.size, net.ref.input_size);
  return net.prepare ? net.prepare(resized) : resized;
}

/** A registry network with its own classifier head, to fine-tune it (scripts/tune-network.ts). */
export interface TunableNetwork {
  /** The head's classes, in the order of its scores. */
  readonly classes: readonly string[];
  /** Its input [C, s, s] (C = 1 for a grayscale network). */
  readonly inputShape: readonly [number, number, number];
  /** Every weight of the map and the head, as the encoder names them (`<model>.<tensor>`). */
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** The names of the head's own weights (not part of the encoder's map). */
  readonly headWeights: ReadonlySet<string>;
  /** Frames [F, 3, S, S] in 0..255 → the network's input, exactly as the encoder feeds it (`zoom` as on its entry). */
  input(frames: Tensor, zoom?: number): Tensor;
  /** The network's input → its map [F, C, G, G] (the encoder's tokens) and its class scores [F, K], weights as parameters. */
  build(input: Tensor): { map: Tensor; logits: Tensor };
}

/** The registry's network `ref` names, with its classifier head; throws for one without a head. */
export async function tunableNetwork(ref: NetworkRef): Promise<TunableNetwork> {
  const network = findNpmNetwork(ref);
  if (!network?.head) throw new Error(`npm encoder: ${describe(ref)} has no classifier head to tune (${NPM_NETWORKS.filter((n) => n.head).map(describe).join('; ')} have)`);
  const net = await cachedImport(ref, undefined, true);
  const source = net.imported.graph;
  const [map, head] = [network.layer, network.head.tensor].map((name) => source.outputMap.get(name)!);
  const mapNames = paramsBetween(net, source.inputs[0], map);
  const size = ref.input_size;
  return {
    classes: network.head.classes,
    inputShape: [network.input?.channels ?? 3, size, size],
    weights: net.weights,
    headWeights: new Set([...net.weights.keys()].filter((name) => !mapNames.has(name))),
    input: (frames, zoom) => {
      const s = frames.dim(3);
      if (typeof s !== 'number') throw new Error(`npm encoder: frames ${frames} need a fixed size`);
      return networkInput(net, frames, s, zoom);
    },
    build(input) {
      const [m, logits] = buildAll(net, input, source.inputs[0], [map, head]);
      const [, k] = logits.shape;
      if (logits.rank !== 2 || k !== network.head!.classes.length) throw new Error(`npm encoder ${describe(ref)}: its head gives ${logits}, not [F, ${network.head!.classes.length}]`);
      return { map: m, logits };
    },
  };
}

/**
 * The centre of frames [F, 3, S, S], 1/zoom of their side: a square S' = S − 2m, with the margin m rounded to whole
 * pixels so that the window is centred exactly (its mirror image is itself, as src/model/mirror.ts assumes).
 */
function centreFrames(frames: Tensor, size: number, zoom = 1): { frames: Tensor; size: number } {
  const margin = Math.round((size - size / zoom) / 2);
  if (margin === 0) return { frames, size };
  return { frames: ops.slice(frames, [2, 3], [margin, margin], [size - margin, size - margin]), size: size - 2 * margin };
}

/**
 * Frames [F, 3, S, S] at a network's input size s: a box average when s divides S (an antialiased downscale by an
 * integer factor; the encoder study resized crops to 112 directly), else an antialiased bilinear resize (ONNX
 * Resize, `antialias` from opset 18), as image libraries shrink a crop.
 */
function resizeFrames(frames: Tensor, size: number, to: number): Tensor {
  if (to === size) return frames;
  if (size % to === 0) return ops.avgPool(frames, { kernel: [size / to, size / to] });
  return ops.resizeBilinear(frames, [to, to], { antialias: true });
}
