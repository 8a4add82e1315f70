// A training step as one onnxruntime run: forward, backward, global-norm clipping and the AdamW update are one
// graph; parameters and the moments m, v go in as inputs and their updated values come out as outputs.
//
// No copies of our own between steps: every trainable tensor has two host buffers per quantity (p, m, v). Run k
// reads set A and writes set B through pre-allocated outputs (onnxruntime's CPU provider writes them in place);
// run k+1 reads B and writes A. The onnxruntime tensors wrapping those buffers are made once, so the host work
// per step is assembling a few name → tensor records. (onnxruntime-node 1.30 still returns each fetched output
// as a fresh copy besides writing ours — its N-API layer always copies results — which this step discards; the
// engine benchmark measures that cost as train_step_overhead_ms.)
//
// Gradient accumulation: a step given k micro-batches runs k times. The first run writes the gradients into an
// accumulator, the middle ones add to it (ping-pong as well), the last adds its own gradients, scales the sum
// by 1/k and updates — so a step of one batch stays one run and needs no accumulator at all.
import * as ort from 'onnxruntime-node';
import { grad } from './autodiff.js';
import type { Graph, Tensor } from './graph.js';
import { GraphBuildError, formatShape } from './graph.js';
import { type HostTensor, hostTensor } from './host.js';
import { emitOnnx, liveSubgraph } from './onnx.js';
import * as ops from './ops.js';
import { ADAMW_DEFAULTS, type AdamWConfig, type AdamWSlot, adamw } from './optim.js';
import { type Feed, defaultThreads, toOrt } from './session.js';

export interface ParamGroup {
  params: readonly Tensor[];
  /** Multiplies the scheduled learning rate (default 1). */
  lrScale?: number;
  /** Overrides the optimizer's weight decay (e.g. 0 for norms and biases). */
  weightDecay?: number;
  /** Frozen params are fed as inputs and get no gradient, no optimizer state and no update. */
  frozen?: boolean;
}

