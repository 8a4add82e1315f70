// Engine benchmark (npm run bench:engine): key=value lines, each ratio against a baseline measured in the same
// process. FACE_LLAVA_BENCH_QUICK=1 runs a smaller decoder (for a smoke test, not for numbers).
//
//   matmul_gflops              fp32 1024³ MatMul through onnxruntime directly (a hand-built one-node model),
//                              median of all its runs: before the train steps and interleaved with them
//   engine_matmul_ratio        the same MatMul built with Graph/compile ÷ the baseline (interleaved runs)
//   train_step_flops_fraction  LLaMA-style decoder train step (llama.ts): 6·params·tokens/s ÷ matmul_gflops,
//                              params counting the input embedding (…_nonembedding: without it)
//   train_step_host_ms         per step, this process's own work outside the onnxruntime run call
//   train_step_overhead_ms     per step, wall time outside onnxruntime's execution (its profiler's model_run):
//                              the host work plus the binding converting feeds and copying out fetches
//
// The machine is shared and its speed drifts: compare ratios, and medians over interleaved runs.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { Graph, compile, defaultThreads, f32, type HostTensor, i64, ops, toOrt } from '../src/graph/index.js';
import { createTrainStep } from '../src/graph/trainer-step.js';
import { causalLmLoss, countParams, decoderForward, embedTokens, llamaParamShapes, parseLlamaConfig } from '../src/model/llama.js';

const { onnx } = onnxProto;
const threads = defaultThreads();
const quick = process.env.FACE_LLAVA_BENCH_QUICK === '1';
/** Every timed run of the baseline MatMul, in GFLOPS: before the train steps and between them. */
const baselineGflops: number[] = [];

