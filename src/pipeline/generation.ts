// Questions about one face's media answered in one batch: the media is preprocessed and encoded once, its visual
// tokens spliced into every prompt, and the answers generated together; each stage is timed.
import type { FaceMedia } from '../eval/run.js';
import type { HostTensor } from '../graph/host.js';
import { usesLandmarks, type FaceLlava } from '../model/face-llava.js';
import type { Pretrained } from '../model/pretrained.js';
import type { Generation } from '../text/generate.js';
import type { SamplingOptionsInput } from '../text/sampling.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { mediaTensors, promptIds } from './requests.js';

export interface AnswerOptions {
  maxNewTokens: number;
  /** Question i samples with seed + i. */
  sampling: SamplingOptionsInput;
  /** Ids that end an answer (default: end of sequence); [] generates exactly maxNewTokens. */
  stopIds?: number[];
  /** Each answer's text as it becomes final, by question index; the pieces concatenate to the answer. */
  onText?: (question: number, delta: string) => void;
}

export interface ModelTimings {
  /** Face crops to encoder pixels. */
  preprocessMs: number;
  /** The visual path (encoder, projector, landmark branch), once for all the questions. */
  encodeMs: number;
  /** Until the first token of the batch: prompt embeddings and the decoder's pass over the prompts. */
  prefillMs: number;
  /** The remaining tokens, one decoder step each (all answers stepped together). */
  generateMs: number;
  /** New tokens over all the answers. */
  tokens: number;
}

/**
 * The model with its visual tokens already computed. FaceLlava.generate encodes each request's media, which would
 * encode the same media once per question; this view shares everything with the model (its compiled sessions and
 * decoder) and only answers encodeMedia with the tokens given.
 */
function withVisualTokens(model: FaceLlava, visual: HostTensor): FaceLlava {
  const view = Object.create(model) as FaceLlava;
  view.encodeMedia = async () => visual;
  return view;
}

/** The tokenizer, calling `onToken` whenever generation takes a token: the first call marks the end of prefill. */
function clockedTokenizer(tokenizer: Tokenizer, onToken: () => void): Tokenizer {
  return {
    vocabSize: tokenizer.vocabSize,
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    unkId: tokenizer.unkId,
    padId: tokenizer.padId,
    encode: (text, options) => tokenizer.encode(text, options),
    decode: (ids, options) => tokenizer.decode(ids, options),
    tokenToString: (id) => tokenizer.tokenToString(id),
    isSpecial: (id) => tokenizer.isSpecial(id),
    createDecoder(options) {
      const decoder = tokenizer.createDecoder(options);
      // A sequence's first token is pushed, or (when it is a stop id) ends the sequence with a flush.
      return {
        push(id) {
          onToken();
          return decoder.push(id);
        },
        flush() {
          onToken();
          return decoder.flush();
        },
      };
    },
  };
}

export async function answerQuestions(
  pretrained: Pretrained,
  media: FaceMedia,
  instructions: readonly string[],
  options: AnswerOptions,
): Promise<{ generations: Generation[]; timings: ModelTimings }> {
  const { model, tokenizer } = pretrained;
  const start = performance.now();
  const { frames, landmarks } = await mediaTensors(media, pretrained.preprocess, usesLandmarks(model.config));
  const preprocessed = performance.now();
  const visual = await model.encodeMedia(frames, landmarks);
  const encoded = performance.now();
  let firstToken: number | undefined;
  const generations = await withVisualTokens(model, visual).generate(
    instructions.map((instruction) => ({ ids: promptIds(instruction, media.crops.length, tokenizer), frames, landmarks })),
    {
      tokenizer: clockedTokenizer(tokenizer, () => (firstToken ??= performance.now())),
      maxNewTokens: options.maxNewTokens,
      sampling: options.sampling,
      stopIds: options.stopIds,
      onText: options.onText,
    },
  );
  const end = performance.now();
  firstToken ??= end;
  return {
    generations,
    timings: {
      preprocessMs: preprocessed - start,
      encodeMs: encoded - preprocessed,
      prefillMs: firstToken - encoded,
      generateMs: end - firstToken,
      tokens: generations.reduce((sum, g) => sum + g.ids.length, 0),
    },
  };
}