export interface TrainStepOptions {
  /** A float32 scalar; with micro-batches, the mean over each micro-batch (the steps average them). */
  loss: Tensor;
  /** Initial value of every parameter the loss depends on (copied for trainable params, held for frozen). */
  weights: (name: string) => HostTensor | undefined;
  /** Params the loss depends on and no group names are trained with lrScale 1 and the default weight decay. */
  groups?: readonly ParamGroup[];
  optimizer?: Partial<AdamWConfig>;
  /** Learning rate of update `step` (0-based), e.g. `(s) => cosineLr(schedule, s)`. */
  lr: number | ((step: number) => number);
  /** Intra-op threads (default all cores). */
  threads?: number;
  /** More onnxruntime session options (e.g. profiling), applied over the step's own. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/** Named inputs of one batch (or micro-batch): token ids, labels, pixels… */
export type Batch = Record<string, Feed>;

export interface StepResult {
  /** Loss before the update (the mean over micro-batches). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  /** Milliseconds spent inside onnxruntime's run calls (the rest of the step is host overhead). */
  runMs: number;
}

/** A checkpoint of the trainable parameters and the optimizer (frozen params belong to the base weights). */
export interface TrainState {
  /** Updates done so far. */
  step: number;
  params: Record<string, HostTensor>;
  m: Record<string, HostTensor>;
  v: Record<string, HostTensor>;
}

/** A trainable parameter: its optimizer slot and its ping-pong buffers (index = buffer set). */
interface Trainable extends AdamWSlot {
  values: Pair<HostTensor>;
  moments1: Pair<HostTensor>;
  moments2: Pair<HostTensor>;
}

type Pair<T> = [T, T];
type OrtRecord = Record<string, ort.Tensor>;

/** A compiled variant of the step graph and the fetch records that write its outputs into buffer set 0 or 1. */
interface Program {
  session: ort.InferenceSession;
  /** The feeds the caller supplies: graph inputs that are neither parameters nor optimizer inputs. */
  batchInputs: string[];
  outputs: Pair<OrtRecord>;
}

/** The programs of a step over several micro-batches, and the gradient-sum buffers they share. */
interface Accumulation {
  /** Per sum buffer: the running sums as feeds. */
  sums: Pair<OrtRecord>;
  /** First micro-batch: its gradients into a sum buffer. */
  first: Program;
  /** Middle micro-batches: sum + gradients, into the other sum buffer. */
  middle: Program;
  /** Last micro-batch: (sum + gradients)/k, clipped, AdamW; outputs indexed by parameter buffer set. */
  last: Program;
}

export async function createTrainStep(graph: Graph, options: TrainStepOptions): Promise<TrainStep> {
  const { loss } = options;
  if (loss.graph !== graph || loss.kind !== 'node' || loss.dtype !== 'float32' || loss.rank !== 0) {
    throw new GraphBuildError(`createTrainStep: the loss must be a float32 scalar of graph ${graph.name}, got ${loss}`);
  }
  const config: AdamWConfig = { ...ADAMW_DEFAULTS, ...options.optimizer };
  const { trainable, frozen } = assignGroups(graph, options, config);
  const grads = grad(loss, trainable.map((t) => t.param));
  trainable.forEach((t, i) => {
    if (formatShape(grads[i].shape) !== formatShape(t.param.shape)) throw new GraphBuildError(`createTrainStep: gradient ${grads[i]} does not match ${t.param}`);
  });
  // The optimizer's graph inputs are named `<prefix>.lr`, `<prefix>.m/<param>`…; each train step built on a
  // graph gets its own prefix.
  const taken = new Set(graph.inputs.map((t) => t.name));
  let prefix = 'adamw';
  for (let i = 1; taken.has(`${prefix}.lr`); i++) prefix = `adamw${i}`;
  const slots: Trainable[] = trainable.map((t, i) => {
    const initial = valueOf(t.param, options.weights);
    const copy = () => hostTensor('float32', initial.shape, (initial.data as Float32Array).slice());
    const zeros = () => hostTensor('float32', initial.shape);
    return {
      ...t,
      grad: grads[i],
      m: graph.input(`${prefix}.m/${t.param.name}`, 'float32', t.param.shape),
      v: graph.input(`${prefix}.v/${t.param.name}`, 'float32', t.param.shape),
      values: [copy(), copy()],
      moments1: [zeros(), zeros()],
      moments2: [zeros(), zeros()],
    };
  });
  const frozenValues = Object.fromEntries(frozen.map((p) => [p.name, valueOf(p, options.weights)]));
  const step = new TrainStep(graph, prefix, slots, frozenValues, config, options);
  await step.prepare();
  return step;
}

export class TrainStep {
  private updates = 0;
  /** Which buffer set holds the current parameters and moments. */
  private current = 0;
  private readonly scalars = {
    lr: scalarBuffer(),
    step: scalarBuffer(),
    gradScale: scalarBuffer(),
    loss: scalarBuffer(),
    gradNorm: scalarBuffer(),
  };
  private readonly inputs: { lr: Tensor; step: Tensor; gradScale: Tensor };
  /** Names of the graph inputs the step feeds itself (params, moments, scalars, gradient sums). */
  private readonly ownInputs: Set<string>;
  /** Per buffer set: frozen params, trainable params, moments and scalars as feeds. */
  private readonly stateFeeds: Pair<OrtRecord>;
  private fused?: Program;
  private accumulation?: Accumulation;

  constructor(
    private readonly graph: Graph,
    private readonly prefix: string,
    private readonly slots: readonly Trainable[],
    private readonly frozen: Record<string, HostTensor>,
    private readonly config: AdamWConfig,
    private readonly options: TrainStepOptions,
  ) {
    this.inputs = {
      lr: graph.input(`${prefix}.lr`, 'float32', []),
      step: graph.input(`${prefix}.step`, 'float32', []),
      gradScale: graph.input(`${prefix}.grad_scale`, 'float32', []),
    };
    const frozenFeeds = Object.fromEntries(Object.entries(frozen).map(([name, value]) => [name, toOrt(value)]));
    this.stateFeeds = pair((k) => {
      const feeds: OrtRecord = {
        ...frozenFeeds,
        [this.inputs.lr.name]: this.scalars.lr,
        [this.inputs.step.name]: this.scalars.step,
        [this.inputs.gradScale.name]: this.scalars.gradScale,
      };
      for (const s of slots) {
        feeds[s.param.name] = toOrt(s.values[k]);
        feeds[s.m.name] = toOrt(s.moments1[k]);
        feeds[s.v.name] = toOrt(s.moments2[k]);
      }
      return feeds;
    });
    this.ownInputs = new Set(Object.keys(this.stateFeeds[0]));
  }

  /** Build and compile the one-run step: forward + backward + clip + AdamW. */
  async prepare(): Promise<void> {
    this.fused = await this.updateProgram(this.slots.map((s) => s.grad), false);
  }

