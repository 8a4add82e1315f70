// Model benchmark (npm run bench:model): key=value lines, medians after warm-up, random fp32 weights.
// FACE_LLAVA_BENCH_QUICK=1 shrinks everything (a smoke test, not numbers).
//
//   params, small_config               the ~15M-parameter decoder we train on 2 cores
//   prefill_tokens_per_s               its KV-cached prefill of one 128-token prompt
//   decode_tokens_per_s                its one-token decode steps (batch 1), right after that prompt
//   decode_batch4_tokens_per_s         the same with 4 sequences stepped together (tokens of all 4 per second)
//   layer7b_prefill_tokens_per_s       ONE LLaMA-7B-shaped layer (hidden 4096, 32 heads, intermediate 11008),
//   layer7b_decode_tokens_per_s        prefill of 512 tokens, then decode steps with 512+ cached positions
//                                      (vocabulary 16, so the figures are the layer's, not lm_head's)
import { defaultThreads, hostTensor, type HostTensor } from '../src/graph/index.js';
import { LlamaRunner } from '../src/model/kv-cache.js';
import { countParams, llamaParamShapes, parseLlamaConfig, type LlamaConfig } from '../src/model/llama.js';

const quick = process.env.FACE_LLAVA_BENCH_QUICK === '1';

function print(key: string, value: number | string): void {
  console.log(`${key}=${typeof value === 'number' ? +value.toPrecision(4) : value}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Random weights: norms 1, matrices uniform in ±√(3/fan_in) (unit-variance activations). */
function randomWeights(cfg: LlamaConfig): Map<string, HostTensor> {
  const weights = new Map<string, HostTensor>();
  for (const [name, shape] of llamaParamShapes(cfg)) {
    const t = hostTensor('float32', shape);
    const d = t.data as Float32Array;
    if (shape.length === 1) d.fill(1);
    else {
      const scale = Math.sqrt(3 / shape[1]);
      for (let i = 0; i < d.length; i++) d[i] = (Math.random() * 2 - 1) * scale;
    }
    weights.set(name, t);
  }
  return weights;
}

function randomIds(cfg: LlamaConfig, n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(Math.random() * cfg.vocab_size));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

interface Rates {
  prefill: number;
  decode: number;
}

/** Prefill `batch` prompts of `promptLength` tokens, then decode steps; tokens per second of each (medians). */
async function measure(runner: LlamaRunner, cfg: LlamaConfig, o: { batch: number; promptLength: number; prefills: number; steps: number }): Promise<Rates> {
  const prompts = () => Array.from({ length: o.batch }, () => ({ ids: randomIds(cfg, o.promptLength) }));
  const stepAll = () => runner.step(Array.from({ length: o.batch }, (_, sequence) => ({ sequence, token: randomIds(cfg, 1)[0] })));
  const prefillTimes: number[] = [];
  for (let r = 0; r <= o.prefills; r++) {
    const t = await timed(() => runner.prefill(prompts()));
    if (r > 0) prefillTimes.push(t); // the first run is warm-up
  }
  const warmup = 3;
  const stepTimes: number[] = [];
  for (let s = 0; s < warmup + o.steps; s++) {
    const t = await timed(stepAll);
    if (s >= warmup) stepTimes.push(t);
  }
  return { prefill: (o.batch * o.promptLength) / median(prefillTimes), decode: o.batch / median(stepTimes) };
}

async function benchSmall(): Promise<void> {
  const cfg = parseLlamaConfig(
    quick
      ? { vocab_size: 1024, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 176, tie_word_embeddings: true }
      : { vocab_size: 32000, hidden_size: 288, num_hidden_layers: 6, num_attention_heads: 6, intermediate_size: 768, tie_word_embeddings: true },
  );
  print('small_config', `d${cfg.hidden_size}_L${cfg.num_hidden_layers}_h${cfg.num_attention_heads}_kv${cfg.num_key_value_heads}_ff${cfg.intermediate_size}_vocab${cfg.vocab_size}_tied`);
  print('params', countParams(cfg));
  const weights = randomWeights(cfg);
  const runner = await LlamaRunner.create(cfg, (n) => weights.get(n));
  const promptLength = quick ? 16 : 128;
  const single = await measure(runner, cfg, { batch: 1, promptLength, prefills: quick ? 2 : 7, steps: quick ? 8 : 64 });
  print('prefill_tokens_per_s', single.prefill);
  print('decode_tokens_per_s', single.decode);
  const batched = await measure(runner, cfg, { batch: 4, promptLength, prefills: quick ? 1 : 3, steps: quick ? 8 : 32 });
  print('decode_batch4_tokens_per_s', batched.decode);
  await runner.release();
}

async function benchLayer7b(): Promise<void> {
  const cfg = parseLlamaConfig(
    quick
      ? { vocab_size: 16, hidden_size: 512, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 1376 }
      : { vocab_size: 16, hidden_size: 4096, num_hidden_layers: 1, num_attention_heads: 32, intermediate_size: 11008, max_position_embeddings: 4096 },
  );
  const promptLength = quick ? 64 : 512;
  const weights = randomWeights(cfg);
  const runner = await LlamaRunner.create(cfg, (n) => weights.get(n));
  weights.clear(); // onnxruntime holds its own copy
  const rates = await measure(runner, cfg, { batch: 1, promptLength, prefills: quick ? 1 : 3, steps: quick ? 4 : 16 });
  print('layer7b_prefill_tokens_per_s', rates.prefill);
  print('layer7b_decode_tokens_per_s', rates.decode);
  await runner.release();
}

print('threads', defaultThreads());
await benchSmall();
await benchLayer7b();
