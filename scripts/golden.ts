// Checks the model family against the golden reference tensors in ../shared/golden (see its README): for each
// case, builds the graphs from the case's config, binds the case's weights through the checkpoint loader, runs
// them on the case's inputs and measures the largest absolute difference from each reference output.
// `npm run golden` prints `golden <case> max_abs_err=<number>` per case and fails when any exceeds 1e-4;
// the model tests import the same cases.
import { pathToFileURL } from 'node:url';
import { Graph, type Tensor } from '../src/graph/graph.js';
import { i64, maxAbsDiff, type HostTensor } from '../src/graph/host.js';
import { compile } from '../src/graph/session.js';
import { declaredParams, loadWeights, tensorSource } from '../src/model/checkpoint.js';
import { GOLDEN_PIPELINE_CONFIG } from '../src/model/config.js';
import { buildTrainingGraph, FaceLlava, IO, spliceLayout, unusedCheckpointKeys } from '../src/model/face-llava.js';
import { frgca, simpleCrossAttention, SIMPLE_CROSS_ATTENTION_UNUSED } from '../src/model/frgca.js';
import { frlp } from '../src/model/frlp.js';
import { decoderForward, embedTokens, parseLlamaConfig } from '../src/model/llama.js';
import { type FaceRegion, IBUG68_REGIONS, rppMask } from '../src/model/regions.js';
import { clipVitEncoder } from '../src/model/vision/encoder.js';
import { clipVisionHiddenStates } from '../src/model/vision/vit.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';
import { type GoldenCase, inputsOf, loadGolden, outputsOf, weightsOf } from '../test/helpers/golden.js';

export const TOLERANCE = 1e-4;

/** Largest absolute error of each reference output of a case, by output name. */
export type CaseErrors = Record<string, number>;

/**
 * Compile `g` with the case's weights (every one of them must be declared, or listed in `unused`), run it on
 * `feeds` and compare the outputs named in `expected` (graph output name → reference output name).
 */
async function check(gc: GoldenCase, g: Graph, feeds: Record<string, HostTensor>, expected: Record<string, string>, unused: readonly string[] = []): Promise<CaseErrors> {
  const { weights } = loadWeights(declaredParams(g), tensorSource(weightsOf(gc)), { unused });
  const outputs = Object.keys(expected);
  const session = await compile(g, { params: 'initializers', weights: (name) => weights.get(name), outputs, noCache: true });
  const got = await session.run(feeds);
  await session.release();
  const reference = outputsOf(gc);
  return Object.fromEntries(outputs.map((name) => [expected[name], maxAbsDiff(got[name], reference.get(expected[name])!)]));
}

function inputOf(g: Graph, gc: GoldenCase, name: string): Tensor {
  const t = inputsOf(gc).get(name)!;
  return g.input(name, t.dtype, t.shape);
}

function regionsOf(gc: GoldenCase): FaceRegion[] {
  return (gc.config.regions as [string, number, number][]).map(([name, start, end]) => ({ name, start, end }));
}

async function frlpCase(): Promise<CaseErrors> {
  const gc = loadGolden('frlp');
  const g = new Graph('golden_frlp');
  const landmarks = inputOf(g, gc, 'landmarks');
  g.output('region_tokens', g.scope('model', () => frlp(landmarks, regionsOf(gc), gc.config.hidden_size as number)));
  return check(gc, g, Object.fromEntries(inputsOf(gc)), { region_tokens: 'region_tokens' });
}

async function frgcaCase(): Promise<CaseErrors> {
  const gc = loadGolden('frgca');
  const { hidden_size: width, num_heads: heads, grid: size } = gc.config as Record<string, number>;
  const g = new Graph('golden_frgca');
  const landmarks = inputOf(g, gc, 'landmarks');
  const visual = inputOf(g, gc, 'visual_tokens');
  const visualCls = inputOf(g, gc, 'visual_tokens_cls');
  g.scope('model', () => {
    const regions = frlp(landmarks, IBUG68_REGIONS, width);
    const refine = (tokens: Tensor, rpp: boolean, cls: boolean) =>
      frgca(tokens, regions, landmarks, { heads, rppMask: rpp, grid: { size, cls }, regions: IBUG68_REGIONS });
    g.output('rpp_mask', rppMask(landmarks, { size, cls: false }, IBUG68_REGIONS));
    g.output('refined', refine(visual, true, false));
    g.output('refined_cls', refine(visualCls, true, true));
    g.output('nomask_refined', refine(visual, false, false));
  });
  const names = ['rpp_mask', 'refined', 'refined_cls', 'nomask_refined'];
  return check(gc, g, Object.fromEntries(inputsOf(gc)), Object.fromEntries(names.map((n) => [n, n])));
}

async function simpleXattnCase(): Promise<CaseErrors> {
  const gc = loadGolden('simple_xattn');
  const { hidden_size: width, num_heads: heads, branch_scale: branchScale, layer_norm_eps: layerNormEps } = gc.config as Record<string, number>;
  const g = new Graph('golden_simple_xattn');
  const landmarks = inputOf(g, gc, 'landmarks');
  const visual = inputOf(g, gc, 'visual_tokens');
  g.scope('model', () => g.output('refined', simpleCrossAttention(visual, frlp(landmarks, IBUG68_REGIONS, width), { heads, branchScale, layerNormEps })));
  const unused = SIMPLE_CROSS_ATTENTION_UNUSED.map((k) => `model.${k}`);
  return check(gc, g, Object.fromEntries(inputsOf(gc)), { refined: 'refined' }, unused);
}

