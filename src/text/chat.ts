// The Vicuna v1 conversation template of LLaVA / Video-LLaVA / Face-LLaVA (`conv_vicuna_v1`,
// SeparatorStyle.TWO) and the tokenization conventions of their training code (`tokenizer_image_token`,
// `preprocess_v1`), reproduced id for id so that checkpoints trained with them see the inputs they expect.
import type { Tokenizer } from './tokenizer.js';

/** The placeholder a prompt carries for one image (one video frame). */
export const IMAGE_TOKEN = '<image>';
/** Sentinel id that stands for one placeholder in token ids; the model splices a frame's visual tokens there. */
export const IMAGE_TOKEN_INDEX = -200;
/** Label of a position that does not count in the loss. */
export const IGNORE_INDEX = -100;

export interface ChatTemplate {
  readonly system: string;
  readonly roles: readonly [user: string, assistant: string];
  /** Closes the system prompt and each user message. */
  readonly sep: string;
  /** Closes each assistant message (and is the id the model stops at). */
  readonly sep2: string;
}

export const VICUNA_V1: ChatTemplate = {
  system:
    'A chat between a curious user and an artificial intelligence assistant. ' +
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
  roles: ['USER', 'ASSISTANT'],
  sep: ' ',
  sep2: '</s>',
};

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * A user message about `frames` images: the placeholders, a newline, then the instruction — an image is
 * `<image>\n…`, a video of 8 frames `<image>`×8 + `\n…`. Adjacent placeholders (separator '') are what
 * Face-LLaVA trained on (`<video>` → `<image>`×num_frames); its released inference.py joins the frames with
 * ' ', which puts a "▁▁" token between consecutive frames. Placeholders inside the instruction are removed,
 * so user text cannot open visual slots.
 */
export function withImages(instruction: string, frames: number, separator: '' | ' ' = ''): string {
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`frames must be a whole number ≥ 0, got ${frames}`);
  const text = instruction.replaceAll(IMAGE_TOKEN, '');
  return frames === 0 ? text : Array(frames).fill(IMAGE_TOKEN).join(separator) + '\n' + text;
}

/**
 * The prompt text (`Conversation.get_prompt`, SeparatorStyle.TWO):
 * `{system} USER: {u1} ASSISTANT: {a1}</s>USER: {u2} ASSISTANT:`. Turns alternate, starting with the user.
 * A conversation that ends with a user turn gets the open `ASSISTANT:` that generation continues from.
 */
export function renderPrompt(turns: readonly ChatTurn[], template: ChatTemplate = VICUNA_V1): string {
  if (turns.length === 0) throw new Error('a conversation needs at least one user turn');
  const [user, assistant] = template.roles;
  let prompt = template.system + template.sep;
  turns.forEach((turn, i) => {
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (turn.role !== expected) throw new Error(`turn ${i} must be from the ${expected}, got ${turn.role}`);
    prompt += turn.role === 'user' ? `${user}: ${turn.content}${template.sep}` : `${assistant}: ${turn.content}${template.sep2}`;
  });
  if (turns.length % 2 === 1) prompt += `${assistant}:`;
  return prompt;
}

/**
 * Token ids of a prompt with IMAGE_TOKEN_INDEX for each placeholder (LLaVA's `tokenizer_image_token`): the
 * text between placeholders is tokenized chunk by chunk, each chunk as a fresh text (so each gets its own
 * "▁" prefix — "USER: <image>\nWhat" becomes …, ":", "▁", -200, "▁", "<0x0A>", "What"…), and only the
 * first chunk keeps its beginning-of-sequence id.
 */
export function tokenizeWithImages(prompt: string, tokenizer: Tokenizer): number[] {
  const ids: number[] = [];
  prompt.split(IMAGE_TOKEN).forEach((chunk, i) => {
    if (i > 0) ids.push(IMAGE_TOKEN_INDEX);
    ids.push(...tokenizer.encode(chunk, { bos: i === 0 }));
  });
  return ids;
}

/** Ids to generate from: the conversation so far, ending with a user turn, then `ASSISTANT:`. */
export function encodePrompt(turns: readonly ChatTurn[], tokenizer: Tokenizer, template: ChatTemplate = VICUNA_V1): number[] {
  if (turns.length % 2 === 0) throw new Error('a generation prompt must end with a user turn');
  return tokenizeWithImages(renderPrompt(turns, template), tokenizer);
}

export interface TrainingExample {
  inputIds: number[];
  /** inputIds on the assistant answers (their closing `</s>` included), IGNORE_INDEX elsewhere. */
  labels: number[];
  /**
   * The round arithmetic below did not land on the end of inputIds; as in LLaVA, every label is then
   * IGNORE_INDEX (LLaVA prints "tokenization mismatch" and trains on nothing from the sample).
   */
  mismatch: boolean;
}

/**
 * A complete conversation (ending with an assistant turn) as training ids and labels, LLaVA's `preprocess_v1`.
 * The mask is computed the way LLaVA computes it — from token counts of separately tokenized pieces, not by
 * aligning strings — because that is what decided which positions the released checkpoints learned from:
 * - position 0 (the beginning-of-sequence id) is masked, and counting starts at 1;
 * - the text is split at `</s>` into rounds "…USER: {u} ASSISTANT: {a}"; a round alone tokenizes to its
 *   tokens plus a beginning-of-sequence id, one more than the round has, which stands in for the `</s>`
 *   the split removed — so each round advances by exactly the tokens of "round + </s>";
 * - the instruction part "…USER: {u} ASSISTANT: " alone tokenizes with a beginning-of-sequence id and a
 *   final lone "▁" for its trailing space (in the whole text that space belongs to the answer's first
 *   piece, "▁The"), hence its length − 2 positions are masked. The answer and its `</s>` stay as labels;
 *   an answer starting with a digit or a space keeps the lone "▁" as a label too (LLaMA splits digits).
 * The arithmetic relies on the legacy tokenization of text after `</s>` ("</s>USER" → [2, "▁US", "ER"]),
 * which `Tokenizer.encode` follows; LLaVA's `tokenizer.legacy` correction does not apply.
 */
export function tokenizeConversation(
  turns: readonly ChatTurn[],
  tokenizer: Tokenizer,
  template: ChatTemplate = VICUNA_V1,
): TrainingExample {
  if (turns.length % 2 === 1) throw new Error('a training conversation must end with an assistant turn');
  const prompt = renderPrompt(turns, template);
  const inputIds = tokenizeWithImages(prompt, tokenizer);
  const labels = inputIds.slice();
  const answerStart = template.sep + template.roles[1] + ': ';

  let position = 1;
  labels[0] = IGNORE_INDEX;
  for (const round of prompt.split(template.sep2)) {
    if (round === '') break;
    const parts = round.split(answerStart);
    if (parts.length !== 2) break; // an answer or instruction containing " ASSISTANT: " ends the masking
    const roundLength = tokenizeWithImages(round, tokenizer).length;
    const instructionLength = tokenizeWithImages(parts[0] + answerStart, tokenizer).length - 2;
    labels.fill(IGNORE_INDEX, position, position + instructionLength);
    position += roundLength;
  }
  labels.fill(IGNORE_INDEX, position);

  const mismatch = position !== inputIds.length;
  if (mismatch) labels.fill(IGNORE_INDEX);
  return { inputIds, labels, mismatch };
}