function print(key: string, value: number | string): void {
  console.log(`${key}=${typeof value === 'number' ? +value.toPrecision(4) : value}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function randomTensor(shape: number[], scale = 1): HostTensor {
  const t = f32(shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = (Math.random() * 2 - 1) * scale;
  return t;
}

// ---------------------------------------------------------------- matmul: direct onnxruntime vs the engine

const N = 1024;
const MATMUL_FLOP = 2 * N ** 3;

/** The baseline session; `spinning`: onnxruntime's default, intra-op threads spinning after a run (see benchMatmul). */
async function directMatmul(spinning: boolean): Promise<ort.InferenceSession> {
  const info = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: N }, { dimValue: N }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 10,
    opsetImport: [{ domain: '', version: 21 }],
    graph: { name: 'matmul', node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }], input: [info('a'), info('b')], output: [info('c')] },
  });
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: spinning ? {} : { session: { intra_op: { allow_spinning: '0' } } },
  });
}

async function timeMs(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/**
 * The engine's ratio to the baseline, and a probe (one baseline run → GFLOPS) to interleave with the train steps.
 * The probe's session does not spin, like the train step's: onnxruntime's threads spin after a run by default,
 * and two sessions run alternately then take the cores from each other (measured: half the GFLOPS).
 */
async function benchMatmul(): Promise<{ probe: () => Promise<number>; ratio: number }> {
  const a = randomTensor([N, N]);
  const b = randomTensor([N, N]);
  const direct = await directMatmul(true);
  const directFeeds = { a: toOrt(a), b: toOrt(b) };
  const g = new Graph('matmul');
  g.output('c', ops.matmul(g.input('a', 'float32', [N, N]), g.input('b', 'float32', [N, N])));
  const engine = await compile(g, { params: 'inputs', noCache: true });
  const directMs: number[] = [];
  const engineMs: number[] = [];
  // Blocks of runs, ABAB so that drift in the machine's speed hits both alike; the first runs of a block are
  // warm-up (and wait out the other session's spinning threads).
  for (let block = 0; block < 4; block++) {
    const [run, times] = block % 2 === 0 ? [() => direct.run(directFeeds), directMs] : [() => engine.run({ a, b }), engineMs];
    for (let i = 0; i < 20; i++) {
      const ms = await timeMs(run);
      if (i >= 5) times.push(ms);
    }
  }
  await engine.release();
  await direct.release();
  baselineGflops.push(...directMs.map((ms) => MATMUL_FLOP / ms / 1e6));
  const quiet = await directMatmul(false);
  return { probe: async () => MATMUL_FLOP / (await timeMs(() => quiet.run(directFeeds))) / 1e6, ratio: median(directMs) / median(engineMs) };
}

// ---------------------------------------------------------------- train step: LLaMA-style decoder

const cfg = parseLlamaConfig(
  quick
    ? { vocab_size: 512, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 176, max_position_embeddings: 64 }
    : { vocab_size: 8192, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 6, intermediate_size: 1024, max_position_embeddings: 256 },
);
const batch = quick ? 2 : 8;
const seq = quick ? 64 : 256;
const steps = quick ? 3 : 8;
const warmup = 3; // the first steps page in the second buffer set and the moments

/** The decoder's loss and initial weights (norm gains 1, matrices uniform ±0.02). */
function decoderLoss(g: Graph) {
  const ids = g.input('input_ids', 'int64', [batch, seq]);
  const labels = g.input('labels', 'int64', [batch, seq]);
  const loss = causalLmLoss(decoderForward(g, cfg, embedTokens(g, cfg, ids)), labels);
  const init = new Map<string, HostTensor>();
  for (const [name, shape] of llamaParamShapes(cfg)) init.set(name, name.endsWith('norm.weight') ? f32(shape, new Float32Array(shape[0]).fill(1)) : randomTensor(shape, 0.02));
  return { loss, weights: (n: string) => init.get(n) };
}

function tokens(): { input_ids: HostTensor; labels: HostTensor } {
  const ids = i64([batch, seq], Array.from({ length: batch * seq }, () => Math.floor(Math.random() * cfg.vocab_size)));
  return { input_ids: ids, labels: ids };
}

/** Seconds per step, with 1024³ MatMuls through the baseline session interleaved to track the machine's speed. */
async function timeSteps(matmul: () => Promise<number>): Promise<{ seconds: number; hostMs: number }> {
  const g = new Graph('llama-train');
  const t0 = performance.now();
  const train = await createTrainStep(g, { ...decoderLoss(g), lr: 1e-3, optimizer: { maxGradNorm: 1 }, threads });
  print('train_step_compile_s', (performance.now() - t0) / 1000);
  const stepMs: number[] = [];
  const hostMs: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    // The first MatMuls after a step run cold (their threads asleep, caches holding the step's data): warm-up.
    for (let k = 0; k < 5; k++) {
      const gflops = await matmul();
      if (k >= 2) baselineGflops.push(gflops);
    }
    const s0 = performance.now();
    const r = await train.step(tokens());
    const wall = performance.now() - s0;
    if (i >= warmup) {
      stepMs.push(wall);
      hostMs.push(wall - r.runMs);
    }
  }
  await train.release();
  return { seconds: median(stepMs) / 1000, hostMs: median(hostMs) };
}

/**
 * Per-step time outside onnxruntime's execution: wall time minus the `model_run` span of onnxruntime's profiler
 * (what remains is the binding converting feeds and fetches, and this process's own work).
 */
async function overheadMs(): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-engine-'));
  const g = new Graph('llama-train');
  const train = await createTrainStep(g, {
    ...decoderLoss(g),
    lr: 1e-3,
    threads,
    sessionOptions: { enableProfiling: true, profileFilePrefix: path.join(dir, 'train') },
  });
  const wallMs: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const s0 = performance.now();
    await train.step(tokens());
    wallMs.push(performance.now() - s0);
  }
  await train.release();
  const [file] = await readdir(dir);
  const events = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { name: string; dur: number }[];
  await rm(dir, { recursive: true });
  const runMs = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1000);
  return median(wallMs.slice(warmup).map((w, i) => w - runMs[warmup + i]));
}

const { probe, ratio } = await benchMatmul();
const timed = await timeSteps(probe);
const params = countParams(cfg);
const embedding = cfg.vocab_size * cfg.hidden_size;
const achieved = (n: number) => (6 * n * batch * seq) / timed.seconds / 1e9;
const matmulGflops = median(baselineGflops);
print('threads', threads);
print('matmul_gflops', matmulGflops);
print('engine_matmul_ratio', ratio);
print('train_step_config', `llama_d${cfg.hidden_size}_L${cfg.num_hidden_layers}_h${cfg.num_attention_heads}_ff${cfg.intermediate_size}_vocab${cfg.vocab_size}_seq${seq}_batch${batch}`);
print('train_step_params', params);
print('train_step_s', timed.seconds);
print('train_step_flops_fraction', achieved(params) / matmulGflops);
print('train_step_flops_fraction_nonembedding', achieved(params - embedding) / matmulGflops);
print('train_step_host_ms', timed.hostMs);
print('train_step_overhead_ms', await overheadMs());
