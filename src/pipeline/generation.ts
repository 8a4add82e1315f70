// Questions about faces' media answered in one batch: each piece of media is preprocessed and encoded once, however
// many questions ask about it, its visual tokens spliced into those questions' prompts, and the answers generated
// together; each stage is timed. Analysis (pipeline.ts) asks one face several questions, evaluation (eval/run.ts)
// several faces one question each.
import { f32, type HostTensor } from '../graph/host.js';
import { usesLandmarks, type EncodedMediaRequest } from '../model/face-llava.js';
import type { Pretrained } from '../model/pretrained.js';
import type { Generation } from '../text/generate.js';
import type { SamplingOptionsInput } from '../text/sampling.js';
import type { Task } from '../data/build/types.js';
import { labelGuide } from './label-guides.js';
import { mirrorMean, withMirrored, withMirroredLandmarks } from '../model/mirror.js';
import { meanRows } from '../model/label-heads.js';
import type { DecodingGuide } from '../text/guide.js';
import { mediaTensors, promptIds, type FaceMedia } from './requests.js';

/** A question about a face's media; questions holding the same media object share its encoding. */
export interface Question {
  media: FaceMedia;
  instruction: string;
  /** The task whose question `instruction` is: its label is then chosen by the task's decision rule
   * (./label-guides.ts) unless AnswerOptions.labelRules is false. */
  task?: Task;
}

export interface AnswerOptions {
  /** Longest answer in tokens (default: the model directory's max_new_tokens). */
  maxNewTokens?: number;
  /** Over the model directory's temperature and top-k; question i samples with seed + i. */
  sampling?: SamplingOptionsInput;
  /** Ids that end an answer (default: end of sequence); [] generates exactly maxNewTokens. */
  stopIds?: number[];
  /** Each answer's text as it becomes final, by question index; the pieces concatenate to the answer. */
  onText?: (question: number, delta: string) => void;
  /** Choose the labels of questions with a task by their decision rules (default true); false samples them. */
  labelRules?: boolean;
  /** Pool the model's label heads into those rules, where it has them (default true); false: the decoder alone. */
  labelHeads?: boolean;
  /** The heads' share w of the pooled decision (default: config.json's `label_heads.weight`). */
  headWeight?: number;
  /** Encode each face with its mirror image and average their visual tokens (model/mirror.ts); default: the model
   * directory's `mirror`. */
  mirror?: boolean;
}

export interface ModelTimings {
  /** Face crops to encoder pixels. */
  preprocessMs: number;
  /** The visual path (encoder, projector, landmark branch), once per piece of media for all its questions. */
  encodeMs: number;
  /** Until the decoder has run the prompts: prompt embeddings and the decoder's pass over them. */
  prefillMs: number;
  /** The tokens: each chosen, and each but the first decoded by one decoder step (all answers stepped together). */
  generateMs: number;
  /** New tokens over all the answers. */
  tokens: number;
}

export async function answerQuestions(
  pretrained: Pretrained,
  questions: readonly Question[],
  options: AnswerOptions = {},
): Promise<{ generations: Generation[]; headReadings: (Record<string, number> | undefined)[]; timings: ModelTimings }> {
  const { model, tokenizer, generation } = pretrained;
  const start = performance.now();
  const media = [...new Set(questions.map((q) => q.media))];
  const withLandmarks = usesLandmarks(model.config);
  const tensors = await Promise.all(media.map((m) => mediaTensors(m, pretrained.preprocess, withLandmarks)));
  const preprocessed = performance.now();
  const visual = new Map<FaceMedia, HostTensor>();
  /** The pooled encoder features of each piece of media, where label heads will read them. */
  const pooled = new Map<FaceMedia, Float32Array>();
  const mirror = options.mirror ?? pretrained.config.mirror;
  const heads = options.labelRules === false || options.labelHeads === false ? undefined : pretrained.labelHeads;
  // A model with heads always has its encoder's graph average the tokens too (a ReduceMean beside the projector):
  // one compiled visual path serves every question, whichever task it asks.
  const wantPooled = pretrained.labelHeads !== undefined;
  for (const [i, { frames, landmarks }] of tensors.entries()) {
    const encoded = mirror
      ? await model.encode(withMirrored(frames), landmarks && withMirroredLandmarks(landmarks), { pooled: wantPooled })
      : await model.encode(frames, landmarks, { pooled: wantPooled });
    const tokens = mirror ? mirrorMean(encoded.visual, model.encoder.grid) : encoded.visual;
    visual.set(media[i], pretrained.config.video_tokens === 'frame_mean' ? frameMean(tokens) : tokens);
    // The mean over the frames and the mirror images: as the heads were fitted (train/label-heads.ts).
    if (encoded.pooled) pooled.set(media[i], meanRows(encoded.pooled));
  }
  // Each question's label head reading, where its task has a head and the media was pooled for it.
  const readings = questions.map((q) => {
    const head = q.task ? heads?.head(q.task) : undefined;
    const features = pooled.get(q.media);
    return head && features && heads ? { head, probabilities: heads.probabilities(q.task!, features)!, weight: options.headWeight ?? head.weight ?? heads.weight } : undefined;
  });
  const guideFor = (q: Question, i: number): DecodingGuide | undefined => (q.task ? labelGuide(q.task, tokenizer, { media: q.media.kind, head: readings[i] }) : undefined);
  const encoded = performance.now();
  let prefilled: number | undefined;
  const generations = await model.generate(
    questions.map((q): EncodedMediaRequest => {
      const tokens = visual.get(q.media)!;
      return { ids: promptIds(q.instruction, tokens.shape[0], tokenizer), visual: tokens };
    }),
    {
      tokenizer,
      maxNewTokens: options.maxNewTokens ?? generation.max_new_tokens,
      sampling: { temperature: generation.temperature, topK: generation.top_k, ...options.sampling },
      stopIds: options.stopIds,
      onText: options.onText,
      guides: options.labelRules === false ? undefined : questions.map(guideFor),
      onPrefilled: () => (prefilled = performance.now()),
    },
  );
  const end = performance.now();
  prefilled ??= end;
  return {
    generations,
    headReadings: readings.map((r) => r && Object.fromEntries(r.head.labels.map((label, c) => [label, r.probabilities[c]]))),
    timings: {
      preprocessMs: preprocessed - start,
      encodeMs: encoded - preprocessed,
      prefillMs: prefilled - encoded,
      generateMs: end - prefilled,
      tokens: generations.reduce((sum, g) => sum + g.ids.length, 0),
    },
  };
}

/** Visual tokens [F, N, d] averaged over the frames into [1, N, d] (video_tokens `frame_mean`); one frame as it is. */
export function frameMean(tokens: HostTensor): HostTensor {
  const [frames, n, d] = tokens.shape;
  if (frames === 1) return tokens;
  const data = tokens.data as Float32Array;
  const size = n * d;
  const mean = new Float32Array(size);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < size; i++) mean[i] += data[f * size + i];
  }
  for (let i = 0; i < size; i++) mean[i] /= frames;
  return f32([1, n, d], mean);
}
