import { describe, expect, it } from 'vitest';
import {
  encodePrompt,
  IGNORE_INDEX,
  IMAGE_TOKEN_INDEX,
  renderPrompt,
  tokenizeConversation,
  tokenizeWithImages,
  VICUNA_V1,
  withImages,
  type ChatTurn,
} from '../src/text/chat.js';
import { llamaTokenizer } from '../src/text/tokenizer.js';

const tokenizer = llamaTokenizer();
const SYSTEM =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

/** The labels that are not IGNORE_INDEX. */
const learned = (labels: readonly number[]) => labels.filter((label) => label !== IGNORE_INDEX);

describe('Vicuna v1 prompt text', () => {
  it('renders one turn with an image for training, the answer closed by </s>', () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: withImages('What is the expression?', 1) },
      { role: 'assistant', content: 'The person looks happy.' },
    ];
    expect(VICUNA_V1.system).toBe(SYSTEM);
    expect(renderPrompt(turns)).toBe(`${SYSTEM} USER: <image>\nWhat is the expression? ASSISTANT: The person looks happy.</s>`);
  });

  it('ends a generation prompt with "ASSISTANT:", and lays out several turns', () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Age?' },
    ];
    expect(renderPrompt(turns)).toBe(`${SYSTEM} USER: Hi ASSISTANT: Hello.</s>USER: Age? ASSISTANT:`);
  });

  it('puts one placeholder per video frame before the instruction', () => {
    expect(withImages('Why?', 8)).toBe('<image>'.repeat(8) + '\nWhy?');
    expect(withImages('Why?', 3, ' ')).toBe('<image> <image> <image>\nWhy?');
    expect(withImages('Why?', 0)).toBe('Why?');
    expect(withImages('no <image> smuggling', 1)).toBe('<image>\nno  smuggling');
    expect(() => withImages('x', -1)).toThrow(RangeError);
  });

  it('rejects conversations that do not alternate from the user', () => {
    expect(() => renderPrompt([])).toThrow();
    expect(() => renderPrompt([{ role: 'assistant', content: 'x' }])).toThrow(/turn 0/);
    expect(() => renderPrompt([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }])).toThrow(/turn 1/);
  });
});

describe('prompt ids (tokenizer_image_token)', () => {
  it('reproduces LLaVA ids around the image placeholder', () => {
    const ids = encodePrompt([{ role: 'user', content: withImages('What is the expression?', 1) }], tokenizer);
    // "<s> A chat between a curious user and an artificial intelligence assistant."
    expect(ids.slice(0, 13)).toEqual([1, 319, 13563, 1546, 263, 12758, 1404, 322, 385, 23116, 21082, 20255, 29889]);
    // "… questions. USER: " | <image> | "\nWhat is …": each chunk gets its own "▁" (29871).
    const image = ids.indexOf(IMAGE_TOKEN_INDEX);
    expect(ids.slice(image - 5, image + 4)).toEqual([29889, 3148, 1001, 29901, 29871, IMAGE_TOKEN_INDEX, 29871, 13, 5618]);
    // … "ASSISTANT:"
    expect(ids.slice(-5)).toEqual([319, 1799, 9047, 13566, 29901]);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
  });

  it('places the frames of a video side by side', () => {
    // The empty chunks before and between placeholders tokenize to nothing (the first to its "<s>" only).
    const ids = tokenizeWithImages(withImages('Why?', 8), tokenizer);
    expect(ids.slice(0, 11)).toEqual([1, ...Array(8).fill(IMAGE_TOKEN_INDEX), 29871, 13]);
    // Frames joined by spaces (the released inference script) get a "▁▁" between them.
    const spaced = tokenizeWithImages(withImages('Why?', 2, ' '), tokenizer);
    expect(spaced.slice(0, 6)).toEqual([1, IMAGE_TOKEN_INDEX, 259, IMAGE_TOKEN_INDEX, 29871, 13]);
  });

  it('refuses to build a generation prompt after an assistant turn', () => {
    expect(() => encodePrompt([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], tokenizer)).toThrow();
  });
});

describe('training labels (preprocess_v1)', () => {
  it('learns the answer and its </s> only', () => {
    const answer = 'The person looks happy, with raised cheeks.';
    const { inputIds, labels, mismatch } = tokenizeConversation(
      [
        { role: 'user', content: withImages('What is the expression?', 8) },
        { role: 'assistant', content: answer },
      ],
      tokenizer,
    );
    expect(mismatch).toBe(false);
    expect(labels).toHaveLength(inputIds.length);
    const answerIds = [...tokenizer.encode(answer, { bos: false }), tokenizer.eosId];
    expect(learned(labels)).toEqual(answerIds);
    // The learned positions are the last ones, and each label is the input id at its position.
    const first = labels.findIndex((label) => label !== IGNORE_INDEX);
    expect(first).toBe(inputIds.length - answerIds.length);
    expect(labels.slice(first)).toEqual(inputIds.slice(first));
    // The token before the answer is ":" of "ASSISTANT:", and no image slot is learned.
    expect(inputIds[first - 1]).toBe(29901);
    expect(labels.filter((label) => label === IMAGE_TOKEN_INDEX)).toEqual([]);
  });

  it('learns every answer of a multi-turn conversation', () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: withImages('How old is the person?', 1) },
      { role: 'assistant', content: 'About thirty.' },
      { role: 'user', content: 'Why?' },
      { role: 'assistant', content: 'Smooth skin 😀 and no grey hair.' },
    ];
    const { inputIds, labels, mismatch } = tokenizeConversation(turns, tokenizer);
    expect(mismatch).toBe(false);
    const expected = ['About thirty.', 'Smooth skin 😀 and no grey hair.'].flatMap((answer) => [
      ...tokenizer.encode(answer, { bos: false }),
      tokenizer.eosId,
    ]);
    expect(learned(labels)).toEqual(expected);
    labels.forEach((label, i) => {
      if (label !== IGNORE_INDEX) expect(label).toBe(inputIds[i]);
    });
    // The second user turn ("USER: Why? ASSISTANT:") is masked: it starts right after the first </s>.
    const firstEos = inputIds.indexOf(tokenizer.eosId);
    expect(labels[firstEos]).toBe(tokenizer.eosId);
    expect(inputIds.slice(firstEos + 1, firstEos + 3)).toEqual([3148, 1001]);
    expect(labels.slice(firstEos + 1, firstEos + 3)).toEqual([IGNORE_INDEX, IGNORE_INDEX]);
  });

  it('keeps the lone "▁" before an answer that starts with a digit, as LLaVA does', () => {
    const { inputIds, labels } = tokenizeConversation(
      [
        { role: 'user', content: 'Age?' },
        { role: 'assistant', content: '25 years.' },
      ],
      tokenizer,
    );
    expect(learned(labels).map((id) => tokenizer.tokenToString(id))).toEqual(['▁', '2', '5', '▁years', '.', '</s>']);
    expect(inputIds[inputIds.length - 7]).toBe(29901); // ":"
  });

  it('masks everything when the rounds do not add up, as LLaVA does', () => {
    // A "</s>" inside a user message splits the text into rounds that no longer match the ids.
    const { labels, mismatch } = tokenizeConversation(
      [
        { role: 'user', content: 'hi</s>there' },
        { role: 'assistant', content: 'Hello.' },
      ],
      tokenizer,
    );
    expect(mismatch).toBe(true);
    expect(learned(labels)).toEqual([]);
  });

  it('refuses a conversation that does not end with an answer', () => {
    expect(() => tokenizeConversation([{ role: 'user', content: 'a' }], tokenizer)).toThrow();
  });
});