  /** One optimizer update from one batch, or from the gradients of several micro-batches averaged (await each). */
  async step(batch: Batch | readonly Batch[]): Promise<StepResult> {
    const micro = Array.isArray(batch) ? (batch as readonly Batch[]) : [batch as Batch];
    if (micro.length === 0) throw new Error('TrainStep.step: no batch');
    const lr = typeof this.options.lr === 'number' ? this.options.lr : this.options.lr(this.updates);
    this.scalars.lr.data[0] = lr;
    this.scalars.step.data[0] = this.updates + 1;
    this.scalars.gradScale.data[0] = 1 / micro.length;
    const state = this.stateFeeds[this.current];
    const next = 1 - this.current;
    let runMs = 0;
    let lossSum = 0;
    const run = async (program: Program, feeds: OrtRecord, fetches: OrtRecord, input: Batch) => {
      const all = { ...feeds, ...this.batchFeeds(program, input) };
      const t0 = performance.now();
      await program.session.run(all, { ...fetches, [this.options.loss.name]: this.scalars.loss });
      runMs += performance.now() - t0;
      lossSum += this.scalars.loss.data[0] as number;
    };
    if (micro.length === 1) {
      await run(this.fused!, state, this.fused!.outputs[next], micro[0]);
    } else {
      const acc = (this.accumulation ??= await this.buildAccumulation());
      let sum = 0; // the sum buffer holding the running sum
      await run(acc.first, state, acc.first.outputs[sum], micro[0]);
      for (const mb of micro.slice(1, -1)) {
        await run(acc.middle, { ...state, ...acc.sums[sum] }, acc.middle.outputs[1 - sum], mb);
        sum = 1 - sum;
      }
      await run(acc.last, { ...state, ...acc.sums[sum] }, acc.last.outputs[next], micro[micro.length - 1]);
    }
    this.current = next;
    this.updates++;
    return { loss: lossSum / micro.length, gradNorm: this.scalars.gradNorm.data[0] as number, lr, runMs };
  }

  /**
   * Current values of every parameter the loss reads, trainable and frozen. Trainable ones are views of the live
   * buffers: they stay valid through the next step() and are overwritten by the one after — copy to keep.
   */
  parameters(): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = { ...this.frozen };
    for (const s of this.slots) out[s.param.name] = s.values[this.current];
    return out;
  }

  /** Number of updates done. */
  get stepCount(): number {
    return this.updates;
  }

  /** A copy of the trainable parameters and optimizer state. */
  state(): TrainState {
    const copy = (t: HostTensor) => hostTensor(t.dtype, t.shape, (t.data as Float32Array).slice());
    const pick = (of: (s: Trainable) => Pair<HostTensor>) => Object.fromEntries(this.slots.map((s) => [s.param.name, copy(of(s)[this.current])]));
    return { step: this.updates, params: pick((s) => s.values), m: pick((s) => s.moments1), v: pick((s) => s.moments2) };
  }

  /** Resume from the state() of a step built from the same model and groups. */
  loadState(state: TrainState): void {
    for (const s of this.slots) {
      for (const [key, buffers] of [['params', s.values], ['m', s.moments1], ['v', s.moments2]] as const) {
        const value = state[key][s.param.name];
        if (!value || value.dtype !== 'float32' || formatShape(value.shape) !== formatShape(s.param.shape)) {
          throw new Error(`loadState: ${key} of ${s.param} is missing or has another shape`);
        }
        (buffers[this.current].data as Float32Array).set(value.data as Float32Array);
      }
    }
    this.updates = state.step;
  }

  /** Free the native sessions (onnxruntime writes a profile, if enabled, now). */
  async release(): Promise<void> {
    const programs = [this.fused, this.accumulation?.first, this.accumulation?.middle, this.accumulation?.last];
    for (const p of programs) await p?.session.release();
    this.fused = this.accumulation = undefined;
  }

  /** Compile clip + AdamW over `grads` (scaled by the grad_scale input when `scaled`), writing into either set. */
  private async updateProgram(grads: readonly Tensor[], scaled: boolean): Promise<Program> {
    const slots = this.slots.map((s, i) => ({ param: s.param, grad: grads[i], m: s.m, v: s.v, lrScale: s.lrScale, weightDecay: s.weightDecay }));
    const { lr, step, gradScale } = this.inputs;
    const { updates, gradNorm } = adamw(slots, { lr, step, gradScale: scaled ? gradScale : undefined }, this.config);
    return this.compile([gradNorm, ...updates.flatMap((u) => [u.param, u.m, u.v])], (k) => [
      this.scalars.gradNorm,
      ...this.slots.flatMap((s) => [toOrt(s.values[k]), toOrt(s.moments1[k]), toOrt(s.moments2[k])]),
    ]);
  }

