// The LLM judge of the paper's filter (SPEC §4): an OpenAI-compatible vision model rates each sample 1–10 on
// label accuracy, description–media consistency, description–label consistency and overall quality. Samples
// whose mean rating falls under the threshold are dropped.
import { ChatClient, imagePart, textPart } from '../openai-client.js';
import { labelWords } from '../build/answers.js';
import type { MediaKind, Ratings, TaskLabel } from '../build/types.js';

export const RATING_KEYS = ['label_accuracy', 'media_consistency', 'label_consistency', 'overall'] as const satisfies readonly (keyof Ratings)[];

const SYSTEM =
  'You are a strict quality rater for an instruction-tuning dataset about faces. You compare a description of a face ' +
  'with the face itself and with its ground-truth label, and answer with JSON only.';

export interface JudgeRequest {
  readonly label: TaskLabel;
  readonly media: MediaKind;
  readonly description: string;
  readonly frames: readonly Buffer[];
}

export function judgePrompt(request: Omit<JudgeRequest, 'frames'>): string {
  const media = request.media;
  return [
    `Task: ${request.label.task}. Ground-truth label of this ${media}: ${labelWords(request.label)}.`,
    `Description to rate: """${request.description}"""`,
    'Rate each criterion from 1 (very poor) to 10 (excellent):',
    `- label_accuracy: does the face in the ${media} actually show the ground-truth label?`,
    `- media_consistency: is every statement of the description consistent with what the ${media} shows?`,
    '- label_consistency: is the description consistent with the ground-truth label, and does it state it?',
    '- overall: the quality of the description as an answer that explains the label from visible evidence.',
    'Reply with one JSON object and nothing else: {"label_accuracy": n, "media_consistency": n, "label_consistency": n, "overall": n}',
  ].join('\n');
}

/** The four ratings in a reply (a JSON object, possibly fenced or surrounded by text); null if they are not all there. */
export function parseRatings(reply: string): Ratings | null {
  const json = /\{[^{}]*\}/.exec(reply)?.[0];
  if (!json) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
  const ratings = {} as Ratings;
  for (const key of RATING_KEYS) {
    const value = Number(parsed[key]);
    if (!Number.isFinite(value) || value < 1 || value > 10) return null;
    ratings[key] = value;
  }
  return ratings;
}

export function meanRating(ratings: Ratings): number {
  return RATING_KEYS.reduce((sum, key) => sum + ratings[key], 0) / RATING_KEYS.length;
}

export class LlmJudge {
  readonly name: string;

  constructor(private readonly client: ChatClient) {
    this.name = `openai:${client.model}`;
  }

  /** The ratings, or null when the judge's reply holds no valid ratings (the sample is then dropped and counted). */
  async rate(request: JudgeRequest): Promise<Ratings | null> {
    const reply = await this.client.complete(
      [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: [...request.frames.map((frame) => imagePart(frame)), textPart(judgePrompt(request))] },
      ],
      { temperature: 0, maxTokens: 100, json: true },
    );
    return parseRatings(reply);
  }
}