async function vitCase(): Promise<CaseErrors> {
  const gc = loadGolden('vit');
  const c = gc.config as Record<string, number> & { hidden_act: 'gelu' | 'quick_gelu' };
  const g = new Graph('golden_vit');
  const states = clipVisionHiddenStates(inputOf(g, gc, 'pixel_values'), {
    imageSize: c.image_size,
    patchSize: c.patch_size,
    channels: 3,
    hiddenSize: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    hiddenAct: c.hidden_act,
    layerNormEps: c.layer_norm_eps,
  });
  g.output('select_layer_minus2', states[states.length - 2]);
  g.output('last_hidden_state', states[states.length - 1]);
  const unused = ['vision_model.post_layernorm.weight', 'vision_model.post_layernorm.bias'];
  return check(gc, g, Object.fromEntries(inputsOf(gc)), { select_layer_minus2: 'select_layer_minus2', last_hidden_state: 'last_hidden_state' }, unused);
}

async function llamaCase(): Promise<CaseErrors> {
  const gc = loadGolden('llama');
  const cfg = parseLlamaConfig(gc.config);
  const g = new Graph('golden_llama');
  g.output('logits', decoderForward(g, cfg, embedTokens(g, cfg, inputOf(g, gc, 'input_ids'))));
  return check(gc, g, Object.fromEntries(inputsOf(gc)), { logits: 'logits' });
}

/** The golden pipeline's prompt: its ids before and after one `<image>` placeholder. */
export function pipelinePrompt(gc: GoldenCase): number[] {
  const ids = (name: string) => Array.from(inputsOf(gc).get(name)!.data as BigInt64Array, Number);
  return [...ids('ids_before_image'), GOLDEN_PIPELINE_CONFIG.image_token_index, ...ids('ids_after_image')];
}

async function pipelineCase(): Promise<CaseErrors> {
  const gc = loadGolden('pipeline');
  const cfg = GOLDEN_PIPELINE_CONFIG;
  if (cfg.vision.type !== 'clip_vit') throw new Error('the golden pipeline uses a ViT');
  const encoder = clipVitEncoder(cfg.vision);
  const g = buildTrainingGraph(cfg, encoder);
  const inputs = inputsOf(gc);
  const landmarks = inputs.get('landmarks')!; // [B = 1, T = 1, 68, 2]: one frame
  const layout = spliceLayout([pipelinePrompt(gc)], { tokensPerFrame: encoder.grid.size ** 2, imageTokenIndex: cfg.image_token_index });
  const feeds = {
    [IO.pixels]: inputs.get('pixel_values')!,
    [IO.landmarks]: { ...landmarks, shape: landmarks.shape.slice(1) },
    [IO.textIds]: layout.textIds,
    [IO.rows]: layout.rows,
    [IO.attentionMask]: layout.attentionMask,
  };
  const errors = await check(gc, g, feeds, { [IO.visualTokens]: 'visual_tokens', [IO.logits]: 'logits' }, unusedCheckpointKeys(cfg, encoder));
  return { ...errors, greedy_ids: await pipelineGreedyError(gc) };
}

/** Greedy decoding through the inference path (media encoded once, KV-cached decoder, the text side's loop). */
async function pipelineGreedyError(gc: GoldenCase): Promise<number> {
  const inputs = inputsOf(gc);
  const reference = outputsOf(gc).get('greedy_ids')!;
  const { model } = await FaceLlava.fromCheckpoint(GOLDEN_PIPELINE_CONFIG, tensorSource(weightsOf(gc)), { maxNewTokens: reference.shape[0] });
  const landmarks = inputs.get('landmarks')!;
  const [generation] = await model.generate(
    [{ ids: pipelinePrompt(gc), frames: inputs.get('pixel_values')!, landmarks: { ...landmarks, shape: landmarks.shape.slice(1) } }],
    { tokenizer: llamaTokenizer(), maxNewTokens: reference.shape[0], stopIds: [] },
  );
  await model.release();
  return maxAbsDiff(i64([generation.ids.length], generation.ids), reference);
}

export const GOLDEN_CASES: Record<string, () => Promise<CaseErrors>> = {
  frlp: frlpCase,
  frgca: frgcaCase,
  simple_xattn: simpleXattnCase,
  vit: vitCase,
  llama: llamaCase,
  pipeline: pipelineCase,
};

async function main(): Promise<void> {
  let failed = false;
  for (const [name, run] of Object.entries(GOLDEN_CASES)) {
    try {
      const errors = await run();
      const worst = Math.max(...Object.values(errors));
      const bad = !(worst <= TOLERANCE);
      failed ||= bad;
      const detail = Object.entries(errors).map(([k, v]) => `${k}=${v.toExponential(2)}`).join(' ');
      console.log(`golden ${name} max_abs_err=${worst}${bad ? ` FAIL (${detail})` : ''}`);
    } catch (e) {
      failed = true;
      console.log(`golden ${name} max_abs_err=NaN ERROR ${(e as Error).message}`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
