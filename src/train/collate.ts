// A micro-batch as the training graph's feeds: the cached encoder tokens and landmarks of its frames (in the
// order of their placeholders), the token ids spliced with right padding, and the positions whose next token is an
// answer token with those tokens (everything else — padding, visual positions, prompt — is not a target).
import { f32 } from '../graph/host.js';
import type { Batch } from '../graph/trainer-step.js';
import type { FaceLlavaConfig } from '../model/config.js';
import { IO, spliceLayout, usesLandmarks, visualTokensPerFrame } from '../model/face-llava.js';
import { NUM_LANDMARKS } from '../model/regions.js';
import type { Example } from './data.js';
import type { FeatureStore } from './features.js';
import { ANSWER_LABELS, ANSWER_POSITIONS, answerTargets, ENCODER_TOKENS } from './graph.js';

export interface Collated {
  feeds: Batch;
  /** Real (non-padding) positions: what tokens/s counts. */
  tokens: number;
  /** Positions the loss counts. */
  answerTokens: number;
}

/** `leadWeight` (default 1: every answer token alike) counts each example's first sentence that many times (graph.ts). */
export async function collate(examples: readonly Example[], cfg: FaceLlavaConfig, store: FeatureStore, leadWeight = 1): Promise<Collated> {
  const frames = examples.flatMap((e) => e.frames);
  const layout = spliceLayout(
    examples.map((e) => Array.from(e.ids)),
    { tokensPerFrame: visualTokensPerFrame(cfg), imageTokenIndex: cfg.image_token_index },
    examples.map((e) => Array.from(e.labels)),
  );
  const targets = answerTargets(layout.labels!, leadWeight > 1 ? { tokens: examples.map((e) => e.leadTokens), weight: leadWeight } : undefined);
  const feeds: Batch = {
    [ENCODER_TOKENS]: await store.read(frames),
    [IO.textIds]: layout.textIds,
    [IO.rows]: layout.rows,
    [IO.attentionMask]: layout.attentionMask,
    [ANSWER_POSITIONS]: targets.positions,
    [ANSWER_LABELS]: targets.labels,
  };
  if (usesLandmarks(cfg)) {
    const landmarks = f32([frames.length, NUM_LANDMARKS, 2]);
    let at = 0;
    for (const e of examples) {
      (landmarks.data as Float32Array).set(e.landmarks, at);
      at += e.landmarks.length;
    }
    feeds[IO.landmarks] = landmarks;
  }
  return {
    feeds,
    tokens: examples.reduce((n, e) => n + e.length, 0),
    answerTokens: examples.reduce((n, e) => n + e.answerTokens, 0),
  };
}
