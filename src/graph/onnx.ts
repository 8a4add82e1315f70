// ONNX emission: a Graph (or the part of it that given outputs need) becomes a serialized ModelProto.
// Parameters are emitted either as graph inputs (training: new values every step) or as initializers
// (inference: onnxruntime can constant-fold and pre-pack weights).
import onnxProto from 'onnx-proto';
import { ONNX_DTYPE } from './dtype.js';
import type { Dim, Graph, Node, Tensor } from './graph.js';
import { GraphBuildError } from './graph.js';
import type { HostTensor } from './host.js';

const { onnx } = onnxProto;

/** ai.onnx opset the op library targets; com.microsoft contrib ops are imported at version 1. */
export const OPSET = 21;
const IR_VERSION = 10; // the IR version that goes with opset 21

export interface EmitOptions {
  /** Named graph outputs to emit (default: all declared outputs). */
  outputs?: readonly string[];
  /** `inputs`: parameters are fed at run time. `initializers`: their values are baked into the model. */
  params: 'inputs' | 'initializers';
  /** Parameter values, required for `initializers`. */
  weights?: (name: string) => HostTensor | undefined;
}

export interface EmittedModel {
  bytes: Uint8Array;
  /** Names the caller must feed at run time, in graph order (inputs, then parameters when fed). */
  feeds: string[];
  outputs: string[];
}

/** The nodes needed to compute `targets`, in build order, plus the leaf tensors they read. */
export function liveSubgraph(graph: Graph, targets: readonly Tensor[]): { nodes: Node[]; leaves: Set<Tensor> } {
  const needed = new Set<Node>();
  const leaves = new Set<Tensor>();
  const stack = [...targets];
  while (stack.length) {
    const t = stack.pop()!;
    if (!t.producer) {
      leaves.add(t);
      continue;
    }
    if (needed.has(t.producer)) continue;
    needed.add(t.producer);
    for (const i of t.producer.inputs) if (i) stack.push(i);
  }
  return { nodes: graph.nodes.filter((n) => needed.has(n)), leaves };
}

export function emitOnnx(graph: Graph, options: EmitOptions): EmittedModel {
  const outNames = options.outputs ?? [...graph.outputMap.keys()];
  const targets = outNames.map((name) => {
    const t = graph.outputMap.get(name);
    if (!t) throw new GraphBuildError(`graph ${graph.name} has no output ${name} (outputs: ${[...graph.outputMap.keys()].join(', ')})`);
    return t;
  });
  const { nodes, leaves } = liveSubgraph(graph, targets);

  const inputs: Tensor[] = graph.inputs.filter((t) => leaves.has(t));
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  for (const p of graph.params.filter((t) => leaves.has(t))) {
    if (options.params === 'inputs') {
      inputs.push(p);
      continue;
    }
    const value = options.weights?.(p.name);
    if (!value) throw new GraphBuildError(`no value for parameter ${p.name}`);
    checkValue(p, value);
    initializers.push(tensorProto(p.name, value));
  }
  for (const [name, value] of graph.constants) {
    if ([...leaves].some((t) => t.name === name)) initializers.push(tensorProto(name, value));
  }

  // A graph output that is a graph input or an initializer needs an Identity node of its own name in ONNX.
  const outputNodes: onnxProto.onnx.INodeProto[] = [];
  const outputInfos = targets.map((t, i) => {
    const name = outNames[i];
    if (name !== t.name) outputNodes.push({ opType: 'Identity', input: [t.name], output: [name], name: `output_${name}` });
    return valueInfo(name, t);
  });

  const usesContrib = nodes.some((n) => n.domain === 'com.microsoft');
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'face-llava',
    opsetImport: [{ domain: '', version: OPSET }, ...(usesContrib ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph: {
      name: graph.name,
      node: [...nodes.map(nodeProto), ...outputNodes],
      input: inputs.map((t) => valueInfo(t.name, t)),
      output: outputInfos,
      initializer: initializers,
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), feeds: inputs.map((t) => t.name), outputs: [...outNames] };
}

function checkValue(p: Tensor, value: HostTensor): void {
  const same = value.dtype === p.dtype && value.shape.length === p.shape.length && value.shape.every((d, i) => d === p.shape[i]);
  if (!same) throw new GraphBuildError(`parameter ${p} got a value of ${value.dtype}[${value.shape.join(', ')}]`);
}

function nodeProto(n: Node): onnxProto.onnx.INodeProto {
  return {
    opType: n.op,
    domain: n.domain,
    name: n.outputs[0]?.name,
    // Omitted optional inputs are '' in ONNX; trailing ones are dropped altogether, since onnxruntime 1.30's
    // fused kernels mis-handle a trailing '' (LayerNormalization without bias crashes at level `extended`).
    input: trimTrailingEmpty(n.inputs.map((t) => (t ? t.name : ''))),
    output: n.outputs.map((t) => t.name),
    attribute: Object.entries(n.attrs).map(([name, a]): onnxProto.onnx.IAttributeProto => {
      const T = onnx.AttributeProto.AttributeType;
      switch (a.kind) {
        case 'int':
          return { name, type: T.INT, i: a.value };
        case 'float':
          return { name, type: T.FLOAT, f: a.value };
        case 'string':
          return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
        case 'ints':
          return { name, type: T.INTS, ints: [...a.value] };
        case 'floats':
          return { name, type: T.FLOATS, floats: [...a.value] };
        case 'tensor':
          return { name, type: T.TENSOR, t: tensorProto(name, a.value) };
      }
    }),
  };
}

function trimTrailingEmpty(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && names[end - 1] === '') end--;
  return names.slice(0, end);
}

function dimProto(d: Dim): onnxProto.onnx.TensorShapeProto.IDimension {
  return typeof d === 'number' ? { dimValue: d } : { dimParam: d };
}

function valueInfo(name: string, t: Tensor): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim: t.shape.map(dimProto) } } } };
}

function tensorProto(name: string, value: HostTensor): onnxProto.onnx.ITensorProto {
  const { buffer, byteOffset, byteLength } = value.data;
  return {
    name,
    dataType: ONNX_DTYPE[value.dtype],
    dims: [...value.shape],
    rawData: new Uint8Array(buffer, byteOffset, byteLength),
  };
}
