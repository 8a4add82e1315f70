// The paper's rating of reasoning (SPEC §1): a judge LLM behind any OpenAI-compatible endpoint sees the face, the
// ground-truth label and the model's answer, and rates the answer 1–10 on consistency with the media, consistency
// with the label, and completeness. The reply must be one JSON object with exactly those three integers; a reply
// that is not is asked again (with what was wrong), and after the last attempt counted as malformed, never fatal.
import sharp from 'sharp';
import { z } from 'zod';
import { labelWords } from '../data/build/answers.js';
import type { TaskLabel } from '../data/build/types.js';
import { ChatClient, imagePart, textPart, type ChatMessage } from '../data/openai-client.js';
import type { RgbImage } from '../face/rgb.js';

export const REASONING_CRITERIA = ['media_consistency', 'label_consistency', 'completeness'] as const;
export type ReasoningCriterion = (typeof REASONING_CRITERIA)[number];
export type ReasoningRatings = Record<ReasoningCriterion, number>;

const rating = z.number().int().min(1).max(10);
const RatingsSchema = z.strictObject({ media_consistency: rating, label_consistency: rating, completeness: rating });

const TASK_NAMES: Readonly<Record<TaskLabel['task'], string>> = {
  expression: 'facial expression recognition',
  au: 'facial action unit detection',
  attributes: 'facial attribute detection',
  age: 'age estimation',
  deepfake: 'deepfake detection',
};

const SYSTEM =
  'You are an expert in facial behaviour analysis who grades the answers of a face analysis assistant. ' +
  'You judge the reasoning of an answer against the face and its ground-truth label, and reply with JSON only.';

export interface JudgeRequest {
  readonly label: TaskLabel;
  readonly media: 'image' | 'video';
  /** The question the model was asked. */
  readonly instruction: string;
  readonly answer: string;
  /** The face crops the model saw (an image is one frame). */
  readonly frames: readonly RgbImage[];
}

export function reasoningPrompt(request: Omit<JudgeRequest, 'frames'>): string {
  const { media } = request;
  return [
    `Task: ${TASK_NAMES[request.label.task]}. The assistant was shown the ${media} and asked: "${request.instruction}"`,
    `Ground-truth label of this ${media}: ${labelWords(request.label)}.`,
    `The assistant's answer: """${request.answer}"""`,
    'Rate the reasoning of the answer on three criteria, each an integer from 1 (very poor) to 10 (excellent):',
    `- media_consistency: is the reasoning consistent with what the ${media} shows? Penalise details that are not there.`,
    '- label_consistency: is the reasoning consistent with the ground-truth label? Reasoning towards another label scores low.',
    '- completeness: does the reasoning give enough visible evidence to fully support the label?',
    'Reply with exactly one JSON object and nothing else: {"media_consistency": <1-10>, "label_consistency": <1-10>, "completeness": <1-10>}',
  ].join('\n');
}

/**
 * The ratings in a reply, or why there are none. Strict: the reply is one JSON object (a Markdown code fence around
 * it is tolerated, as chat models add one unasked) holding exactly the three criteria as integers from 1 to 10.
 */
export function parseReasoningRatings(reply: string): { ratings: ReasoningRatings } | { reason: string } {
  const text = reply.trim();
  const body = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(text)?.[1] ?? text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { reason: `not a JSON object: ${JSON.stringify(text.slice(0, 120))}` };
  }
  const parsed = RatingsSchema.safeParse(json);
  if (parsed.success) return { ratings: parsed.data };
  return { reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'reply'}: ${i.message}`).join('; ') };
}

export type JudgeOutcome =
  | { ok: true; ratings: ReasoningRatings; attempts: number }
  /** `malformed`: no valid ratings in any reply; `failed`: no reply (the endpoint failed after the client's retries). */
  | { ok: false; error: 'malformed' | 'failed'; reason: string; attempts: number };

export interface JudgeOptions {
  /** Requests per answer before a malformed reply counts as such (default 3). */
  attempts?: number;
  /** Answers rated at once (default 4). */
  concurrency?: number;
}

/** A small counting semaphore: at most `n` tasks run at once, the rest wait in order. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

async function jpeg(frame: RgbImage): Promise<Buffer> {
  return sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export class ReasoningJudge {
  private readonly attempts: number;
  private readonly limit: <T>(task: () => Promise<T>) => Promise<T>;

  constructor(
    private readonly client: ChatClient,
    options: JudgeOptions = {},
  ) {
    this.attempts = options.attempts ?? 3;
    this.limit = limiter(options.concurrency ?? 4);
  }

  get model(): string {
    return this.client.model;
  }

  /** Rates one answer. Never rejects: a bad reply or a failed request is an outcome (see JudgeOutcome). */
  async rate(request: JudgeRequest): Promise<JudgeOutcome> {
    let images: Buffer[];
    try {
      // Encoded now, so that answers waiting for a slot hold a few kB of JPEG rather than raw crops.
      images = await Promise.all(request.frames.map(jpeg));
    } catch (err) {
      return { ok: false, error: 'failed', reason: `cannot encode the frames: ${(err as Error).message}`, attempts: 0 };
    }
    return this.limit(() => this.ask(request, images));
  }

  private async ask(request: JudgeRequest, images: readonly Buffer[]): Promise<JudgeOutcome> {
    const messages: ChatMessage[] = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: [...images.map((image) => imagePart(image)), textPart(reasoningPrompt(request))] },
    ];
    let reason = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      let reply: string;
      try {
        reply = await this.client.complete(messages, { temperature: 0, maxTokens: 100, json: true });
      } catch (err) {
        return { ok: false, error: 'failed', reason: (err as Error).message, attempts: attempt };
      }
      const parsed = parseReasoningRatings(reply);
      if ('ratings' in parsed) return { ok: true, ratings: parsed.ratings, attempts: attempt };
      reason = parsed.reason;
      // Ask again with the faulty reply and what is wrong with it: a retry of the same request tends to repeat it.
      messages.push(
        { role: 'assistant', content: reply },
        { role: 'user', content: `That reply is not valid (${reason}). Reply with the JSON object only.` },
      );
    }
    return { ok: false, error: 'malformed', reason, attempts: this.attempts };
  }
}

export interface JudgeSummary {
  model: string;
  rated: number;
  malformed: number;
  failed: number;
  /** Mean rating per criterion over the rated answers; null when none was rated. */
  mean: Record<ReasoningCriterion, number> | null;
}

export function summarizeJudgements(model: string, outcomes: readonly JudgeOutcome[]): JudgeSummary {
  const rated = outcomes.flatMap((o) => (o.ok ? [o.ratings] : []));
  const mean =
    rated.length === 0
      ? null
      : (Object.fromEntries(REASONING_CRITERIA.map((c) => [c, rated.reduce((sum, r) => sum + r[c], 0) / rated.length])) as Record<ReasoningCriterion, number>);
  return {
    model,
    rated: rated.length,
    malformed: outcomes.filter((o) => !o.ok && o.error === 'malformed').length,
    failed: outcomes.filter((o) => !o.ok && o.error === 'failed').length,
    mean,
  };
}
