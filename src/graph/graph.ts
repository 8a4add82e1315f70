// The graph IR: symbolic tensors produced by nodes, in the order they were built (already topological).
// A model is written as ordinary TypeScript that calls op functions (ops.ts) on symbolic tensors; the
// resulting Graph is emitted as ONNX (onnx.ts) and executed by onnxruntime (session.ts), and differentiated
// by autodiff.ts, which appends backward nodes to the same Graph.
import type { DType } from './dtype.js';
import type { HostTensor } from './host.js';

/** A dimension: a fixed size, or a symbolic name (`batch`, `seq`) bound when the graph runs. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: HostTensor };

export type Attrs = Record<string, AttrValue>;

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  tensor: (value: HostTensor): AttrValue => ({ kind: 'tensor', value }),
};

/** How a tensor enters the graph. `param` is a trainable/loadable weight; `const` a fixed initializer. */
export type TensorKind = 'input' | 'param' | 'const' | 'node';

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: TensorKind,
    /** The node that computes this tensor (kind `node` only). */
    readonly producer?: Node,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** Dimension `i`, negative counting from the end. */
  dim(i: number): Dim {
    const r = this.shape.length;
    const j = i < 0 ? i + r : i;
    if (j < 0 || j >= r) throw new Error(`${this.name}: no dimension ${i} in shape ${formatShape(this.shape)}`);
    return this.shape[j];
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export interface Node {
  readonly op: string;
  readonly domain: string; // '' for the default ONNX domain, 'com.microsoft' for contrib ops
  readonly inputs: readonly (Tensor | null)[]; // null = an omitted optional input
  readonly outputs: readonly Tensor[];
  readonly attrs: Attrs;
}

export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Error raised while a graph is built (shape or dtype mismatch, bad argument), naming the op and tensors. */
export class GraphBuildError extends Error {
  override name = 'GraphBuildError';
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  /** Fixed initializers (constants); parameter values are bound at compile or run time, not stored here. */
  readonly constants = new Map<string, HostTensor>();
  private readonly outputs = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private counter = 0;
  private readonly scopes: string[] = [];

  constructor(readonly name = 'graph') {}

  /** A runtime input (pixels, token ids, a KV cache). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    const t = new Tensor(this, this.claim(name), dtype, [...shape], 'input');
    this.inputs.push(t);
    return t;
  }

  /** A weight, named as in the checkpoint (`model.layers.0.self_attn.q_proj.weight`); value bound later. */
  param(name: string, dtype: DType, shape: readonly number[]): Tensor {
    const full = this.scoped(name);
    const existing = this.params.find((p) => p.name === full);
    if (existing) {
      if (existing.dtype !== dtype || formatShape(existing.shape) !== formatShape(shape)) {
        throw new GraphBuildError(`param ${full} declared twice with different types`);
      }
      return existing; // shared weights (e.g. a tied embedding) are one tensor
    }
    const t = new Tensor(this, this.claim(full), dtype, [...shape], 'param');
    this.params.push(t);
    return t;
  }

  /** A constant initializer holding `value`. */
  constant(value: HostTensor, hint = 'const'): Tensor {
    const t = new Tensor(this, this.claim(this.fresh(hint)), value.dtype, [...value.shape], 'const');
    this.constants.set(t.name, value);
    return t;
  }

  /** Append a node; its outputs get fresh names derived from `hint`. */
  node(op: string, inputs: readonly (Tensor | null)[], attrs: Attrs, outputs: readonly OutputSpec[], options: { domain?: string; hint?: string } = {}): Tensor[] {
    for (const t of inputs) {
      if (t && t.graph !== this) throw new GraphBuildError(`${op}: input ${t.name} belongs to another graph`);
    }
    const outs: Tensor[] = [];
    const node: Node = { op, domain: options.domain ?? '', inputs: [...inputs], outputs: outs, attrs };
    for (const spec of outputs) {
      outs.push(new Tensor(this, this.claim(this.fresh(options.hint ?? op)), spec.dtype, [...spec.shape], 'node', node));
    }
    this.nodes.push(node);
    return outs;
  }

  /** Declare a named graph output. */
  output(name: string, t: Tensor): void {
    if (t.graph !== this) throw new GraphBuildError(`output ${name}: tensor belongs to another graph`);
    if (this.outputs.has(name)) throw new GraphBuildError(`output ${name} declared twice`);
    this.outputs.set(name, t);
  }

  get outputMap(): ReadonlyMap<string, Tensor> {
    return this.outputs;
  }

  /** Run `fn` with `prefix.` prepended to the names of params it declares (`model.layers.3`). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private scoped(name: string): string {
    return [...this.scopes, name].join('.');
  }

  private fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphBuildError(`tensor name ${name} is already used in graph ${this.name}`);
    this.names.add(name);
    return name;
  }
}
