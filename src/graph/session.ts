// Sessions: a Graph compiled once into an onnxruntime InferenceSession and run with named host tensors.
// Compiled sessions are cached by the content hash of the emitted model, so building the same graph twice
// (e.g. a model re-created per request) does not compile twice.
import { createHash } from 'node:crypto';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, TypedArray } from './dtype.js';
import type { Graph } from './graph.js';
import type { HostTensor } from './host.js';
import { emitOnnx, type EmitOptions } from './onnx.js';

export interface CompileOptions extends EmitOptions {
  /** Intra-op threads; default all cores. */
  threads?: number;
  /** onnxruntime graph optimization level (default `all`). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Keep the compiled session out of the cache (e.g. one-off graphs holding large initializers). */
  noCache?: boolean;
  /**
   * Let intra-op threads spin after a run (onnxruntime's default). Off by default: each session has its own
   * threads, and with several sessions alternating on few cores (encoder, decoder, train step) one session's
   * spinning threads steal the cores of the next — a 1024³ matmul fell from ~390 to ~150 GFLOPS that way.
   */
  spinning?: boolean;
}

export type Feed = HostTensor | ort.Tensor;

export interface RunOptions {
  /** Which outputs to compute (default: all the session was compiled for). */
  outputs?: readonly string[];
  /** Pre-allocated output buffers, written in place (onnxruntime's CPU provider honours them). */
  into?: Record<string, HostTensor>;
}

export class Session {
  constructor(
    readonly session: ort.InferenceSession,
    /** Names to feed: runtime inputs, and parameters when they are fed (see EmitOptions.params). */
    readonly feeds: readonly string[],
    readonly outputs: readonly string[],
  ) {}

  async run(feeds: Record<string, Feed>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.feeds) {
      const v = feeds[name];
      if (!v) throw new Error(`session run: missing feed ${name}`);
      ortFeeds[name] = v instanceof ort.Tensor ? v : toOrt(v as HostTensor);
    }
    const wanted = options.outputs ?? this.outputs;
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of wanted) {
      if (!this.outputs.includes(name)) throw new Error(`session run: no output ${name} (outputs: ${this.outputs.join(', ')})`);
      const into = options.into?.[name];
      fetches[name] = into ? toOrt(into) : null;
    }
    const result = await this.session.run(ortFeeds, fetches);
    const out: Record<string, HostTensor> = {};
    for (const name of wanted) out[name] = options.into?.[name] ?? fromOrt(result[name]);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const cache = new Map<string, Promise<Session>>();

export async function compile(graph: Graph, options: CompileOptions): Promise<Session> {
  const emitted = emitOnnx(graph, options);
  const threads = options.threads ?? defaultThreads();
  const optimization = options.optimization ?? 'all';
  const spinning = options.spinning ?? false;
  const key = createHash('sha256').update(emitted.bytes).update(`|${threads}|${optimization}|${spinning}`).digest('hex');
  if (!options.noCache) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const created = ort.InferenceSession.create(emitted.bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimization,
    executionMode: 'sequential',
    extra: spinning ? {} : { session: { intra_op: { allow_spinning: '0' } } },
  }).then((s) => new Session(s, emitted.feeds, emitted.outputs));
  if (!options.noCache) {
    cache.set(key, created);
    created.catch(() => cache.delete(key));
  }
  return created;
}

/** Drop all cached sessions (their native memory is freed when released). */
export async function clearSessionCache(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const s of await Promise.allSettled(all)) if (s.status === 'fulfilled') await s.value.release();
}

export function defaultThreads(): number {
  const env = Number(process.env.FACE_LLAVA_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return os.availableParallelism();
}

export function toOrt(t: HostTensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new Error('onnxruntime-node takes no bfloat16 tensors: convert to float32 on load');
  // onnxruntime's type strings match ours for every other dtype (bool held as Uint8Array).
  return new ort.Tensor(t.dtype as Exclude<DType, 'bfloat16'>, t.data as never, [...t.shape]);
}

export function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as TypedArray };
}