  private async buildAccumulation(): Promise<Accumulation> {
    const sumInputs = this.slots.map((s) => this.graph.input(`${this.prefix}.grad_sum/${s.param.name}`, 'float32', s.param.shape));
    for (const t of sumInputs) this.ownInputs.add(t.name);
    const buffers = pair(() => this.slots.map((s) => toOrt(hostTensor('float32', s.values[0].shape))));
    // Fetched tensors must be distinct computed ones; Identity covers a gradient that is shared or is itself a
    // graph input (the gradient of a linear loss can be its input).
    const seen = new Set<Tensor>();
    const grads = this.slots.map(({ grad: g }) => {
      const out = g.kind !== 'node' || seen.has(g) ? ops.identity(g) : g;
      seen.add(g);
      return out;
    });
    const summed = this.slots.map((s, i) => ops.add(sumInputs[i], s.grad));
    return {
      sums: pair((k) => Object.fromEntries(sumInputs.map((t, i) => [t.name, buffers[k][i]]))),
      first: await this.compile(grads, (k) => buffers[k]),
      middle: await this.compile(summed, (k) => buffers[k]),
      last: await this.updateProgram(summed, true),
    };
  }

  /**
   * Compile the subgraph computing the loss and `fetched`, whose values `buffers(k)` receives for set k. Each
   * output keeps its tensor's own name, so onnxruntime writes it straight into the fetch buffer (a renamed output
   * would cost an Identity copy).
   */
  private async compile(fetched: readonly Tensor[], buffers: (k: number) => readonly ort.Tensor[]): Promise<Program> {
    const tensors = [this.options.loss, ...fetched];
    for (const t of tensors) if (this.graph.outputMap.get(t.name) !== t) this.graph.output(t.name, t);
    const names = tensors.map((t) => t.name);
    const emitted = emitOnnx(this.graph, { params: 'inputs', outputs: names });
    const session = await ort.InferenceSession.create(emitted.bytes, {
      intraOpNumThreads: this.options.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Each session has its own intra-op threads, which by default spin after a run. With the micro-batch
      // programs (or the caller's evaluation sessions) alternating on few cores, one session's spinning threads
      // steal the cores of the next; a lone step measured no slower without spinning.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...this.options.sessionOptions,
    });
    return {
      session,
      outputs: pair((k) => Object.fromEntries(fetched.map((t, i) => [t.name, buffers(k)[i]]))),
      batchInputs: emitted.feeds.filter((n) => !this.ownInputs.has(n)),
    };
  }

  private batchFeeds(program: Program, batch: Batch): OrtRecord {
    const feeds: OrtRecord = {};
    for (const name of program.batchInputs) {
      const v = batch[name];
      if (!v) throw new Error(`TrainStep.step: the batch has no ${name} (needs ${program.batchInputs.join(', ')})`);
      feeds[name] = v instanceof ort.Tensor ? v : toOrt(v as HostTensor);
    }
    return feeds;
  }
}

function pair<T>(make: (k: number) => T): Pair<T> {
  return [make(0), make(1)];
}

function scalarBuffer(): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(1), []);
}

function assignGroups(graph: Graph, options: TrainStepOptions, config: AdamWConfig) {
  const { leaves } = liveSubgraph(graph, [options.loss]);
  const live = new Set(graph.params.filter((p) => leaves.has(p)));
  const settings = new Map<Tensor, ParamGroup>();
  for (const group of options.groups ?? []) {
    for (const p of group.params) {
      if (settings.has(p)) throw new GraphBuildError(`createTrainStep: ${p} is in two parameter groups`);
      if (p.kind !== 'param') throw new GraphBuildError(`createTrainStep: ${p} in a parameter group is not a param`);
      if (!live.has(p) && !group.frozen) throw new GraphBuildError(`createTrainStep: the loss does not depend on trainable ${p}`);
      settings.set(p, group);
    }
  }
  const trainable: { param: Tensor; lrScale: number; weightDecay: number }[] = [];
  const frozen: Tensor[] = [];
  for (const p of live) {
    const group: Partial<ParamGroup> = settings.get(p) ?? {};
    if (group.frozen) frozen.push(p);
    else if (p.dtype !== 'float32') throw new GraphBuildError(`createTrainStep: trainable ${p} must be float32 (freeze it otherwise)`);
    else trainable.push({ param: p, lrScale: group.lrScale ?? 1, weightDecay: group.weightDecay ?? config.weightDecay });
  }
  if (trainable.length === 0) throw new GraphBuildError('createTrainStep: nothing to train');
  return { trainable, frozen };
}

function valueOf(p: Tensor, weights: TrainStepOptions['weights']): HostTensor {
  const value = weights(p.name);
  if (!value || value.dtype !== p.dtype || formatShape(value.shape) !== formatShape(p.shape)) {
    throw new GraphBuildError(`createTrainStep: no ${p.dtype}${formatShape(p.shape)} value for ${p.name}`);
  }
  return value;
}
